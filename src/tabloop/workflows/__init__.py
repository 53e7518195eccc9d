"""Workflows that chain stages: ``tabloop init`` (data -> config file) and ``tabloop train``
(train -> evaluate -> register).

They sit above the stages they chain (STYLE.md habit 16), and below ``retrain``, which reuses
:func:`train_and_register` for the challenger, and the demo and the CLI, which call them.
"""

from tabloop.workflows._init import init_project
from tabloop.workflows._train import (
    TrainRun,
    failure_line,
    summary_lines,
    summary_sections,
    train_and_register,
    warning_lines,
)

__all__ = [
    "TrainRun",
    "failure_line",
    "init_project",
    "summary_lines",
    "summary_sections",
    "train_and_register",
    "warning_lines",
]
