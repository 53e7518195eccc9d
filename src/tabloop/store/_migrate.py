"""The log's schema revisions: Alembic configured in code, run on a caller's connection.

The migration scripts ship inside the package (``migrations/``), so users need no
``alembic.ini``. The revision lives in ``tabloop_alembic_version`` rather than Alembic's
default ``alembic_version``, which MLflow uses when it shares the database.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tabloop.store._tables import PREFIX, VERSION_TABLE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for the shipped scripts; ``connection`` is the one env.py uses."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this tabloop ships."""
    revision = _script().get_current_head()
    assert revision is not None, f"no migration scripts in {MIGRATIONS}"
    return revision


def known() -> list[str]:
    """Every shipped revision, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def current(connection: sa.Connection) -> str | None:
    """The revision recorded in the database; None where tabloop has not created its tables."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def tables(connection: sa.Connection) -> list[str]:
    """tabloop's tables (prefix ``tabloop_``) in the database, the version table aside."""
    names = sa.inspect(connection).get_table_names()
    return sorted(name for name in names if name.startswith(PREFIX) and name != VERSION_TABLE)


def upgrade(connection: sa.Connection, target: str = "head") -> None:
    """Migrate within the caller's transaction on ``connection`` up to ``target``."""
    command.upgrade(alembic_config(connection), target)


def downgrade(connection: sa.Connection, target: str) -> None:
    """Migrate down to ``target`` (for maintainers and tests; data of later revisions is lost)."""
    command.downgrade(alembic_config(connection), target)
