"""`tabloop log` as a user runs it on a real SQLite log: the terminal table (80 columns, most
recent first), CSV and Parquet files with typed inputs, and one-line refusals that write
nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tabloop.store import PredictionRecord, Store
from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_serve_cli import write_project

T0 = datetime(2026, 12, 5, 8, tzinfo=UTC)


def record(i: int) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=f"p{i:04d}",
        created_at=T0 + timedelta(minutes=i),
        variant="AB"[i % 2],
        model_name="spend",
        model_version=str(1 + i % 2),
        entity_id=f"customer-{i % 7}",
        request_id=None,
        inputs={"months": i % 12, "city": ["Lyon", "Oslo", "Porto"][i % 3], "spend": 10.5 * i},
        context={"channel": "web" if i % 4 else "shop"},
        prediction=100.0 + 2.25 * i,
        score=None,
        probabilities=None,
        latency_ms=1.0,
    )


TRUTH = {f"p{i:04d}": 99.0 + 2 * i for i in range(5, 35)}  # outcomes of period 2's first 20


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Period 1: predictions 0-4; period 2 (current): 5-34, outcomes for 5-24 in 2 batches."""
    folder = write_project(tmp_path)
    store = Store(f"sqlite:///{folder / 'log.db'}")
    store.open()
    store.insert_predictions([record(i) for i in range(5)])
    store.reset("second experiment")
    store.insert_predictions([record(i) for i in range(5, 35)])
    labelled = [(pid, TRUTH[pid]) for pid in sorted(TRUTH)[:20]]
    store.record_outcomes(labelled[:12])
    store.record_outcomes(labelled[12:])
    store.close()
    return folder


def run80(*args: str, cwd: Path):
    """The command in a terminal 80 columns wide (the suite runs the CLI at 200)."""
    return run(*args, cwd=cwd, columns=80)


def test_the_terminal_shows_the_most_recent_predictions_with_outcomes_in_80_columns(project):
    shown = run80("log", cwd=project)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(map(len, lines)) <= 80, shown.stdout
    assert lines[0] == "Period 2 (current): 30 predictions, 20 labelled."
    rows = [line for line in lines if re.match(r"\s*2026-12-05 ", line)]
    assert len(rows) == 20  # the default limit
    newest = [record(i) for i in range(34, 14, -1)]  # most recent first
    for line, expected in zip(rows, newest, strict=True):
        cells = line.split()
        assert " ".join(cells[:2]) == expected.created_at.strftime("%Y-%m-%d %H:%M:%S")
        assert cells[2:5] == [expected.variant, expected.entity_id, f"{expected.prediction:g}"]
        truth = TRUTH.get(expected.prediction_id) if int(expected.prediction_id[1:]) < 25 else None
        batch = "1" if int(expected.prediction_id[1:]) < 17 else "2"
        assert cells[5:] == ([f"{truth:g}", batch] if truth is not None else ["–", "–"])

    only_b = run("log", "--variant", "B", "--limit", "3", "--period", "all", cwd=project)
    assert only_b.returncode == 0, only_b.stderr
    b_rows = [line.split() for line in only_b.stdout.splitlines() if "2026-12-05 " in line]
    assert [r[2] for r in b_rows] == ["B"] * 3
    assert [r[3] for r in b_rows] == ["customer-5", "customer-3", "customer-1"]  # 33, 31, 29
    assert "All periods: 35 predictions, 20 labelled." in only_b.stdout

    first = run("log", "--period", "1", cwd=project)
    assert first.returncode == 0 and first.stdout.startswith("Period 1: 5 predictions, 0 labelled")


def test_a_csv_file_holds_every_prediction_of_the_period_with_typed_inputs(project):
    done = run("log", "-o", "period2.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "Wrote 30 predictions (20 labelled) of period 2 (current)" in done.stdout
    frame = pd.read_csv(project / "period2.csv")
    expected = [record(i) for i in range(5, 35)]  # oldest first
    assert frame["prediction_id"].tolist() == [r.prediction_id for r in expected]
    assert frame["prediction"].tolist() == [r.prediction for r in expected]
    assert frame["months"].tolist() == [r.inputs["months"] for r in expected]
    assert frame["city"].tolist() == [r.inputs["city"] for r in expected]
    assert frame["channel"].tolist() == [r.context["channel"] for r in expected]
    outcome = frame.set_index("prediction_id")["outcome"]
    assert outcome.dropna().to_dict() == {k: TRUTH[k] for k in sorted(TRUTH)[:20]}
    assert frame["outcome_batch"].dropna().astype(int).value_counts().to_dict() == {1: 12, 2: 8}


def test_a_parquet_file_keeps_the_types_and_the_limit_keeps_the_most_recent(project):
    args = ["--period", "all", "--variant", "A", "--limit", "4", "-o", "a.parquet"]
    done = run("log", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(project / "a.parquet")
    assert frame["prediction_id"].tolist() == ["p0028", "p0030", "p0032", "p0034"]
    assert frame["spend"].dtype == "float64" and frame["months"].dtype == "int64"
    assert frame["spend"].tolist() == [10.5 * i for i in (28, 30, 32, 34)]
    assert str(frame["created_at"].dt.tz) == "UTC"


#: The sentence the service's /report?period=9 answers on the same log (tests/serve)
UNKNOWN_PERIOD = (
    "No period 9; this log has period(s) 1-2 (current: 2). Choose one of them, 'current' or 'all'."
)
NO_VARIANT = "--variant 'C': no prediction of the log is from that variant; its variants are A, B."


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["-o", "log.xlsx"], ["'log.xlsx'", ".csv or .parquet", "'.xlsx'"]),
        (["-o", "log"], ["'log'", ".csv or .parquet", "'none'"]),
        (["-o", "missing/log.csv"], ["'missing'", "does not exist"]),
        (["--period", "9", "-o", "log.csv"], [UNKNOWN_PERIOD]),
        (["--period", "9"], [UNKNOWN_PERIOD]),
        (["--period", "last"], ["--period", "'last'"]),
        (["--period", "99999999999999999999"], ["--period must be a number"]),
        (["--variant", "C", "-o", "log.csv"], [NO_VARIANT]),
        (["--variant", "C"], [NO_VARIANT]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(project, args, fragments):
    before = sorted(p.name for p in project.iterdir())
    assert_one_line_error(run("log", *args, cwd=project), *fragments)
    assert sorted(p.name for p in project.iterdir()) == before


def test_a_limit_below_one_is_refused(project):
    refused = run("log", "--limit", "0", cwd=project)
    assert refused.returncode == 2 and "must be 1 or more; got 0" in refused.stderr


def test_a_project_that_never_served_says_so(tmp_path):
    folder = write_project(tmp_path)
    shown = run("log", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    assert "holds no predictions yet (tabloop serve writes it)" in shown.stdout
    assert_one_line_error(run("log", "-o", "x.csv", cwd=folder), "holds no predictions yet")
    assert not (folder / "x.csv").exists()


def test_a_regression_log_shows_its_value_once_and_files_keep_every_digit(tmp_path):
    """A regression service logs its prediction as the score too (tabloop.serve): the
    terminal shows the value once, and a file writes prediction, score and outcome with the
    digits the service answered (SQLite kept the prediction as a 15-digit REAL text)."""
    folder = write_project(tmp_path)
    values = [339.4849078865149 + i / 7 for i in range(6)]  # 16-17 significant digits
    truth = {f"r{i}": 1 / 3 + i for i in range(3)}
    store = Store(f"sqlite:///{folder / 'log.db'}")
    store.open()
    store.insert_predictions(
        [
            PredictionRecord(
                prediction_id=f"r{i}",
                created_at=T0 + timedelta(minutes=i),
                variant="A",
                model_name="spend",
                model_version="1",
                entity_id=f"c{i}",
                request_id=None,
                inputs={"months": i},
                context={},
                prediction=value,
                score=value,
                probabilities=None,
                latency_ms=1.0,
            )
            for i, value in enumerate(values)
        ]
    )
    store.record_outcomes(list(truth.items()))
    store.close()

    shown = run80("log", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "time (UTC)" in line)
    assert header.split() == [
        "time",
        "(UTC)",
        "variant",
        "entity",
        "prediction",
        "outcome",
        "batch",
    ]
    rows = [line.split() for line in shown.stdout.splitlines() if "2026-12-05 " in line]
    newest = [f"{v:.6g}" for v in reversed(values)]
    outcomes = ["–"] * 3 + [f"{truth[f'r{i}']:.6g}" for i in (2, 1, 0)]
    assert [r[4:6] for r in rows] == [list(pair) for pair in zip(newest, outcomes, strict=True)]
    assert all(len(r) == 7 for r in rows)  # the value once: no score column

    for name in ("log.csv", "log.parquet"):
        assert run("log", "-o", name, cwd=folder).returncode == 0
        frame = (
            pd.read_csv(folder / name) if name.endswith("csv") else pd.read_parquet(folder / name)
        )
        assert frame["prediction"].tolist() == values, name
        assert frame["score"].tolist() == values, name
        assert frame.set_index("prediction_id")["outcome"].dropna().to_dict() == truth, name
    text = (folder / "log.csv").read_text()
    assert text.count(repr(values[0])) == 2  # prediction and score, the same text
