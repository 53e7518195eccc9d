"""Runners: ``map`` a function over items here or on Dask workers, results in order."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tabloop.exceptions import ClusterError, MissingDependencyError, TabloopError

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
    def address(self) -> str | None:
        """The cluster's address (``local:N`` or the scheduler's); None: this process."""

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        description: str | None,
        **constants: Any,
    ) -> list[R]:
        """``description`` names the work in errors and on the progress bar (None: no
        bar, for a caller that draws its own)."""

    def map_reduce(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        merge: Callable[[R, R], R],
        *,
        description: str | None,
        **constants: Any,
    ) -> R:
        """``func`` over the items, the results merged two at a time with ``merge`` (which
        must be associative and commutative: the order of merges is not fixed) as they come,
        so no more than a few results are held at once (in this process ``items`` are taken
        lazily, one at a time); returns the single merged result."""

    def share(self, obj: Any) -> Any: ...


class InProcess:
    """Work in this process, one item after another (the default: no Dask import)."""

    workers = 1
    address: str | None = None

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        description: str | None,
        **constants: Any,
    ) -> list[R]:
        shown = _progress(items, description)
        return [func(item, **constants) for item in shown]

    def map_reduce(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        merge: Callable[[R, R], R],
        *,
        description: str | None,
        **constants: Any,
    ) -> R:
        results = (func(item, **constants) for item in _progress(items, description))
        return functools.reduce(merge, results)

    def share(self, obj: Any) -> Any:
        return obj


class DaskRunner:
    """Work on the workers of a ``distributed.Client``: one task per item."""

    def __init__(self, client: Any, address: str) -> None:
        self.client = client
        self.address: str | None = address
        self.workers = len(client.scheduler_info(n_workers=-1)["workers"])

    def share(self, obj: Any) -> Any:
        # a task that returns ``obj``, not ``client.scatter``: scattered data lives only on
        # workers and dies with them, while a task's result is computed again when the
        # worker that held it is lost. Each worker that runs a task fetches it once.
        import dask

        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GB"}):
            return self.client.submit(_same, obj, pure=False)

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        description: str | None,
        **constants: Any,
    ) -> list[R]:
        from distributed import as_completed

        futures = self.client.map(func, list(items), pure=False, **constants)
        position = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        with self._failures(futures, description) as check:
            for future in _progress(as_completed(futures), description, total=len(futures)):
                check(future)
                results[position[future.key]] = future.result()
        return results

    def map_reduce(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        merge: Callable[[R, R], R],
        *,
        description: str | None,
        **constants: Any,
    ) -> R:
        from distributed import as_completed

        futures = self.client.map(func, list(items), pure=False, **constants)
        if not futures:
            raise ValueError("map_reduce needs at least one item")
        waiting = None
        done = as_completed(futures)
        total = 2 * len(futures) - 1
        with self._failures(futures, description) as check:
            # a finished result waits for the next one; the two merge on a worker, and the
            # merge's result joins the finished ones: n results, n - 1 merges, one left.
            # Only futures not merged yet are held: Dask frees a result once merged.
            for future in _progress(done, description, total=total):
                check(future)
                if waiting is None:
                    waiting = future
                    continue
                merged = self.client.submit(merge, waiting, future, pure=False)
                futures.remove(waiting)
                futures.remove(future)
                futures.append(merged)
                done.add(merged)
                waiting = merged = future = None
            assert waiting is not None
            return waiting.result()  # type: ignore[no-any-return]

    @contextmanager
    def _failures(self, futures: list[Any], description: str | None) -> Iterator[Any]:
        """Yields ``check(future)``, which raises a failed task's error; turns a lost
        scheduler or cancelled work into :class:`ClusterError`; cancels ``futures`` (a list
        the caller may extend) on the way out."""
        from concurrent.futures import CancelledError

        def check(future: Any) -> None:
            if future.status == "error":
                failure = future.exception()
                raise _task_error(failure, description, self.address) from failure

        try:
            yield check
        except CancelledError:
            raise ClusterError(
                f"Dask cancelled {_what(description)} on {self.address}: a task's input was lost "
                "with its worker, or the scheduler restarted. Run the command again."
            ) from None
        except OSError as exc:  # the connection to the scheduler, not a task's error
            if isinstance(exc, TabloopError):
                raise  # a task's (a data file it could not read), raised by check
            raise ClusterError(
                f"Lost the Dask scheduler at {self.address} during {_what(description)} ({exc}); "
                "check that it still runs, then run the command again."
            ) from None
        finally:
            self.client.cancel(futures)


def _what(description: str | None) -> str:
    return repr(description) if description else "the work"


def _progress(items: Any, description: str | None, total: int | None = None) -> Any:
    from tabloop._progress import track

    if description is None:
        return items
    if total is None and isinstance(items, Sized):
        total = len(items)
    return track(items, description, total=total)


def _task_error(
    error: BaseException, description: str | None, address: str | None
) -> BaseException:
    """What a task's error becomes for the caller: tabloop's own errors as they are (they
    name the file, row and column), a worker lost too often or anything else as a
    :class:`ClusterError` that says what workers need."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, TabloopError):
        return error
    if isinstance(error, KilledWorker):
        return ClusterError(
            f"Workers of {address} died while running {_what(description)} ({error}); Dask ran "
            "the task again on other workers and gave up. Check the workers' memory (each "
            "needs the model plus one piece) and their logs."
        )
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return ClusterError(
        f"A task of {_what(description)} failed on a worker of {address}: "
        f"{type(error).__name__}: {text}. Workers must reach the input files and the "
        "output's folder at the same paths as this machine (a shared file system or "
        "object storage)."
    )


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
    from tabloop.scale._workers import WorkerThreads, check_workers

    cluster = None
    try:
        if address.is_local:
            cluster = distributed.LocalCluster(
                n_workers=address.local_workers,
                threads_per_worker=1,
                processes=True,
                # the scheduler's HTTP server binds here even without a dashboard: any
                # free port, so a run never fights another cluster for 8787
                dashboard_address="127.0.0.1:0",
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
        client.register_plugin(WorkerThreads())
        yield DaskRunner(client, address.text)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(distributed: Any, address: str) -> Any:
    import warnings

    from distributed.versions import VersionMismatchWarning

    try:
        with warnings.catch_warnings():  # check_workers names the mismatch in one line
            warnings.simplefilter("ignore", VersionMismatchWarning)
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
