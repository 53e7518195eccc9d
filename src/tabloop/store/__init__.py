"""The prediction log: a durable record of every prediction served and its true outcome.

:class:`Store` reads and writes the log (SQLite or PostgreSQL, schema managed by the Alembic
migrations in ``migrations/``); :class:`LogWriter` writes it in batches off the request path,
spooling to files when the database is away. See ``_writer.py`` for the durability note.

The typed reader spreads the logged inputs and context into typed columns without decoding
a row in Python: :func:`split_log` cuts a window into time ranges, :func:`log_schema`
declares one type per column over them, :func:`read_range` reads one range as a DataFrame
(a page at a time), and :func:`export_log` writes a window as Parquet partitioned by day.
See ``_typed.py`` and ``_schema.py`` for the notes.

Readers name an experiment period as a number, ``current`` or ``all``: :func:`parse_period`
reads those words and :func:`check_period` refuses a number that is no period of the log,
for ``tabloop log`` and the service alike.
"""

from tabloop.store._export import ExportResult, export_log
from tabloop.store._periods import (
    MAX_PERIOD,
    Period,
    check_period,
    open_period_id,
    parse_period,
)
from tabloop.store._ranges import LogRange, split_log
from tabloop.store._records import OutcomeResult, PredictionRecord
from tabloop.store._schema import LogColumn, LogSchema
from tabloop.store._store import SchemaStatus, Store
from tabloop.store._typed import LOG_COLUMNS, log_schema, read_pages, read_range
from tabloop.store._writer import LogWriter

__all__ = [
    "ExportResult",
    "LOG_COLUMNS",
    "LogColumn",
    "LogRange",
    "LogSchema",
    "LogWriter",
    "MAX_PERIOD",
    "OutcomeResult",
    "Period",
    "PredictionRecord",
    "SchemaStatus",
    "Store",
    "check_period",
    "export_log",
    "log_schema",
    "open_period_id",
    "parse_period",
    "read_pages",
    "read_range",
    "split_log",
]
