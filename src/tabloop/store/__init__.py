"""The prediction log: a durable record of every prediction served and its true outcome.

:class:`Store` reads and writes the log (SQLite or PostgreSQL, schema managed by the Alembic
migrations in ``migrations/``); :class:`LogWriter` writes it in batches off the request path,
spooling to files when the database is away. See ``_writer.py`` for the durability note.
"""

from tabloop.store._records import OutcomeResult, PredictionRecord
from tabloop.store._store import SchemaStatus, Store
from tabloop.store._writer import LogWriter

__all__ = [
    "LogWriter",
    "OutcomeResult",
    "PredictionRecord",
    "SchemaStatus",
    "Store",
]
