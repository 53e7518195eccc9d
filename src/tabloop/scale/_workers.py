"""Check that every worker can run tabloop's work: same tabloop, same model libraries.

A model pickled here loads on a worker only where the same libraries are installed, and a
different scikit-learn or LightGBM may load it and predict differently; so a worker that
lacks one, or has another version, is named before any work is sent.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from tabloop.exceptions import ClusterError

#: Distributions the workers need at this process's versions (the model's libraries).
NEEDED = (
    "tabloop",
    "scikit-learn",
    "lightgbm",
    "xgboost-cpu",
    "xgboost",
    "catboost",
    "numpy",
    "pandas",
    "pyarrow",
)


def local_versions() -> dict[str, str]:
    """The installed version of each of :data:`NEEDED` here (absent ones left out)."""
    found = {}
    for name in NEEDED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def check_workers(client: Any) -> None:
    """:class:`ClusterError` naming each worker that lacks a needed distribution or has
    another version of it than this process."""
    problems: list[str] = []
    for name, version in local_versions().items():
        # importlib.metadata.version pickles by reference to the standard library, so the
        # check itself runs on a worker that has no tabloop
        answers = client.run(importlib.metadata.version, name, on_error="return")
        for worker, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                problems.append(f"worker {worker} lacks {name} (this process has {version})")
            elif answer != version:
                problems.append(f"worker {worker} has {name} {answer}, this process {version}")
    if problems:
        shown = "; ".join(problems[:6]) + (f"; +{len(problems) - 6} more" if problems[6:] else "")
        raise ClusterError(
            f"The cluster's workers cannot run this work: {shown}. Install the same "
            "versions on every worker (e.g. pip install 'tabloop[scale]' in the workers' "
            "environment)."
        )
