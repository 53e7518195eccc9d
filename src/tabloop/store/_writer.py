"""Batched writes of the prediction log, off the request path.

Maintainer note — the durability guarantee
------------------------------------------
A daemon thread writes submitted rows in batches (up to ``batch_size`` rows, waiting at
most ``interval`` seconds to fill one). When the database refuses a batch (unreachable,
locked, disk full...), the batch is appended to a spool file under ``spool_dir`` and
fsynced. While the spool holds rows, new batches go straight to it (so an outage costs no
request latency and keeps rows in order), and every ``retry_every`` seconds the thread
replays the spool, oldest file first, deleting a file only after its rows are committed.
Inserts skip prediction ids already logged, so a replay interrupted half-way is simply
done again. :meth:`LogWriter.start` replays a spool left by an earlier run.

What a caller may promise its client depends on what :meth:`LogWriter.submit` did:

- It raised :class:`~tabloop.exceptions.LogFullError`: nothing was queued. That happens
  when the in-memory backlog would pass ``max_backlog`` rows (the database is slower than
  the traffic), or while neither the database nor the spool takes rows (the service must
  not acknowledge what it cannot keep). The service answers 503 with ``Retry-After``.
- It returned a ticket: the rows are queued. :meth:`LogWriter.wait` returns True once
  they are committed or fsynced to the spool; concurrent waiters share one commit (group
  commit: a waiting caller makes the thread write what is queued at once, without
  waiting ``interval`` to fill the batch). ``serve.log.durability: sync`` answers only
  then; the default answers at once, so a SIGKILL, OOM kill or power loss can lose what
  is queued: at most ``max_backlog`` rows, normally ``interval`` seconds' worth.

SIGTERM and Ctrl-C make the server shut down, which calls :meth:`LogWriter.close`: it
writes the queue to the database or the spool, retrying for ``close_grace`` seconds while
both refuse, and only then gives up on (and counts in :attr:`LogWriter.lost`) the rows
it could not write anywhere.

A failing state is logged when it starts, at most once per ``log_every`` seconds while it
lasts (with the rows waiting and refused), and when it ends: an outage must not flood the
log, nor stay silent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from pathlib import Path

from tabloop.exceptions import LogFullError, StoreError
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
        Seconds between attempts to replay the spool, or to write anywhere while both the
        database and the spool refuse.
    max_backlog : int, default 10_000
        Most rows held in memory (queued or being written); :meth:`submit` refuses more.
    log_every : float, default 60.0
        Longest silence, in seconds, about a failing state that lasts.
    close_grace : float, default 10.0
        Seconds :meth:`close` keeps retrying rows that neither the database nor the spool
        takes before it gives them up.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store(Store.default_url(folder)); store.open()
    >>> writer = LogWriter(store, spool_dir=folder / "spool"); writer.start()
    >>> ticket = writer.submit([])  # the service submits the records of each request
    >>> writer.wait(ticket), writer.backlog
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
        max_backlog: int = 10_000,
        log_every: float = 60.0,
        close_grace: float = 10.0,
    ) -> None:
        if batch_size < 1 or interval < 0 or retry_every <= 0 or max_backlog < 1:
            raise ValueError(
                "LogWriter needs batch_size >= 1, interval >= 0, retry_every > 0 and "
                f"max_backlog >= 1; got {batch_size}, {interval}, {retry_every} and "
                f"{max_backlog}."
            )
        self.store = store
        self.batch_size = batch_size
        self.interval = interval
        self.retry_every = retry_every
        self.max_backlog = max_backlog
        self.log_every = log_every
        self.close_grace = close_grace
        self.last_error: str | None = None
        self.refused = 0  # rows refused by submit(), ever
        self.lost = 0  # rows given up at close, ever
        self._spool = Spool(Path(spool_dir))
        self._cond = threading.Condition()
        self._queue: deque[PredictionRecord] = deque()
        self._submitted = 0  # rows ever submitted
        self._done = 0  # rows ever committed, spooled or given up
        self._inflight = 0  # rows taken from the queue, not yet done
        self._hurry = 0  # callers waiting for their rows: do not wait for a batch to fill
        self._spool_first = False  # the last insert failed: batches go to the spool
        self._next_retry = 0.0
        self._stuck_since: float | None = None  # neither database nor spool takes rows
        self._last_alarm = 0.0
        self._closing = False
        self._close_deadline = math.inf
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

    @property
    def stuck(self) -> bool:
        """True while neither the database nor the spool takes rows (new rows are refused)."""
        return self._stuck_since is not None

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

    def submit(self, records: list[PredictionRecord]) -> int:
        """Queue ``records`` for writing and return their ticket for :meth:`wait`; returns
        at once. Raises :class:`LogFullError` (nothing queued) when the log cannot take
        them now. Thread-safe."""
        with self._cond:
            if self._closing:
                raise StoreError(
                    f"The log writer of {self.store.url} is closed; {len(records)} prediction(s) "
                    "were not logged."
                )
            if not records:
                return self._submitted
            self._check_room(len(records))
            self._queue.extend(records)
            self._submitted += len(records)
            self._cond.notify_all()
            return self._submitted

    def check_room(self, rows: int) -> None:
        """Raise :class:`LogFullError` now if :meth:`submit` would refuse ``rows`` rows, so a
        caller can refuse before doing the work (submit still decides)."""
        with self._cond:
            self._check_room(rows)

    def _check_room(self, rows: int) -> None:
        held = len(self._queue) + self._inflight
        if self._stuck_since is not None:
            self.refused += rows
            raise LogFullError(
                "The prediction log cannot store rows now: neither its database nor its "
                f"spool takes them ({self.last_error}).",
                reason="unavailable",
                retry_after=self.retry_every,
            )
        if held and held + rows > self.max_backlog:
            self.refused += rows
            raise LogFullError(
                f"The prediction log is {held:,} rows behind (serve.log.max_backlog is "
                f"{self.max_backlog:,}); its database is slower than the traffic.",
                reason="backlog_full",
                retry_after=1.0,
            )

    def wait(self, ticket: int, timeout: float | None = 30.0) -> bool:
        """Wait until the rows of ``ticket`` (and all before) are committed or spooled.

        Returns False when that takes longer than ``timeout`` seconds, or as soon as
        neither the database nor the spool takes rows (the caller should not promise them).
        """
        return self._wait_for(ticket, timeout, while_stuck=False)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every row submitted so far is in the database or the spool.

        Returns False if that takes longer than ``timeout`` seconds; meanwhile a database
        that comes back is written to.
        """
        with self._cond:
            ticket = self._submitted
        return self._wait_for(ticket, timeout, while_stuck=True)

    def _wait_for(self, ticket: int, timeout: float | None, *, while_stuck: bool) -> bool:
        """Wait for ``ticket``; without a running thread write in the calling thread."""
        with self._cond:
            running = self._thread is not None and self._thread.is_alive()
        if not running:
            with self._work:
                self._drain()
            with self._cond:
                return self._done >= ticket
        with self._cond:
            self._hurry += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(
                    lambda: (
                        self._done >= ticket or (not while_stuck and self._stuck_since is not None)
                    ),
                    timeout,
                )
                return self._done >= ticket
            finally:
                self._hurry -= 1

    def close(self) -> None:
        """Write what is queued, then stop the thread. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._close_deadline = time.monotonic() + self.close_grace
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._work:
            while not self._drain():  # rows left if the thread never started
                time.sleep(min(self.retry_every, max(self._close_deadline - time.monotonic(), 0)))
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
                    if batch:
                        self._write(batch)
                    if self._spool.rows and time.monotonic() >= self._next_retry:
                        self._replay()
            except Exception as exc:  # a bug: keep the rows, refuse new ones, retry later
                log.exception("the log writer failed; its rows are kept and retried")
                with self._cond:
                    self._put_back(batch)
                self._stuck(f"{type(exc).__name__}: {exc}")

    def _final(self) -> bool:
        """Shutting down and out of grace: rows nobody takes are given up."""
        return self._closing and time.monotonic() >= self._close_deadline

    def _next_batch(self) -> list[PredictionRecord] | None:
        """The next batch; [] when it is time to replay the spool; None when done."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._stuck_since is not None and now < self._next_retry:
                    wait = self._next_retry - now  # a retry, not a spin on every submit
                    if self._closing:
                        wait = min(wait, max(self._close_deadline - now, 0.0))
                    if wait > 0:
                        self._cond.wait(wait)
                        continue
                if self._queue:
                    break
                if self._closing:
                    return None
                if self._spool.rows:
                    if now >= self._next_retry:
                        return []
                    self._cond.wait(self._next_retry - now)
                else:
                    self._cond.wait()
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

    def _put_back(self, batch: list[PredictionRecord]) -> None:
        """Return a batch taken by :meth:`_take` to the head of the queue (lock held)."""
        self._queue.extendleft(reversed(batch))
        self._inflight = 0

    def _drain(self) -> bool:
        """Write everything queued, in the calling thread (no background thread runs);
        False when a batch found no taker (it is back in the queue)."""
        while True:
            with self._cond:
                if not self._queue:
                    return True
                batch = self._take()
            if not self._write(batch):
                return False

    def _write(self, batch: list[PredictionRecord]) -> bool:
        """Insert ``batch``, or spool it. If the spool fails too, put the batch back and
        return False; when shutting down past the grace, count the rows as lost."""
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
            self._stuck(f"cannot spool to {self._spool.folder}: {exc}")
            if self._final():
                log.error("%d prediction(s) lost: %s", len(batch), self.last_error)
                self.lost += len(batch)
                self._finish(len(batch))
                return True
            with self._cond:
                self._put_back(batch)
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

    def _stuck(self, reason: str) -> None:
        """Neither the database nor the spool took a batch: refuse rows, retry later."""
        now = time.monotonic()
        self.last_error = reason
        with self._cond:
            first = self._stuck_since is None
            if first:
                self._stuck_since = now
            self._next_retry = now + self.retry_every
            held = len(self._queue) + self._inflight
            self._cond.notify_all()  # waiters for a commit learn it is not coming now
        if first or now - self._last_alarm >= self.log_every:
            self._last_alarm = now
            log.error(
                "the prediction log cannot store rows: %s; %d row(s) wait in memory, %d "
                "refused so far; retrying every %.1f s",
                reason,
                held,
                self.refused,
                self.retry_every,
            )

    def _finish(self, rows: int) -> None:
        with self._cond:
            if self._stuck_since is not None:
                log.warning(
                    "the prediction log stores rows again after %.1f s; %d row(s) were "
                    "refused meanwhile",
                    time.monotonic() - self._stuck_since,
                    self.refused,
                )
                self._stuck_since = None
            self._done += rows
            self._inflight = 0
            self._cond.notify_all()
