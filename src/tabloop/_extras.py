"""The optional extras: which library each one brings, and the error when one is missing.

A base ``pip install tabloop`` trains linear models, random forests and LightGBM; the
heavier libraries that only some projects use are extras (pyproject ``optional-dependencies``)::

    extra        library            used for
    catboost     catboost           train.models: [catboost]
    xgboost      xgboost            train.models: [xgboost]
    optuna       optuna             train.trials > 0 (``tuning`` is the same extra)
    imbalanced   imbalanced-learn   train.imbalance: smote
    fairness     fairlearn          evaluate.fairness.mitigate

:func:`installed` answers without importing (``importlib.util.find_spec``: cheap enough to
run while a config loads); :func:`require` imports at the place the library is used and turns
an ``ImportError`` into :class:`~tabloop.exceptions.MissingDependencyError` naming the
``pip install`` command. ``tabloop.config.check_extras`` applies both to a project file
before training starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from tabloop.exceptions import MissingDependencyError

__all__ = [
    "EXTRAS",
    "Extra",
    "install_command",
    "installed",
    "missing_extra",
    "missing_message",
    "require",
]


@dataclass(frozen=True)
class Extra:
    """One optional extra: its name in ``tabloop[NAME]``, the module it makes importable and
    the distribution on PyPI that provides it."""

    name: str
    module: str
    distribution: str


#: Extra name -> what it installs.
EXTRAS: dict[str, Extra] = {
    extra.name: extra
    for extra in (
        Extra("catboost", "catboost", "catboost"),
        Extra("xgboost", "xgboost", "xgboost"),
        Extra("optuna", "optuna", "optuna"),
        Extra("imbalanced", "imblearn", "imbalanced-learn"),
        Extra("fairness", "fairlearn", "fairlearn"),
    )
}


def installed(extra: str) -> bool:
    """Whether the library of ``extra`` can be imported here (found, not imported)."""
    module = EXTRAS[extra].module
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken half-import in sys.modules
        return False


def install_command(extra: str) -> str:
    """The shell command that installs ``extra``, quoted for every shell."""
    return f"pip install 'tabloop[{extra}]'"


def require(extra: str, purpose: str, module: str | None = None) -> ModuleType:
    """Import ``module`` (default: the extra's top module) for ``purpose``, or raise
    :class:`MissingDependencyError` with the command that installs it.

    Examples
    --------
    >>> require("optuna", "train.trials").__name__  # doctest: +SKIP
    'optuna'
    """
    spec = EXTRAS[extra]
    try:
        return importlib.import_module(module or spec.module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != spec.module:
            raise  # the library is there but one of its own imports failed: show that
        raise MissingDependencyError(missing_message(extra, purpose)) from None


def missing_extra(error: ImportError, purpose: str) -> MissingDependencyError | None:
    """The :class:`MissingDependencyError` for an ``ImportError`` raised deep inside a library
    call (unpickling a model that needs CatBoost), or None when the missing module belongs to
    no extra (a team's own model module, a broken install): then the original error says more.
    """
    top = (error.name or "").split(".")[0]
    extra = next((e.name for e in EXTRAS.values() if e.module == top), None)
    return None if extra is None else MissingDependencyError(missing_message(extra, purpose))


def missing_message(extra: str, purpose: str) -> str:
    """One line: what needs the library, that it is not installed, how to install it."""
    spec = EXTRAS[extra]
    return f"{purpose} needs {spec.distribution}, which is not installed: {install_command(extra)}."
