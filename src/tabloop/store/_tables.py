"""The log's tables as the code queries them (SQLAlchemy Core).

The migrations in ``migrations/versions`` create these tables; they spell the schema out
themselves instead of importing this module, so an old revision keeps meaning what it
meant. ``tests/store/test_migrations.py`` checks that head and this module agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from tabloop.store._records import as_utc

PREFIX = "tabloop_"
VERSION_TABLE = f"{PREFIX}alembic_version"  # not alembic_version: MLflow may share the database

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back tz-aware, on SQLite (naive text) as on
    PostgreSQL (``timestamptz``)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite keeps text: naive UTC sorts and compares correctly as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


metadata = sa.MetaData(naming_convention=NAMING)

periods = sa.Table(
    f"{PREFIX}periods",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
)

predictions = sa.Table(
    f"{PREFIX}predictions",
    metadata,
    sa.Column("prediction_id", sa.String, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("period_id", sa.Integer, sa.ForeignKey(periods.c.id), nullable=False),
    sa.Column("variant", sa.String, nullable=False),
    sa.Column("model_name", sa.String, nullable=False),
    sa.Column("model_version", sa.String, nullable=False),
    sa.Column("entity_id", sa.String, nullable=True, index=True),
    sa.Column("request_id", sa.String, nullable=True),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("probabilities", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index(None, "period_id", "variant"),
)

outcome_batches = sa.Table(
    f"{PREFIX}outcome_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("period_id", sa.Integer, sa.ForeignKey(periods.c.id), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
)

outcomes = sa.Table(
    f"{PREFIX}outcomes",
    metadata,
    sa.Column(
        "prediction_id", sa.String, sa.ForeignKey(predictions.c.prediction_id), primary_key=True
    ),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey(outcome_batches.c.id), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=True),
)
