"""The spool: JSON-lines files holding batches the database could not take, until replayed.

Files are named ``spool-<time_ns>-<pid>.jsonl`` so that sorting by name replays the oldest
first. A writer keeps an exclusive ``flock`` on the file it appends to, and replays only
files it can lock: with several server processes sharing one spool folder, nobody replays
(and deletes) a file another live process is still writing. A dead process's locks are
released by the OS, so its files are replayed by whoever comes next. (Without ``fcntl``,
on Windows, files are not locked: use one spool folder per process there.)

A full or read-only disk must not cost what the spool already holds. An append is written
with ``os.write`` on a raw descriptor and fsynced; if that fails part-way (``ENOSPC``), the
file is cut back to its length before the append, so it only ever holds whole records and
the caller still has the batch. A file whose lines do not all parse (a write torn by a
crash) is renamed to ``.rejected`` after its good rows are committed: a rename needs no free
space, where copying the bad lines out did. A replayed file that cannot be deleted (a
read-only folder) is remembered as done for this process, not replayed again and again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tabloop.store._records import PredictionRecord

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("tabloop.store")

PATTERN = "spool-*.jsonl"


class Spool:
    """The spool files in ``folder``; only one thread may use an instance."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._active: int | None = None  # descriptor of the file appended to, locked
        self._active_path: Path | None = None
        self._rows: dict[Path, int] = {}  # rows waiting, per file this instance knows
        self._done: set[Path] = set()  # replayed files that could not be deleted
        self._total = 0  # their sum, readable from any thread

    @property
    def rows(self) -> int:
        """Rows waiting in the files this spool wrote or found."""
        return self._total

    def _count(self, path: Path, rows: int | None) -> None:
        """Set (None: forget) the rows known to wait in ``path``."""
        if rows is None:
            self._rows.pop(path, None)
        else:
            self._rows[path] = rows
        self._total = sum(self._rows.values())

    def _waiting(self) -> list[Path]:
        """Spool files in the folder, oldest first, but those already replayed."""
        if not self.folder.is_dir():
            return []
        return [p for p in sorted(self.folder.glob(PATTERN)) if p not in self._done]

    def scan(self) -> int:
        """Count the rows of files left by earlier runs (those no live process holds)."""
        for path in self._waiting():
            if path in self._rows or path == self._active_path:
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    if not _lock(handle.fileno()):
                        continue
                    self._count(path, sum(1 for line in handle if line.strip()))
            except FileNotFoundError:  # replayed by another process meanwhile
                continue
        return self.rows

    def append(self, records: list[PredictionRecord]) -> None:
        """Write ``records`` to the active file and fsync.

        Raises OSError if that fails; the file is then cut back to what it held before, so
        nothing half-written stays in it.
        """
        data = "".join(record.to_json() + "\n" for record in records).encode("utf-8")
        if self._active is None:
            self._open_new()
        assert self._active is not None and self._active_path is not None
        fd, path = self._active, self._active_path
        before = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # cutting back frees space; it cannot fill
                os.ftruncate(fd, before)
                os.fsync(fd)
            raise
        self._count(path, self._rows.get(path, 0) + len(records))

    def _open_new(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"spool-{time.time_ns():020d}-{os.getpid()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _lock(fd)
        self._active, self._active_path = fd, path
        try:
            _fsync_folder(self.folder)
        except OSError:
            self.close()
            path.unlink(missing_ok=True)
            raise

    def replay(self, insert: Callable[[list[PredictionRecord]], int], batch_size: int) -> int:
        """Insert every spooled file, oldest first; delete each once committed.

        Returns the rows replayed. An exception from ``insert`` stops the replay and leaves
        the file in place (inserts skip ids already logged, so a later replay is safe).
        """
        self.close()  # later failures start a new file; this one can be replayed now
        replayed = 0
        for path in self._waiting():
            try:
                handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                self._count(path, None)
                continue
            with handle:
                if not _lock(handle.fileno()):
                    continue  # another live process is writing or replaying it
                rows, bad = _replay_file(handle, insert, batch_size)
                self._set_aside(path, bad)
            self._count(path, None)
            replayed += rows
        return replayed

    def _set_aside(self, path: Path, bad: int) -> None:
        """Remove a replayed file: deleted, or renamed to ``.rejected`` when it held ``bad``
        unreadable lines; remembered as done when the folder refuses both."""
        rejected = path.with_suffix(".rejected")
        try:
            if bad:
                path.rename(rejected)
                log.error(
                    "%d unreadable spool line(s) were not logged; the file is kept as %s",
                    bad,
                    rejected,
                )
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            self._done.add(path)
            log.error(
                "spool file %s is replayed but cannot be removed (%s); it is skipped until "
                "the next start, which replays it again without logging a row twice",
                path,
                exc,
            )

    def close(self) -> None:
        """Close (and unlock) the active file; the next append starts a new one."""
        if self._active is not None:
            fd, self._active, self._active_path = self._active, None, None
            os.close(fd)


def _replay_file(
    handle: IO[str], insert: Callable[[list[PredictionRecord]], int], batch_size: int
) -> tuple[int, int]:
    """Insert a spool file's records in batches; return their count and the number of
    lines that do not parse (a write torn by a crash)."""
    rows = bad = 0
    batch: list[PredictionRecord] = []
    for line in handle:
        if not line.strip():
            continue
        try:
            batch.append(PredictionRecord.from_json(line))
        except (ValueError, TypeError, KeyError):
            bad += 1
        if len(batch) >= batch_size:
            insert(batch)
            rows, batch = rows + len(batch), []
    if batch:
        insert(batch)
        rows += len(batch)
    return rows, bad


def _lock(fd: int) -> bool:
    """Take an exclusive lock on descriptor ``fd`` without waiting; False if someone holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
