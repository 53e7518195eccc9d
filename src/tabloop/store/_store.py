"""The prediction log: predictions, their outcomes, upload batches and experiment periods."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from alembic.util import CommandError

from tabloop.exceptions import StoreError, StoreOutdatedError
from tabloop.store import _migrate
from tabloop.store._engine import make_engine, masked, parse_url, write_transaction
from tabloop.store._outcomes import chunks, record
from tabloop.store._periods import Period
from tabloop.store._records import OutcomeResult, PredictionRecord, as_utc
from tabloop.store._tables import VERSION_TABLE, outcomes, periods, predictions

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig

# pg_advisory_xact_lock key: one process at a time checks and migrates the schema
_MIGRATION_LOCK = 0x7461626C6F6F70  # "tabloop"

COLUMNS = [
    "prediction_id", "created_at", "period_id", "variant", "model_name", "model_version",
    "entity_id", "request_id", "inputs", "context", "prediction", "score", "probabilities",
    "latency_ms", "outcome", "outcome_batch", "outcome_at",
]  # fmt: skip


SchemaState = Literal["up to date", "empty", "needs upgrade", "newer", "unversioned"]


@dataclass(frozen=True)
class SchemaStatus:
    """Where a log's schema stands against this tabloop, as ``tabloop store status`` shows it.

    ``state`` is ``"up to date"``; ``"empty"`` (no tabloop table: :meth:`Store.open` creates
    them); ``"needs upgrade"`` (an older revision: ``tabloop store upgrade``); ``"newer"``
    (a revision this tabloop does not ship: a newer tabloop made it); or ``"unversioned"``
    (tabloop tables, listed in ``tables``, without the version table: not created by
    tabloop, or the version table was dropped). For the last three, ``problem`` is the
    one-line explanation :meth:`Store.open` raises.
    """

    revision: str | None
    head: str
    state: SchemaState
    tables: tuple[str, ...] = ()
    problem: str | None = None
    #: False for a SQLite file that does not exist yet (``state`` is then ``"empty"``):
    #: reading the status did not create it; :meth:`Store.open` does.
    exists: bool = True


class Store:
    """The durable log of a prediction service, on SQLite or PostgreSQL.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////srv/app/.tabloop/log.db`` or
        ``postgresql+psycopg://user:pw@host/db``. Nothing is opened until first use.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = Store(Store.default_url(pathlib.Path(tempfile.mkdtemp())))
    >>> store.open()
    >>> store.revision() == store.head(), store.current_period()
    (True, 1)
    >>> store.close()
    """

    def __init__(self, url: str) -> None:
        self._url = parse_url(url)
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @classmethod
    def default_url(cls, home: Path, *, create: bool = True) -> str:
        """``sqlite:///<home>/log.db`` with ``home`` made absolute (and created, unless
        ``create`` is False)."""
        folder = Path(home).resolve()
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'log.db'}"

    @classmethod
    def project_url(cls, config: ProjectConfig, *, create: bool = True) -> str:
        """The project's log: ``serve.store_url``, else ``TABLOOP_STORE_URL``, else SQLite
        under the project home (``.tabloop/log.db``, its folder created unless ``create`` is
        False: a command that only reads must change nothing)."""
        from tabloop._settings import get_settings

        settings = get_settings()
        if config.serve.store_url:
            return config.serve.store_url
        if settings.store_url:
            return settings.store_url
        return cls.default_url(config.resolve(settings.home), create=create)

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return masked(self._url)

    # -- schema ---------------------------------------------------------------------------
    def head(self) -> str:
        """The newest schema revision this tabloop ships."""
        return _migrate.head()

    def revision(self) -> str | None:
        """The database's schema revision; None for a database without tabloop's tables."""
        with self._errors("read the schema revision of"), self._engine_().connect() as conn:
            return _migrate.current(conn)

    def status(self) -> SchemaStatus:
        """Where the database's schema stands against this tabloop; changes nothing (a
        SQLite file that does not exist is ``"empty"`` with ``exists`` False, not created)."""
        if self._missing_file() is not None:
            return SchemaStatus(None, self.head(), "empty", exists=False)
        with self._errors("read the schema revision of"), self._engine_().connect() as conn:
            return self._status(conn)

    def open(self) -> None:
        """Check the schema, creating it at head in an empty database.

        Raises :class:`StoreOutdatedError` when the tables are older than this tabloop, and
        :class:`StoreError` when they are newer, when tabloop tables exist without a version
        table (they are never created over), or when the database does not answer.
        """
        with self._errors("open"), self._migrating() as conn:
            status = self._status(conn)
            if status.state == "empty":
                _migrate.upgrade(conn)
                return
        if status.state == "needs upgrade":
            raise StoreOutdatedError(str(status.problem), current=status.revision, head=status.head)
        if status.problem is not None:
            raise StoreError(status.problem)

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the tables to head; return the revisions (before, after).

        Raises :class:`StoreError` for a newer revision or tables without a version table.
        """
        with self._errors("upgrade"), self._migrating() as conn:
            status = self._status(conn)
            if status.state in ("newer", "unversioned"):
                raise StoreError(str(status.problem))
            if status.state != "up to date":
                _migrate.upgrade(conn)
        return status.revision, status.head

    def ping(self) -> bool:
        """Whether the database answers ``SELECT 1``."""
        try:
            with self._engine_().connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection (the store reconnects if used again)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- writing --------------------------------------------------------------------------
    def insert_predictions(self, records: list[PredictionRecord]) -> int:
        """Log ``records`` in one transaction, in the period open now; return rows inserted.

        A ``prediction_id`` already logged is skipped, so replaying a batch is safe.
        """
        unique = list({r.prediction_id: r for r in reversed(records)}.values())[::-1]
        if not unique:
            return 0
        with self._errors("write predictions to"):
            for attempt in range(3):
                try:
                    return self._insert(unique)
                except sa.exc.IntegrityError:  # another writer logged some ids meanwhile
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _insert(self, records: list[PredictionRecord]) -> int:
        with write_transaction(self._engine_()) as conn:
            period = self._open_period(conn)
            ids = [r.prediction_id for r in records]
            present: set[str] = set()
            for part in chunks(ids):
                column = predictions.c.prediction_id
                present.update(conn.scalars(sa.select(column).where(column.in_(part))))
            fresh = [_row(r, period) for r in records if r.prediction_id not in present]
            if fresh:
                conn.execute(predictions.insert(), fresh)
            return len(fresh)

    def record_outcomes(
        self,
        items: list[tuple[str, Any]],
        *,
        by: Literal["prediction_id", "entity_id"] = "prediction_id",
        overwrite: bool = False,
    ) -> OutcomeResult:
        """Store true values ``(id, value)``; see :class:`OutcomeResult` for what is counted.

        ``by="entity_id"`` applies a value to every prediction of that entity in the open
        period. Any conflict (a changed value without ``overwrite``, or one id sent twice
        with different values) stores nothing of the upload.
        """
        if by not in ("prediction_id", "entity_id"):
            raise ValueError(f"by must be 'prediction_id' or 'entity_id'; got {by!r}.")
        with self._errors("store outcomes in"), write_transaction(self._engine_()) as conn:
            return record(conn, items, by=by, overwrite=overwrite, period=self._open_period(conn))

    def reset(self, note: str | None = None) -> int:
        """Close the open period and open a new one; return its id. Nothing is deleted."""
        with self._errors("start a new period in"):
            for _ in range(3):
                with write_transaction(self._engine_()) as conn:
                    query = sa.select(periods.c.id).where(periods.c.ended_at.is_(None))
                    current = conn.execute(query.with_for_update()).scalar()
                    if current is None:  # PostgreSQL: a concurrent reset closed it; look again
                        continue
                    now = datetime.now(UTC)
                    conn.execute(
                        periods.update().where(periods.c.id == current).values(ended_at=now)
                    )
                    insert = periods.insert().values(started_at=now, note=note)
                    return int(conn.execute(insert.returning(periods.c.id)).scalar_one())
        raise StoreError(f"The prediction log at {self.url} has no open period to close.")

    # -- reading --------------------------------------------------------------------------
    def current_period(self) -> int:
        """The id of the open period."""
        with self._errors("read"), self._engine_().connect() as conn:
            return self._open_period(conn)

    def periods(self) -> list[dict[str, Any]]:
        """Every period, oldest first: id, started_at/ended_at (ISO), note and row counts."""
        labelled = predictions.join(outcomes)
        count = sa.select(sa.func.count()).select_from(predictions)
        query = sa.select(
            periods,
            count.where(predictions.c.period_id == periods.c.id).scalar_subquery(),
            sa.select(sa.func.count())
            .select_from(labelled)
            .where(predictions.c.period_id == periods.c.id)
            .scalar_subquery(),
        ).order_by(periods.c.id)
        with self._errors("read"), self._engine_().connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": row[0],
                "started_at": row[1].isoformat(),
                "ended_at": row[2].isoformat() if row[2] else None,
                "note": row[3],
                "predictions": row[4],
                "labelled": row[5],
            }
            for row in rows
        ]

    def variants(self) -> list[str]:
        """The variant names of every logged prediction, all periods, sorted."""
        query = sa.select(predictions.c.variant).distinct().order_by(predictions.c.variant)
        with self._errors("read"), self._engine_().connect() as conn:
            return list(conn.execute(query).scalars())

    def predictions(
        self,
        *,
        period: Period = None,
        since: datetime | None = None,
        until: datetime | None = None,
        variant: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> pd.DataFrame:
        """Logged predictions with their outcome, oldest first, as a DataFrame.

        ``period`` None means the open period, ``"all"`` every period. ``since`` is
        inclusive, ``until`` exclusive. Columns: those of :class:`PredictionRecord` plus
        ``period_id``, ``outcome`` (missing until labelled), ``outcome_batch`` (Int64) and
        ``outcome_at`` (when the current value arrived).
        """
        from tabloop.store._frame import to_frame

        outcome_at = sa.func.coalesce(outcomes.c.updated_at, outcomes.c.received_at)
        query = sa.select(
            *(predictions.c[name] for name in COLUMNS[:14]),
            outcomes.c.value,
            outcomes.c.batch_id,
            sa.type_coerce(outcome_at, outcomes.c.received_at.type),
        ).select_from(predictions.outerjoin(outcomes))
        if since is not None:
            query = query.where(predictions.c.created_at >= as_utc(since))
        if until is not None:
            query = query.where(predictions.c.created_at < as_utc(until))
        if variant is not None:
            query = query.where(predictions.c.variant == variant)
        order = [predictions.c.created_at, predictions.c.prediction_id]
        query = query.order_by(*(c.desc() for c in order) if newest_first else order)
        if limit is not None:
            query = query.limit(limit)
        with self._errors("read predictions from"), self._engine_().connect() as conn:
            query = self._in_period(query, period, conn)
            rows = conn.execute(query).all()
        return to_frame(rows, COLUMNS)

    def outcomes(
        self, *, period: Period = None, offset: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of stored outcomes, oldest first, and how many there are in all.

        Each is ``{prediction_id, entity_id, variant, value, batch_id, received_at,
        updated_at}`` (times as ISO strings); ``period`` is the predictions' period.
        """
        if offset < 0 or limit < 1:
            raise ValueError(f"offset must be >= 0 and limit >= 1; got {offset} and {limit}.")
        joined = outcomes.join(predictions)
        page = (
            sa.select(
                outcomes.c.prediction_id,
                predictions.c.entity_id,
                predictions.c.variant,
                outcomes.c.value,
                outcomes.c.batch_id,
                outcomes.c.received_at,
                outcomes.c.updated_at,
            )
            .select_from(joined)
            .order_by(outcomes.c.received_at, outcomes.c.batch_id, outcomes.c.prediction_id)
            .offset(offset)
            .limit(limit)
        )
        total = sa.select(sa.func.count()).select_from(joined)
        with self._errors("read outcomes from"), self._engine_().connect() as conn:
            rows = conn.execute(self._in_period(page, period, conn)).all()
            count = conn.execute(self._in_period(total, period, conn)).scalar_one()
        items = [
            {
                "prediction_id": row[0],
                "entity_id": row[1],
                "variant": row[2],
                "value": row[3],
                "batch_id": row[4],
                "received_at": row[5].isoformat(),
                "updated_at": row[6].isoformat() if row[6] else None,
            }
            for row in rows
        ]
        return items, int(count)

    # -- helpers --------------------------------------------------------------------------
    def _engine_(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self._url)
            return self._engine

    def _missing_file(self) -> Path | None:
        """The SQLite file of this log when it does not exist yet (None otherwise)."""
        if self._url.get_backend_name() != "sqlite" or not self._url.database:
            return None
        path = Path(self._url.database)
        return None if path.exists() else path

    def _in_period(
        self, query: sa.Select[Any], period: Period, conn: sa.Connection
    ) -> sa.Select[Any]:
        if period == "all":
            return query
        if period is None:
            period = self._open_period(conn)
        elif isinstance(period, bool) or not isinstance(period, int):
            raise ValueError(f"period must be a period id, 'all' or None; got {period!r}.")
        return query.where(predictions.c.period_id == period)

    def _open_period(self, conn: sa.Connection) -> int:
        query = sa.select(periods.c.id).where(periods.c.ended_at.is_(None))
        period = conn.execute(query.order_by(periods.c.id.desc()).limit(1)).scalar()
        if period is None:
            raise StoreError(
                f"The prediction log at {self.url} has no open period (no row of tabloop_periods "
                "with ended_at NULL); set ended_at of the latest period to NULL."
            )
        return int(period)

    @contextmanager
    def _migrating(self) -> Iterator[sa.Connection]:
        """A write transaction in which no other process checks or migrates the schema."""
        with write_transaction(self._engine_()) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            yield conn

    def _status(self, conn: sa.Connection) -> SchemaStatus:
        head, current = self.head(), _migrate.current(conn)
        if current is None:
            found = tuple(_migrate.tables(conn))
            if not found:
                return SchemaStatus(None, head, "empty")
            problem = (
                f"The prediction log at {self.url} was not created by tabloop, or its version "
                f"table is missing: {', '.join(found)} exist without {VERSION_TABLE}. Point "
                "serve.store_url (or TABLOOP_STORE_URL) at another database, or move those "
                "tables away; tabloop does not create its tables over them."
            )
            return SchemaStatus(None, head, "unversioned", found, problem)
        if current not in _migrate.known():
            problem = (
                f"The prediction log at {self.url} is at schema revision {current!r}, newer "
                f"than this tabloop knows (it knows {', '.join(_migrate.known())}): a newer "
                "tabloop made it. Upgrade tabloop, or point serve.store_url at another database."
            )
            return SchemaStatus(current, head, "newer", problem=problem)
        if current != head:
            problem = (
                f"The prediction log at {self.url} is at schema revision {current}; this "
                f"tabloop needs {head}. Run `tabloop store upgrade` (back up the database first)."
            )
            return SchemaStatus(current, head, "needs upgrade", problem=problem)
        return SchemaStatus(current, head, "up to date")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn database errors into a :class:`StoreError` naming the URL and what to do."""
        try:
            yield
        except (sa.exc.SQLAlchemyError, CommandError) as exc:
            orig = getattr(exc, "orig", None) or exc
            reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
            raise StoreError(
                f"Could not {doing} the prediction log at {self.url}: {reason}. Check that the "
                "database is running and writable (serve.store_url / TABLOOP_STORE_URL), and "
                "`tabloop store status`."
            ) from exc


@contextmanager
def opened(store: Store | str, doing: str) -> Iterator[sa.Connection]:
    """A read connection to ``store`` (a :class:`Store`, or a URL: a store of its own, closed
    afterwards), database errors raised as :class:`StoreError` saying what was being done."""
    log = Store(store) if isinstance(store, str) else store
    try:
        with log._errors(doing), log._engine_().connect() as conn:
            yield conn
    finally:
        if log is not store:
            log.close()


def _row(record: PredictionRecord, period: int) -> dict[str, Any]:
    return {
        "prediction_id": str(record.prediction_id),
        "created_at": as_utc(record.created_at),
        "period_id": period,
        "variant": record.variant,
        "model_name": record.model_name,
        "model_version": str(record.model_version),
        "entity_id": None if record.entity_id is None else str(record.entity_id),
        "request_id": record.request_id,
        "inputs": record.inputs,
        "context": record.context,
        "prediction": record.prediction,
        "score": None if record.score is None else float(record.score),
        "probabilities": record.probabilities,
        "latency_ms": float(record.latency_ms),
    }
