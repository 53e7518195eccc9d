"""Keep an embedded MLflow store working when its project folder is moved or copied.

MLflow writes absolute artifact locations into its database (``file:///old/place/.tabloop/
mlartifacts/...``) and resolves relative ones against the working directory, so there is no
location that travels with a folder. tabloop creates every experiment of an embedded SQLite
store with the artifact root beside the database (``<folder of mlflow.db>/mlartifacts``);
when a store is opened and that root is not where its experiments say, the project was
moved or copied, and :func:`relocate_store` re-points the stored locations at the store's
own ``mlartifacts`` in one transaction. After that every reader sees a consistent store:
``tabloop predict`` and ``serve``, ``mlflow.pyfunc.load_model("models:/...")`` and
``mlflow ui``. A copy gets its own artifacts, never the original's.

Only locations under an old ``mlartifacts`` root are rewritten, and only when the new root
holds that root's runs (a database copied without its artifacts keeps pointing at the
originals, as some teams and tests copy a registry to experiment on its aliases).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

from tabloop.exceptions import RegistryError

#: MLflow's columns that hold an artifact location (``table``, ``column``); a column this
#: MLflow version lacks is skipped.
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)
ROOT_NAME = "mlartifacts"


def relocate_store(database: Path) -> list[str]:
    """Re-point the artifact locations of the SQLite store ``database`` at the
    ``mlartifacts`` folder beside it; return the old roots replaced (empty: nothing moved).

    Raises :class:`~tabloop.exceptions.RegistryError` when the store was moved but cannot
    be updated (a read-only file), naming both places.
    """
    root = (database.parent / ROOT_NAME).resolve()
    if not database.is_file() or not root.is_dir():
        return []
    new = root.as_uri()
    old: list[str] = []
    try:
        with closing(_open(database)) as connection:
            if not _old_roots(connection, root):
                return []
            connection.execute("BEGIN IMMEDIATE")
            old = _old_roots(connection, root)  # another process may have just done it
            for table, column in _columns(connection):
                for prefix in old:
                    connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (new, len(prefix) + 1, prefix, len(prefix) + 1, prefix + "/"),
                    )
            connection.execute("COMMIT")
    except sqlite3.Error as exc:
        before = ", ".join(str(_path(uri)) for uri in old) or "another folder"
        raise RegistryError(
            f"The MLflow store {database} was moved or copied (its artifacts were at "
            f"{before}) but its artifact locations could not be updated to {root}: {exc}. "
            "Make the file writable and retry."
        ) from None
    return old


def _open(database: Path) -> sqlite3.Connection:
    # isolation_level None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
    return sqlite3.connect(database, timeout=30, isolation_level=None)


def _old_roots(connection: sqlite3.Connection, root: Path) -> list[str]:
    """Experiment roots that end in ``/mlartifacts``, are not ``root`` and whose artifacts
    travelled to ``root``."""
    try:
        rows = connection.execute(
            "SELECT DISTINCT artifact_location FROM experiments "
            "WHERE artifact_location LIKE 'file://%/' || ? AND artifact_location != ?",
            (ROOT_NAME, root.as_uri()),
        ).fetchall()
    except sqlite3.OperationalError:  # not an MLflow store yet (no tables)
        return []
    return sorted(str(r[0]) for r in rows if _travelled(connection, str(r[0]), root))


def _travelled(connection: sqlite3.Connection, prefix: str, root: Path) -> bool:
    """Whether ``root`` holds the artifacts of a run stored under ``prefix`` (a project
    moved or copied whole), or, for an experiment without runs, ``prefix`` is gone. A
    database copied alone keeps pointing at the original artifacts."""
    runs = connection.execute(
        "SELECT artifact_uri FROM runs WHERE substr(artifact_uri, 1, ?) = ?",
        (len(prefix) + 1, prefix + "/"),
    ).fetchall()
    if not runs:
        return not _path(prefix).exists()
    return any((root / unquote(str(r[0])[len(prefix) + 1 :])).exists() for r in runs)


def _path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def _columns(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    out = []
    for table, column in LOCATION_COLUMNS:
        found = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column in found:
            out.append((table, column))
    return out
