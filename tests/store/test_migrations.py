"""The schema is made and moved only by the shipped Alembic revisions."""

from __future__ import annotations

import fnmatch
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tabloop.exceptions import StoreError, StoreOutdatedError
from tabloop.store import SchemaStatus, Store
from tabloop.store._migrate import MIGRATIONS, alembic_config
from tabloop.store._tables import VERSION_TABLE, metadata

HEAD = "0002"
REPO = Path(__file__).resolve().parents[2]

# The 0001 tables as that revision made them
_predictions_0001 = sa.table(
    "tabloop_predictions",
    *(sa.column(name) for name in ("prediction_id", "variant", "model_name", "model_version")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("inputs", sa.JSON),
    sa.column("context", sa.JSON),
    sa.column("prediction", sa.JSON),
    sa.column("latency_ms", sa.Float),
)
_outcomes_0001 = sa.table(
    "tabloop_outcomes",
    sa.column("prediction_id"),
    sa.column("value", sa.JSON),
    sa.column("received_at", sa.DateTime(timezone=True)),
)


def _at_0001_with_rows(url: str) -> None:
    """A log made by the tabloop of revision 0001: two predictions, one labelled."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(
                _predictions_0001.insert(),
                [
                    {
                        "prediction_id": pid,
                        "variant": "A",
                        "model_name": "churn",
                        "model_version": "1",
                        "created_at": datetime(2026, 1, day, 8, tzinfo=UTC),
                        "inputs": {"age": day},
                        "context": {},
                        "prediction": "yes",
                        "latency_ms": 1.0,
                    }
                    for pid, day in (("old-1", 5), ("old-2", 6))
                ],
            )
            conn.execute(
                _outcomes_0001.insert().values(
                    prediction_id="old-1", value="no", received_at=datetime(2026, 1, 9, tzinfo=UTC)
                )
            )
    finally:
        engine.dispose()


def test_an_empty_database_opens_at_head(url):
    store = Store(url)
    try:
        assert (store.head(), store.revision()) == (HEAD, None)
        store.open()
        assert store.revision() == HEAD
        assert [p["id"] for p in store.periods()] == [1]
        store.open()  # at head: nothing to do
        assert store.upgrade() == (HEAD, HEAD)
    finally:
        store.close()


def test_upgrade_of_an_empty_database_creates_it(url):
    store = Store(url)
    try:
        assert store.upgrade() == (None, HEAD)
        assert store.revision() == HEAD and store.current_period() == 1
    finally:
        store.close()


def test_a_log_at_0001_is_outdated_until_upgraded_and_keeps_its_rows(url, make_record):
    _at_0001_with_rows(url)
    store = Store(url)
    try:
        with pytest.raises(StoreOutdatedError, match="Run `tabloop store upgrade`") as error:
            store.open()
        assert (error.value.current, error.value.head) == ("0001", HEAD)
        assert f"at {store.url} is at schema revision 0001; this tabloop needs {HEAD}" in str(
            error.value
        )

        assert store.upgrade() == ("0001", HEAD)
        store.open()
        log = store.predictions(period=1)
        assert log["prediction_id"].tolist() == ["old-1", "old-2"]
        assert log["outcome"].tolist()[0] == "no" and log["outcome_batch"].tolist()[0] == 1
        assert log["outcome_batch"].isna().tolist() == [False, True]
        assert log["inputs"].tolist() == [{"age": 5}, {"age": 6}]
        (period,) = store.periods()
        assert (period["started_at"], period["ended_at"]) == ("2026-01-05T08:00:00+00:00", None)
        assert (period["predictions"], period["labelled"]) == (2, 1)

        store.insert_predictions([make_record(0)])
        assert store.record_outcomes([("old-2", "yes"), ("p00000", "no")]).batch_id == 2
        assert store.predictions()["period_id"].tolist() == [1, 1, 1]
    finally:
        store.close()


def _execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_status_of_an_empty_an_outdated_and_a_current_log(url):
    store = Store(url)
    try:
        # a SQLite file that is not there yet stays not there: status creates nothing
        exists = not url.startswith("sqlite")
        assert store.status() == SchemaStatus(None, HEAD, "empty", exists=exists)
        if not exists:
            assert not Path(url.removeprefix("sqlite:///")).exists()
        store.open()
        assert store.status() == SchemaStatus(HEAD, HEAD, "up to date")
        store.close()
        _execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '0001'")
        status = store.status()
        assert (status.revision, status.state) == ("0001", "needs upgrade")
        assert status.problem is not None and "Run `tabloop store upgrade`" in status.problem
    finally:
        store.close()


def test_a_revision_this_tabloop_does_not_know_is_refused_as_newer(url):
    store = Store(url)
    try:
        store.open()
        _execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '0099'")
        status = store.status()
        assert (status.revision, status.state) == ("0099", "newer")
        for call in (store.open, store.upgrade):
            with pytest.raises(StoreError, match="revision '0099', newer than this tabloop") as e:
                call()
            assert "Upgrade tabloop" in str(e.value) and str(e.value) == status.problem
    finally:
        store.close()


def test_tables_without_a_version_table_are_refused_and_left_as_they_are(url, make_record):
    store = Store(url)
    try:
        store.open()
        store.insert_predictions([make_record(0)])
        _execute(url, f"DROP TABLE {VERSION_TABLE}")
        tables = ("tabloop_outcome_batches", "tabloop_outcomes", "tabloop_periods",
                  "tabloop_predictions")  # fmt: skip
        status = store.status()
        assert (status.revision, status.state, status.tables) == (None, "unversioned", tables)
        expected = f"not created by tabloop, or its version table is missing: {', '.join(tables)}"
        for call in (store.open, store.upgrade):
            with pytest.raises(StoreError, match=expected) as error:
                call()
            assert not isinstance(error.value, StoreOutdatedError)
        assert store.revision() is None  # no version table was created
        assert store.predictions()["prediction_id"].tolist() == ["p00000"]
    finally:
        store.close()


def test_concurrent_opens_of_an_empty_database_create_it_once(url):
    stores = [Store(url) for _ in range(4)]
    errors: list[BaseException] = []

    def open_(store: Store) -> None:
        try:
            store.open()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [p["id"] for p in stores[0].periods()] == [1]
    finally:
        for store in stores:
            store.close()


def test_head_creates_exactly_the_tables_the_code_queries(url):
    store = Store(url)
    store.upgrade()
    store.close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_0001_and_back_keeps_predictions_and_outcomes(sqlite_url, make_record):
    store = Store(sqlite_url)
    store.open()
    store.insert_predictions([make_record(0), make_record(1)])
    store.record_outcomes([("p00001", "no")])
    store.close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    engine.dispose()

    assert store.revision() == "0001"
    assert store.upgrade() == ("0001", HEAD)
    log = store.predictions()
    assert log["prediction_id"].tolist() == ["p00000", "p00001"]
    assert log["outcome"].tolist()[1] == "no"
    store.close()


def test_the_migration_scripts_ship_in_the_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tabloop"]
    package = MIGRATIONS.parents[1]  # src/tabloop
    files = [p.relative_to(package).as_posix() for p in MIGRATIONS.rglob("*.py")]
    assert {"store/migrations/env.py", "store/migrations/versions/v0002_periods_batches.py"} <= set(
        files
    )
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []
