"""Engines for the log: SQLite tuned for one writer and many readers, or PostgreSQL.

SQLite runs in WAL mode (readers never block the writer) with ``synchronous=NORMAL`` and a
busy timeout. SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN``: write transactions
use ``BEGIN IMMEDIATE`` so they take the write lock up front and wait the busy timeout for
it, instead of failing half-way when a read turns into a write; reads stay deferred.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from tabloop.exceptions import MissingDependencyError, StoreError
from tabloop.store._records import dumps, loads

BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5
_WRITE = "tabloop_write"

log = logging.getLogger("tabloop.store")


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of ``url``; :class:`StoreError` for a malformed or in-memory one."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"The prediction log URL {url!r} is not a database URL ({exc}). Use e.g. "
            "sqlite:////abs/path/log.db or postgresql+psycopg://user@host/db."
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError(
            f"The prediction log URL {url!r} is an in-memory SQLite database, which would "
            "vanish with the process; give a file: sqlite:////abs/path/log.db."
        )
    return parsed


def masked(url: URL) -> str:
    """``url`` as text with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def _load_stored(text: str | bytes) -> Any:
    """A stored JSON value; one that does not parse (written by hand, cut by a disk error)
    is read as missing and reported, so one bad row cannot make a report fail."""
    try:
        return loads(text)
    except ValueError as exc:
        log.warning("a stored JSON value of the log does not parse (%s); read as missing", exc)
        return None


def make_engine(url: URL) -> sa.Engine:
    """An engine on ``url`` with the SQLite pragmas and transaction handling above."""
    kwargs: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": _load_stored}
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg", "psycopg2"):
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)
    except ImportError as exc:
        postgres = url.get_backend_name() == "postgresql"
        extra = " (pip install 'tabloop[postgres]')" if postgres else ""
        raise MissingDependencyError(
            f"The prediction log at {masked(url)} needs the database driver {exc.name!r}{extra}."
        ) from None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (_sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _enter_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL (a persistent setting), waiting out other connections.

    Changing the journal mode takes an exclusive lock without calling SQLite's busy
    handler, so when several processes open a new database at once all but one get
    "database is locked" at once; retry until the busy timeout instead.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that will write (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection
