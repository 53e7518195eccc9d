"""The spool: JSON-lines files holding batches the database could not take, until replayed.

Files are named ``spool-<time_ns>-<pid>.jsonl`` so that sorting by name replays the oldest
first. A writer keeps an exclusive ``flock`` on the file it appends to, and replays only
files it can lock: with several server processes sharing one spool folder, nobody replays
(and deletes) a file another live process is still writing. A dead process's locks are
released by the OS, so its files are replayed by whoever comes next. (Without ``fcntl``,
on Windows, files are not locked: use one spool folder per process there.)
"""

from __future__ import annotations

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
        self._active: IO[str] | None = None
        self._rows: dict[Path, int] = {}  # rows waiting, per file this instance knows
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

    def scan(self) -> int:
        """Count the rows of files left by earlier runs (those no live process holds)."""
        if not self.folder.is_dir():
            return 0
        for path in sorted(self.folder.glob(PATTERN)):
            if path in self._rows or (self._active and path.name == Path(self._active.name).name):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    if not _lock(handle):
                        continue
                    self._count(path, sum(1 for line in handle if line.strip()))
            except FileNotFoundError:  # replayed by another process meanwhile
                continue
        return self.rows

    def append(self, records: list[PredictionRecord]) -> None:
        """Write ``records`` to the active file and fsync; raises OSError if that fails."""
        if self._active is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"spool-{time.time_ns():020d}-{os.getpid()}.jsonl"
            self._active = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            _lock(self._active)
            _fsync_folder(self.folder)
        handle = self._active
        handle.write("".join(record.to_json() + "\n" for record in records))
        handle.flush()
        os.fsync(handle.fileno())
        path = Path(handle.name)
        self._count(path, self._rows.get(path, 0) + len(records))

    def replay(self, insert: Callable[[list[PredictionRecord]], int], batch_size: int) -> int:
        """Insert every spooled file, oldest first; delete each once committed.

        Returns the rows replayed. An exception from ``insert`` stops the replay and leaves
        the file in place (inserts skip ids already logged, so a later replay is safe).
        """
        self.close()  # later failures start a new file; this one can be replayed now
        replayed = 0
        for path in sorted(self.folder.glob(PATTERN)) if self.folder.is_dir() else []:
            try:
                handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                self._count(path, None)
                continue
            with handle:
                if not _lock(handle):
                    continue  # another live process is writing or replaying it
                rows, bad = _replay_file(handle, insert, batch_size)
                if bad:
                    rejected = path.with_suffix(".rejected")
                    with open(rejected, "a", encoding="utf-8") as out:
                        out.writelines(bad)
                    log.error(
                        "%d unreadable spool line(s) of %s kept in %s", len(bad), path, rejected
                    )
                path.unlink(missing_ok=True)
            self._count(path, None)
            replayed += rows
        return replayed

    def close(self) -> None:
        """Close (and unlock) the active file; the next append starts a new one."""
        if self._active is not None:
            self._active.close()
            self._active = None


def _replay_file(
    handle: IO[str], insert: Callable[[list[PredictionRecord]], int], batch_size: int
) -> tuple[int, list[str]]:
    """Insert a spool file's records in batches; return their count and the lines that do
    not parse (a write torn by a crash)."""
    rows = 0
    batch: list[PredictionRecord] = []
    bad: list[str] = []
    for line in handle:
        if not line.strip():
            continue
        try:
            batch.append(PredictionRecord.from_json(line))
        except (ValueError, TypeError, KeyError):
            bad.append(line if line.endswith("\n") else line + "\n")
        if len(batch) >= batch_size:
            insert(batch)
            rows, batch = rows + len(batch), []
    if batch:
        insert(batch)
        rows += len(batch)
    return rows, bad


def _lock(handle: IO[str]) -> bool:
    """Take an exclusive lock on ``handle`` without waiting; False if someone holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
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
