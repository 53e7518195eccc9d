"""`tabloop serve` and `tabloop store` as a user runs them: bad set-ups end in one clear line
and a non-zero exit before any port is bound; an old log is upgraded in place."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tabloop.store import Store
from tabloop.store._migrate import upgrade
from tabloop.store._tables import VERSION_TABLE
from tests.cli.test_cli import assert_one_line_error, run, unwrap


def write_project(folder: Path, **serve: object) -> Path:
    (folder / "cases.csv").write_text("x,y\n1,0\n2,1\n")
    project = {
        "name": "cases",
        "data": {"train": "cases.csv", "target": "y"},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "serve": {"store_url": f"sqlite:///{folder / 'log.db'}", **serve},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return folder


def test_serve_refuses_a_public_bind_without_keys(tmp_path):
    result = run("serve", "--host", "0.0.0.0", cwd=write_project(tmp_path))
    assert_one_line_error(result, "Refusing to serve on 0.0.0.0 without API keys", "--insecure")


def test_serve_without_a_registered_model_names_the_alias(tmp_path):
    result = run("serve", cwd=write_project(tmp_path))
    assert_one_line_error(result, "'cases'@'champion'", "tabloop train")


def test_store_status_and_upgrade_of_a_log_made_by_the_first_release(tmp_path):
    folder = write_project(tmp_path)
    url = f"sqlite:///{folder / 'log.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        upgrade(connection, "0001")
    engine.dispose()

    status = run("store", "status", cwd=folder)
    assert status.returncode == 1 and "revision 0001" in status.stdout
    assert "needs upgrade" in status.stdout

    upgraded = run("store", "upgrade", cwd=folder)
    assert upgraded.returncode == 0, upgraded.stderr
    store = Store(url)
    assert store.revision() == store.head()
    store.close()
    again = run("store", "upgrade", cwd=folder)
    assert "already at revision" in again.stdout
    assert run("store", "status", cwd=folder).returncode == 0


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [("--port", "99999", "1 to 65535"), ("--port", "0", "1 to 65535"),
     ("--workers", "0", "1 to 64")],
)  # fmt: skip
def test_serve_with_a_port_or_worker_count_out_of_range_is_a_usage_error(
    tmp_path, option, value, allowed
):
    result = run("serve", option, value, cwd=write_project(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{option}': must be from {allowed}; got {value}." in result.stderr


def _log_at_head(folder: Path, statement: str) -> None:
    """The project's log created by `tabloop store upgrade`, then altered by ``statement``."""
    assert run("store", "upgrade", cwd=folder).returncode == 0
    engine = sa.create_engine(f"sqlite:///{folder / 'log.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


def test_store_status_of_a_log_at_a_newer_revision_says_to_upgrade_tabloop(tmp_path):
    folder = write_project(tmp_path)
    _log_at_head(folder, f"UPDATE {VERSION_TABLE} SET version_num = '0099'")
    status = run("store", "status", cwd=folder)
    assert status.returncode == 1, status.stderr
    assert "revision '0099', newer than this tabloop knows" in status.stdout
    assert "Upgrade tabloop" in status.stdout and "needs upgrade" not in status.stdout
    assert_one_line_error(run("store", "upgrade", cwd=folder), "newer than this tabloop")


def test_store_status_of_tables_without_a_version_table_names_them(tmp_path):
    folder = write_project(tmp_path)
    _log_at_head(folder, f"DROP TABLE {VERSION_TABLE}")
    status = run("store", "status", cwd=folder)
    assert status.returncode == 1, status.stderr
    tables = "tabloop_outcome_batches, tabloop_outcomes, tabloop_periods, tabloop_predictions"
    expected = f"not created by tabloop, or its version table is missing: {tables}"
    assert expected in unwrap(status.stdout) and "empty" not in status.stdout
    assert_one_line_error(run("store", "upgrade", cwd=folder), expected)
    store = Store(f"sqlite:///{folder / 'log.db'}")
    assert store.revision() is None  # upgrade created nothing over the tables
    store.close()
