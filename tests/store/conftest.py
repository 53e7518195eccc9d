"""The log on a real SQLite file, and on PostgreSQL (a fresh schema per test) where it runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tabloop.store import PredictionRecord, Store
from tests.servers import free_port

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """An opened store on ``url``, closed after the test."""
    log = Store(url)
    log.open()
    yield log
    log.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


MakeRecord = Callable[..., PredictionRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    """``make_record(i, **fields)``: a classification record, ``i`` seconds after T0."""

    def make(i: int = 0, **fields: Any) -> PredictionRecord:
        values: dict[str, Any] = {
            "prediction_id": f"p{i:05d}",
            "created_at": T0 + timedelta(seconds=i),
            "variant": "A",
            "model_name": "churn",
            "model_version": "3",
            "entity_id": f"c{i}",
            "request_id": "req-1",
            "inputs": {"age": 30 + i, "plan": "basic"},
            "context": {"channel": "web"},
            "prediction": "yes",
            "score": 0.75,
            "probabilities": None,
            "latency_ms": 2.5,
        }
        values.update(fields)
        return PredictionRecord(**values)

    return make


class OwnPostgres:
    """A PostgreSQL server of the test's own (Debian's ``initdb``/``pg_ctl``) on a free port,
    so a test can stop and start it under a running writer."""

    def __init__(self, folder: Path) -> None:
        import shutil

        bin_dir = Path("/usr/lib/postgresql")
        found = sorted(bin_dir.glob("*/bin/pg_ctl")) if bin_dir.is_dir() else []
        pg_ctl = str(found[-1]) if found else shutil.which("pg_ctl")
        if pg_ctl is None:
            pytest.skip("PostgreSQL's pg_ctl is not installed")
        self.pg_ctl = pg_ctl
        self.data = folder / "pgdata"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def _run(self, *args: str) -> None:
        import os
        import subprocess

        command = (
            [self.pg_ctl, *args]
            if args[0] != "initdb"
            else [str(Path(self.pg_ctl).with_name("initdb")), *args[1:]]
        )
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot run a PostgreSQL server here: {done.stderr.strip()[:200]}")

    def start(self) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "start",
            "-w",
            "-t",
            "120",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "server.log"),
        )

    def stop(self) -> None:
        self._run("stop", "-w", "-t", "120", "-m", "fast", "-D", str(self.data))


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    yield from running_own_postgres()


def running_own_postgres() -> Iterator[OwnPostgres]:
    """A started :class:`OwnPostgres` in a fresh folder, stopped and removed afterwards (the
    body of the ``own_postgres`` fixture, for test modules outside tests/store)."""
    import os
    import shutil
    import tempfile

    pytest.importorskip("psycopg")
    folder = Path(tempfile.mkdtemp(prefix="tabloop-pg-"))  # pytest's tmp is root-only
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    try:
        server = OwnPostgres(folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
