"""examples/customer_spend: two teams' own models trained, registered and compared, as its
README runs them (the installed script in subprocesses)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import root_mean_squared_error

from tabloop.examples import customer_spend, example_project

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer_spend"
SHIPPED = Path(__file__).parents[2] / "src" / "tabloop" / "examples" / "projects" / "customer_spend"
SCRIPT = str(Path(sys.executable).parent / "tabloop")
MONTHS = [f"spend_m{m:02d}" for m in range(1, 13)]


def tabloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TABLOOP_PROGRESS": "0", "COLUMNS": "200"}
    return subprocess.run(
        [SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("spend")
    for name in ("spendmodels.py", "tabloop.yaml", "challenger.yaml"):
        shutil.copyfile(EXAMPLE / name, root / name)
    (root / "data").mkdir()
    customer_spend(2_000).to_csv(root / "data" / "customer_spend.csv", index=False)
    first = tabloop("train", cwd=root)
    second = tabloop("train", "-c", "challenger.yaml", "--out", "reports/challenger", cwd=root)
    return root, first, second


def test_the_example_files_are_the_shipped_ones(tmp_path):
    for name in ("spendmodels.py", "tabloop.yaml", "challenger.yaml"):
        assert (EXAMPLE / name).resolve() == (SHIPPED / name).resolve()  # one copy, linked
    written = example_project("customer_spend", tmp_path, rows=50)
    assert (written / "spendmodels.py").read_text() == (SHIPPED / "spendmodels.py").read_text()
    assert len(pd.read_csv(written / "data" / "customer_spend.csv")) == 50


@pytest.mark.parametrize(
    ("name", "rows", "message"),
    [
        (
            "customer_spnd",
            None,
            r"one of the example projects \['customer_spend'\]; got 'customer_spnd'",
        ),
        ("customer_spend", 0, r"rows must be an integer >= 10; got 0"),
        ("customer_spend", 5, r"rows must be an integer >= 10; got 5"),
    ],
)
def test_an_unknown_project_or_too_few_rows_is_refused_before_writing(
    tmp_path, name, rows, message
):
    """rows=0 used to write the default 2,000 rows; an unknown name raised a
    FileNotFoundError although no file was asked for."""
    with pytest.raises(ValueError, match=message):
        example_project(name, tmp_path / "project", rows=rows)
    assert not (tmp_path / "project").exists()


def test_both_teams_models_are_registered(trained):
    _, first, second = trained
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "spendmodels:TrendModel" in first.stdout
    assert "Registered models:/spend/1 as champion." in first.stdout
    assert "spendmodels:SessionModel" in second.stdout
    assert "Registered models:/spend/2 as challenger." in second.stdout


def test_the_trend_model_beats_the_mean_by_what_an_independent_trend_achieves(trained, tmp_path):
    """On customers it never saw: the registered trend model's margin over the constant mean
    is at least 95% of the margin of a numpy per-customer line fitted month by month."""
    root, _, _ = trained
    history = pd.read_csv(root / "data" / "customer_spend.csv")
    fresh = customer_spend(600, seed=11)
    fresh.drop(columns="next_month_spend").to_csv(tmp_path / "fresh.csv", index=False)
    done = tabloop(
        "predict", str(tmp_path / "fresh.csv"), "-o", str(tmp_path / "a.csv"),
        "--model", "models:/spend/1", cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(tmp_path / "a.csv")["prediction"].to_numpy()

    def forecast(frame: pd.DataFrame) -> np.ndarray:  # each row's own line, read at month 13
        t = np.arange(1, 13)
        return np.array([np.polyval(np.polyfit(t, row, 1), 13) for row in frame[MONTHS].to_numpy()])

    calibration = np.polyfit(forecast(history), history["next_month_spend"], 1)
    truth = fresh["next_month_spend"].to_numpy()
    mean_rmse = root_mean_squared_error(
        truth, np.full(len(truth), history["next_month_spend"].mean())
    )
    independent = mean_rmse - root_mean_squared_error(
        truth, np.polyval(calibration, forecast(fresh))
    )
    assert independent > 0.5 * mean_rmse  # the trend is most of the signal
    assert mean_rmse - root_mean_squared_error(truth, predicted) >= 0.95 * independent
