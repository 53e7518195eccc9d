"""The workers tabloop sends work to: checked and set up (imported with Dask only).

A model pickled here loads on a worker only where the same libraries are installed, and a
different scikit-learn or LightGBM may load it and predict differently; so a worker that
lacks one, or has another version, is named before any work is sent. Each worker's
libraries then use the worker's threads, no more (:class:`WorkerThreads`).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from distributed import WorkerPlugin

from tabloop.exceptions import ClusterError

#: Packages the workers need at this process's versions (tabloop and the model's
#: libraries); each is one or more distributions that install the same module.
NEEDED = (
    ("tabloop",),
    ("scikit-learn",),
    ("lightgbm",),
    ("xgboost", "xgboost-cpu"),
    ("catboost",),
    ("numpy",),
    ("pandas",),
    ("pyarrow",),
)


def local_versions() -> dict[tuple[str, ...], str]:
    """The installed version of each of :data:`NEEDED` here (absent ones left out)."""
    found: dict[tuple[str, ...], str] = {}
    for names in NEEDED:
        for name in names:
            try:
                found[names] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def check_workers(client: Any) -> None:
    """:class:`ClusterError` naming each worker that lacks a needed distribution or has
    another version of it than this process."""
    problems: list[str] = []
    for names, version in local_versions().items():
        # importlib.metadata.version pickles by reference to the standard library, so the
        # check itself runs on a worker that has no tabloop
        answers: dict[str, Any] = {}
        for name in names:
            for worker, answer in client.run(
                importlib.metadata.version, name, on_error="return"
            ).items():
                if not isinstance(answers.get(worker), str):
                    answers[worker] = answer
        name = names[0]
        for worker, answer in sorted(answers.items()):
            if not isinstance(answer, str):
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


class WorkerThreads(WorkerPlugin):
    """Arrow's thread pool sized to the worker's threads, on every worker that joins.

    Dask sets ``OMP_NUM_THREADS`` (so NumPy, LightGBM, XGBoost and, through
    ``tabloop._settings.batch_threads``, CatBoost use one thread per worker thread) but not
    Arrow's pool, which reads and writes Parquet on every core: N one-thread workers on N
    cores would then each run on all of them, fighting over the cores.
    """

    name = "tabloop-worker-threads"

    def setup(self, worker: Any) -> None:
        import pyarrow

        pyarrow.set_cpu_count(max(1, int(worker.state.nthreads)))
