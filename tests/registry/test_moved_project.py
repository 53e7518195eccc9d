"""A project folder moved or copied whole keeps working: its embedded MLflow store is
re-pointed at the folder's own artifacts by the first command run there; a store copied
without its artifacts keeps reading the originals."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.cli.test_cli import run
from tests.projects import trained_titanic
from tests.servers import tabloop_serve


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, load) -> Path:
    """A project trained by `tabloop train` with the default store, ``.tabloop/mlflow.db``."""
    df = load("titanic")
    folder = trained_titanic(
        tmp_path_factory.mktemp("moving") / "project", df, model="linear", bootstrap=50
    )
    df.drop(columns="survived").head(25).to_csv(folder / "new.csv", index=False)
    return folder


def locations(folder: Path) -> list[str]:
    """Every artifact location the project's store holds."""
    with sqlite3.connect(folder / ".tabloop" / "mlflow.db") as connection:
        rows = connection.execute(
            "SELECT artifact_uri FROM runs UNION ALL SELECT storage_location FROM "
            "model_versions UNION ALL SELECT artifact_location FROM logged_models"
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def predicted(folder: Path) -> pd.DataFrame:
    done = run("predict", "new.csv", "-o", "out.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(folder / "out.csv")


@pytest.mark.slow
def test_a_moved_project_predicts_and_serves_from_its_new_place(trained, tmp_path):
    before = predicted(trained)
    moved = tmp_path / "project2"
    shutil.copytree(trained, moved)
    away = trained.parent / "away"
    (trained / ".tabloop").rename(away)  # the old place is gone: only the moved copy has it
    try:
        after = predicted(moved)  # a fresh process in the new place
        pd.testing.assert_frame_equal(after, before)
        assert all(uri.startswith((moved / ".tabloop").as_uri() + "/") for uri in locations(moved))

        server = tabloop_serve(moved)
        try:
            row = pd.read_csv(moved / "new.csv").head(1)
            answer = httpx.post(
                f"{server.url}/predict",
                json={"records": row.to_dict(orient="records")},
                timeout=60,
            )
        finally:
            server.stop()
        assert answer.status_code == 200, answer.text
        first = answer.json()["predictions"][0]
        assert first["model_version"] == "1"
        assert first["probability"] == pytest.approx(before["probability"][0])
    finally:
        away.rename(trained / ".tabloop")  # the other tests' store, as it was


@pytest.mark.slow
def test_a_copied_project_reads_its_own_artifacts_not_the_originals(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    predicted(copy)
    assert all(uri.startswith((copy / ".tabloop").as_uri() + "/") for uri in locations(copy))
    original = (trained / ".tabloop").as_uri() + "/"
    assert all(uri.startswith(original) for uri in locations(trained))


@pytest.mark.slow
def test_a_store_copied_without_its_artifacts_keeps_reading_the_originals(trained, tmp_path):
    copy = tmp_path / "db-only"
    copy.mkdir()
    for name in ("tabloop.yaml", "titanic.csv", "new.csv"):
        shutil.copy(trained / name, copy / name)
    (copy / ".tabloop").mkdir()
    shutil.copy(trained / ".tabloop" / "mlflow.db", copy / ".tabloop" / "mlflow.db")
    (copy / ".tabloop" / "mlartifacts").mkdir()  # as if another project had been created
    assert len(predicted(copy)) == 25
    assert locations(copy) == locations(trained)
