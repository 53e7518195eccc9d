"""Runners: ``map`` a function over items here or on Dask workers, results in order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tabloop.exceptions import ClusterError, MissingDependencyError

if TYPE_CHECKING:
    from tabloop.scale._address import ClusterAddress

T = TypeVar("T")
R = TypeVar("R")

#: How long to wait for a scheduler to answer, and for a connected one to have a worker.
CONNECT_SECONDS = 20
WORKER_WAIT_SECONDS = 60


class Runner(Protocol):
    """Where work runs. ``map(func, items, **constants)`` calls ``func(item, **constants)``
    for every item and returns the results in input order; the first error stops the rest
    and is raised as the task raised it. ``share(obj)`` returns what to pass as a constant
    so a big object (a model) travels to each worker once, not once per item."""

    @property
    def workers(self) -> int: ...

    @property
    def threads_per_worker(self) -> int:
        """Threads each worker runs tasks on; 0: this process, the caller decides."""

    @property
    def address(self) -> str | None:
        """The cluster's address (``local:N`` or the scheduler's); None: this process."""

    def map(
        self, func: Callable[..., R], items: Sequence[Any], *, description: str, **constants: Any
    ) -> list[R]: ...

    def share(self, obj: Any) -> Any: ...


class InProcess:
    """Work in this process, one item after another (the default: no Dask import)."""

    workers = 1
    threads_per_worker = 0
    address: str | None = None

    def map(
        self, func: Callable[..., R], items: Sequence[Any], *, description: str, **constants: Any
    ) -> list[R]:
        from tabloop._progress import track

        return [func(item, **constants) for item in track(items, description, total=len(items))]

    def share(self, obj: Any) -> Any:
        return obj


class DaskRunner:
    """Work on the workers of a ``distributed.Client``: one task per item."""

    def __init__(self, client: Any, address: str) -> None:
        self.client = client
        self.address: str | None = address
        info = client.scheduler_info(n_workers=-1)["workers"]
        self.workers = len(info)
        self.threads_per_worker = min((w.get("nthreads", 1) for w in info.values()), default=1)

    def share(self, obj: Any) -> Any:
        # a task that returns ``obj``, not ``client.scatter``: scattered data lives only on
        # workers and dies with them, while a task's result is computed again when the
        # worker that held it is lost. Each worker that runs a task fetches it once.
        import dask

        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GB"}):
            return self.client.submit(_same, obj, pure=False)

    def map(
        self, func: Callable[..., R], items: Sequence[Any], *, description: str, **constants: Any
    ) -> list[R]:
        from concurrent.futures import CancelledError

        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        from tabloop._progress import track

        futures = self.client.map(func, list(items), pure=False, **constants)
        position = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        try:
            for future in track(as_completed(futures), description, total=len(futures)):
                if future.status == "error":
                    raise future.exception()
                results[position[future.key]] = future.result()
        except KilledWorker as exc:
            raise ClusterError(
                f"Workers of {self.address} died while running {description!r} "
                f"({exc}); Dask retried the task on other workers and gave up. Check the "
                "workers' memory (each needs the model plus one piece) and logs."
            ) from None
        except CancelledError:
            raise ClusterError(
                f"Dask cancelled {description!r} on {self.address}: a task's input was lost "
                "with its worker, or the scheduler restarted."
            ) from None
        except OSError as exc:  # the scheduler went away
            raise ClusterError(f"Lost the Dask scheduler at {self.address}: {exc}") from None
        finally:
            self.client.cancel(futures)
        return results


def _same(obj: T) -> T:
    return obj


@contextmanager
def open_runner(address: ClusterAddress | None) -> Iterator[Runner]:
    """A runner for ``address`` (see :func:`~tabloop.scale.cluster_address`), closed (and a
    ``local:N`` cluster stopped) on exit. Connecting checks that every worker has this
    process's tabloop and model libraries (:class:`ClusterError` names what lacks)."""
    if address is None:
        yield InProcess()
        return
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            f"Running on a cluster ({address.text}) needs Dask distributed: "
            "pip install 'tabloop[scale]'."
        ) from None
    from tabloop.scale._workers import check_workers

    cluster = None
    try:
        if address.is_local:
            cluster = distributed.LocalCluster(
                n_workers=address.local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            client = _connect(distributed, address.text)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        _wait_for_workers(client, address.text)
        check_workers(client)
        yield DaskRunner(client, address.text)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(distributed: Any, address: str) -> Any:
    try:
        return distributed.Client(address, timeout=f"{CONNECT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(
            f"Cannot reach a Dask scheduler at {address!r} ({reason}). Start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or check --cluster, "
            "scale.cluster and TABLOOP_CLUSTER."
        ) from None


def _wait_for_workers(client: Any, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise ClusterError(
            f"The Dask scheduler at {address!r} has no workers after {WORKER_WAIT_SECONDS} s; "
            f"start some with `dask worker {address}`."
        ) from None
