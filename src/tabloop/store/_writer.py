"""Batched writes of the prediction log, off the request path.

Maintainer note — the durability guarantee
------------------------------------------
``/predict`` answers as soon as :meth:`LogWriter.submit` has queued the rows in memory; a
daemon thread writes them in batches (up to ``batch_size`` rows, waiting at most
``interval`` seconds to fill one). When the database refuses a batch (unreachable,
locked, disk full...), the batch is appended to a spool file under ``spool_dir`` and
fsynced; nothing is dropped. While the spool holds rows, new batches go straight to it
(so an outage costs no request latency and keeps rows in order), and every
``retry_every`` seconds the thread replays the spool, oldest file first, deleting a file
only after its rows are committed. Inserts skip prediction ids already logged, so a
replay interrupted half-way is simply done again. :meth:`LogWriter.start` replays a spool
left by an earlier run.

The limit: rows still in the in-memory queue (normally less than ``interval`` seconds'
worth, more during a long write) are lost if the process dies without shutting down —
SIGKILL, OOM kill, power loss. SIGTERM and Ctrl-C make the server shut down, which calls
:meth:`LogWriter.close`: it flushes the queue to the database or the spool before the
process exits. A record is durable once :meth:`LogWriter.flush` has returned True.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

from tabloop.exceptions import StoreError
from tabloop.store._records import PredictionRecord
from tabloop.store._spool import Spool
from tabloop.store._store import Store

log = logging.getLogger("tabloop.store")


class LogWriter:
    """Write :class:`PredictionRecord` batches to a :class:`Store` from a background thread.

    Parameters
    ----------
    store : Store
        The log to write to.
    spool_dir : Path
        Where batches the database refuses wait to be replayed.
    batch_size : int, default 500
        Most rows per insert.
    interval : float, default 0.05
        Longest wait, in seconds, for a batch to fill up.
    retry_every : float, default 2.0
        Seconds between attempts to replay the spool.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store(Store.default_url(folder)); store.open()
    >>> writer = LogWriter(store, spool_dir=folder / "spool"); writer.start()
    >>> writer.submit([])  # the service submits the records of each request
    >>> writer.flush(), writer.backlog
    (True, 0)
    >>> writer.close(); store.close()
    """

    def __init__(
        self,
        store: Store,
        *,
        spool_dir: Path,
        batch_size: int = 500,
        interval: float = 0.05,
        retry_every: float = 2.0,
    ) -> None:
        if batch_size < 1 or interval < 0 or retry_every <= 0:
            raise ValueError(
                "LogWriter needs batch_size >= 1, interval >= 0 and retry_every > 0; got "
                f"{batch_size}, {interval} and {retry_every}."
            )
        self.store = store
        self.batch_size = batch_size
        self.interval = interval
        self.retry_every = retry_every
        self.last_error: str | None = None
        self._spool = Spool(Path(spool_dir))
        self._cond = threading.Condition()
        self._queue: deque[PredictionRecord] = deque()
        self._submitted = 0  # rows ever submitted
        self._done = 0  # rows ever committed or spooled
        self._inflight = 0  # rows taken from the queue, not yet done
        self._hurry = 0  # callers waiting in flush(): do not wait for a batch to fill
        self._spool_first = False  # the last insert failed: batches go to the spool
        self._next_retry = 0.0
        self._closing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._work = threading.Lock()  # one writer at a time: the thread, or close()

    @property
    def backlog(self) -> int:
        """Rows not yet in the database: queued in memory, being written, or spooled."""
        with self._cond:
            return len(self._queue) + self._inflight + self._spool.rows

    @property
    def spooled(self) -> int:
        """Rows waiting in the spool."""
        return self._spool.rows

    def start(self) -> None:
        """Start the background thread; a spool left by an earlier run is replayed first."""
        with self._cond:
            if self._closed or self._closing:
                raise RuntimeError("This LogWriter is closed; make a new one.")
            if self._thread is not None:
                return
            found = self._spool.scan()
            if found:
                log.warning(
                    "%d spooled prediction(s) in %s will be replayed", found, self._spool.folder
                )
            self._next_retry = 0.0
            self._thread = threading.Thread(
                target=self._run, name="tabloop-log-writer", daemon=True
            )
            self._thread.start()

    def submit(self, records: list[PredictionRecord]) -> None:
        """Queue ``records`` for writing; returns at once. Thread-safe."""
        if not records:
            return
        with self._cond:
            if self._closing:
                raise StoreError(
                    f"The log writer of {self.store.url} is closed; {len(records)} prediction(s) "
                    "were not logged."
                )
            self._queue.extend(records)
            self._submitted += len(records)
            self._cond.notify_all()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every row submitted so far is in the database or the spool.

        Returns False if that takes longer than ``timeout`` seconds. Without a running
        thread the rows are written by the calling thread.
        """
        with self._cond:
            target = self._submitted
            running = self._thread is not None and self._thread.is_alive()
        if not running:
            with self._work:
                self._drain(final=False)
            with self._cond:
                return self._done >= target
        with self._cond:
            self._hurry += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._done >= target, timeout)
            finally:
                self._hurry -= 1

    def close(self) -> None:
        """Flush, then stop the thread. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._work:
            self._drain(final=True)  # rows left if the thread never started
            self._spool.close()
        with self._cond:
            self._closed = True

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                with self._work:
                    written = self._write(batch, final=self._closing) if batch else True
                    if self._spool.rows and time.monotonic() >= self._next_retry:
                        self._replay()
                if not written:  # neither the database nor the spool took it: wait
                    with self._cond:
                        self._cond.wait(self.retry_every)
            except Exception as exc:  # a bug; the thread must live on, or logging stops
                self.last_error = f"{type(exc).__name__}: {exc}"
                with self._cond:
                    lost = self._inflight
                log.exception("the log writer failed; %d prediction(s) lost", lost)
                self._finish(lost)

    def _next_batch(self) -> list[PredictionRecord] | None:
        """The next batch; [] when it is time to replay the spool; None when closing."""
        with self._cond:
            while not self._queue and not self._closing:
                if self._spool.rows:
                    wait = self._next_retry - time.monotonic()
                    if wait <= 0:
                        return []
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            if not self._queue:
                return None
            deadline = time.monotonic() + self.interval
            while len(self._queue) < self.batch_size and not (self._closing or self._hurry):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._take()

    def _take(self) -> list[PredictionRecord]:
        count = min(self.batch_size, len(self._queue))
        batch = [self._queue.popleft() for _ in range(count)]
        self._inflight = count
        return batch

    def _drain(self, *, final: bool) -> None:
        """Write everything queued, in the calling thread (no background thread runs)."""
        while True:
            with self._cond:
                if not self._queue:
                    return
                batch = self._take()
            if not self._write(batch, final=final):
                return

    def _write(self, batch: list[PredictionRecord], *, final: bool) -> bool:
        """Insert ``batch``, or spool it. If the spool fails too, put the batch back and
        return False, or when ``final`` (shutting down) log the rows as lost."""
        if not self._spool_first or time.monotonic() >= self._next_retry:
            try:
                self.store.insert_predictions(batch)
                self._spool_first = False
                self._finish(len(batch))
                return True
            except Exception as exc:
                self._failed(exc)
        try:
            self._spool.append(batch)
        except OSError as exc:
            self.last_error = f"cannot spool to {self._spool.folder}: {exc}"
            if final:
                log.error("%d prediction(s) lost: %s", len(batch), self.last_error)
                self._finish(len(batch))
                return True
            log.error("%s; retrying in %.1f s", self.last_error, self.retry_every)
            with self._cond:
                self._queue.extendleft(reversed(batch))
                self._inflight = 0
            return False
        self._finish(len(batch))
        return True

    def _replay(self) -> None:
        try:
            count = self._spool.replay(self.store.insert_predictions, self.batch_size)
        except Exception as exc:
            self._failed(exc)
            return
        self._spool_first = False
        if count:
            log.warning("replayed %d spooled prediction(s) into %s", count, self.store.url)

    def _failed(self, exc: Exception) -> None:
        if not self._spool_first:
            log.warning("spooling predictions: %s", exc)
        self.last_error = str(exc)
        self._spool_first = True
        self._next_retry = time.monotonic() + self.retry_every

    def _finish(self, rows: int) -> None:
        with self._cond:
            self._done += rows
            self._inflight = 0
            self._cond.notify_all()
