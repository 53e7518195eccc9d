"""Retraining: what goes into the challenger, what it is judged on, and when it is promoted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from tabloop.exceptions import RetrainError
from tabloop.monitor import production as prod
from tabloop.retrain import assemble, retrain
from tests.stops import fill_log, stops_config


@pytest.fixture
def production() -> pd.DataFrame:
    from tabloop.examples import traffic_stops

    return traffic_stops(6000, production=True)


@pytest.fixture
def own_registry(stops_model: dict[str, Any], tmp_path: Path) -> str:
    """A copy of the session's MLflow store: retraining here moves no alias elsewhere."""
    source = Path(stops_model["uri"].removeprefix("sqlite:///"))
    shutil.copy(source, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _config(stops_model: dict[str, Any], tmp_path: Path, uri: str | None = None, **retrain: Any):
    (tmp_path / "data").mkdir(exist_ok=True)
    stops_model["df"].to_csv(tmp_path / "data" / "stops.csv", index=False)
    return stops_config(
        uri or stops_model["uri"],
        tmp_path,
        retrain={"filter": "searched == True", "holdout": 0.3, **retrain},
    )


def _production_frame(config: Any, stops_model: dict[str, Any], rows: pd.DataFrame):
    fill_log(config.serve.store_url, stops_model["result"].model, rows, labels=rows["contraband"])
    return _read_log(config)


def _read_log(config: Any) -> pd.DataFrame:
    from tabloop.store import Store

    store = Store(config.serve.store_url)
    log = store.predictions(period="all")
    store.close()
    frame = prod.from_log(log)
    frame[config.data.id] = log["entity_id"].astype(int)
    return frame


def test_assemble_filters_holds_out_the_newest_labelled_rows_and_never_trains_on_them(
    stops_model, production, tmp_path
):
    config = _config(stops_model, tmp_path)
    frame = _production_frame(config, stops_model, production)
    original = stops_model["df"]
    data = assemble(config, original=original, production=frame)

    labelled = frame[frame[prod.OUTCOME].notna()].sort_values(prod.TIME)
    n_hold = round(len(labelled) * 0.3)
    assert data.counts["original_kept"] == int(original["searched"].sum())
    assert data.counts["production_labelled"] == len(labelled)
    assert len(data.holdout) == data.counts["holdout"] == n_hold
    newest = set(labelled["stop_id"].tail(n_hold))
    assert set(data.holdout["stop_id"]) == newest
    assert not newest & set(data.train["stop_id"])
    assert len(data.train) == data.counts["original_kept"] + len(labelled) - n_hold
    # outcomes became the target with the target's type; no helper column leaks in
    assert data.train["found"].dtype == bool and data.holdout["found"].dtype == bool
    assert "_tabloop_source" not in data.train.columns and prod.TIME not in data.train.columns
    assert data.holdout["found"].tolist() == [bool(v) for v in labelled["outcome"].tail(n_hold)]


def test_a_production_label_supersedes_the_original_row_of_the_same_id(
    stops_model, production, tmp_path
):
    config = _config(stops_model, tmp_path, filter=None)
    original = stops_model["df"]
    # the first 40 production stops are re-sent training stops, now labelled in production
    repeat = production.head(400).copy()
    repeat.loc[repeat.index[:40], "stop_id"] = original["stop_id"].iloc[:40].to_numpy()
    frame = _production_frame(config, stops_model, repeat)
    data = assemble(config, original=original, production=frame)
    assert data.train["stop_id"].is_unique
    assert data.counts["duplicates_dropped"] > 0
    searched_repeats = repeat.head(40)["contraband"].notna().sum()
    expected = len(original) - min(searched_repeats, 40) + data.counts["production_train"]
    assert len(data.train) <= expected + data.counts["holdout"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"filter": "vehicle_age * 2"}, "must give True/False per row"),
        ({"filter": "vehicle_age > 1000"}, "keeps none of the 3000 rows"),
        ({"filter": "colour == 'red'"}, "colour"),
    ],
)
def test_bad_filters_name_the_expression(stops_model, production, tmp_path, section, message):
    from tabloop.exceptions import FormulaError

    config = _config(stops_model, tmp_path, **section)
    frame = _production_frame(config, stops_model, production.head(200))
    with pytest.raises((RetrainError, FormulaError), match=message):
        assemble(config, original=stops_model["df"], production=frame)


def test_too_few_outcomes_or_an_unknown_label_is_a_typed_error(stops_model, production, tmp_path):
    config = _config(stops_model, tmp_path)
    frame = _production_frame(config, stops_model, production.head(200))
    unlabelled = frame.assign(outcome=np.nan)
    with pytest.raises(RetrainError, match="Only 0 production rows have an outcome"):
        assemble(config, original=stops_model["df"], production=unlabelled)
    weird = frame.assign(outcome=frame["outcome"].where(frame["outcome"].isna(), "maybe"))
    with pytest.raises(RetrainError, match="'maybe' is not a value of the target 'found'"):
        assemble(config, original=stops_model["df"], production=weird)
    with pytest.raises(RetrainError, match="holds no rows"):
        assemble(config, original=stops_model["df"], production=frame.iloc[:0])


@pytest.mark.slow
def test_retrain_promotes_a_proven_better_challenger_and_says_why(
    stops_model, production, own_registry, tmp_path
):
    from tabloop.registry import list_versions
    from tabloop.registry._package import load_package

    config = _config(stops_model, tmp_path, own_registry, metric="f1")
    _production_frame(config, stops_model, production)
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    data = result.data
    diff = data["comparison"]["difference"]

    # recompute both models' F1 on the held-out rows with sklearn
    frame = _read_log(config)
    held = assemble(config, original=stops_model["df"], production=frame).holdout
    champion = stops_model["result"].model
    challenger = load_package(data["challenger"], config=config).model
    y = held["found"].astype(bool).to_numpy()
    for model, value in ((champion, diff["value_a"]), (challenger, diff["value_b"])):
        threshold = 0.5 if model.threshold is None else model.threshold
        assert value == pytest.approx(f1_score(y, model.predict_scores(held) >= threshold))
    assert data["decision"]["better"] is True and result.promoted
    assert diff["ci_low"] > 0
    versions = {v["version"]: v["aliases"] for v in list_versions(config)}
    assert "champion" in versions[2] and "champion" not in versions[1]
    assert (tmp_path / "reports" / "retrain.html").exists()
    assert "version 2 is now the champion" in data["decision"]["reason"]
    # the comparison travels with the registered challenger
    import mlflow

    client = mlflow.MlflowClient(own_registry)
    run_id = client.get_model_version("stops", "2").run_id
    attached = {a.path for a in client.list_artifacts(run_id, "reports")}
    assert {"reports/retrain.json", "reports/retrain.html"} <= attached
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/reports/retrain.json")
    assert logged["challenger"] == "models:/stops/2" and logged["decision"]["promoted"]
    # ... as the run's name, tags and metrics, which MLflow's UI compares across runs
    run = client.get_run(run_id)
    assert run.info.run_name == "retrain stops v2"
    assert run.data.tags["tabloop.kind"] == "retrain"
    assert run.data.tags["tabloop.champion"] == "models:/stops/1"
    assert run.data.tags["tabloop.retrain_metric"] == "f1"
    assert run.data.tags["tabloop.decision"] == data["decision"]["reason"]
    metrics = run.data.metrics
    assert metrics["champion_f1"] == pytest.approx(diff["value_a"])
    assert metrics["challenger_f1"] == pytest.approx(diff["value_b"])
    assert metrics["retrain_improvement"] == pytest.approx(diff["improvement"])
    assert metrics["retrain_improvement_ci_low"] == pytest.approx(diff["ci_low"])
    assert metrics["retrain_rows"] == len(held)
    flags = ("better", "requirements_met", "beats_dummy", "promoted")
    assert {f: metrics[f"retrain_{f}"] for f in flags} == dict.fromkeys(flags, 1.0)


@pytest.mark.slow
def test_without_proof_the_challenger_stays_challenger(
    stops_model, production, own_registry, tmp_path
):
    from tabloop.registry import list_versions

    # an impossible margin: better is not enough
    config = _config(stops_model, tmp_path, own_registry, metric="f1", margin=0.9)
    _production_frame(config, stops_model, production)
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    assert not result.promoted and not result.better
    assert "not above margin 0.9" in result.data["decision"]["reason"]
    versions = {v["version"]: v["aliases"] for v in list_versions(config)}
    assert "champion" in versions[1] and "challenger" in versions[2]


def test_a_failed_requirement_blocks_promotion_an_unknown_one_does_not():
    from tabloop.retrain._retrain import _decide

    better = {
        "metric": "f1",
        "rows": 300,
        "difference": {
            "higher_is_better": True,
            "ci_low": 0.03,
            "ci_high": 0.1,
            "improvement": 0.06,
        },
    }
    unknown = {"expression": "fairness.max_gap <= 0.05", "status": "unknown"}
    violated = {"expression": "fairness.max_gap <= 0.05", "status": "fail"}
    assert _decide({**better, "requirements": [unknown]}, 0.0)["requirements_met"] is True
    decision = _decide({**better, "requirements": [violated]}, 0.0)
    assert decision["better"] is True and decision["requirements_met"] is False
    assert "requirements not met: fairness.max_gap <= 0.05" in decision["reason"]
    worse = {**better, "difference": {**better["difference"], "ci_low": -0.01}}
    assert _decide({**worse, "requirements": []}, 0.0)["better"] is False


def test_a_challenger_that_does_not_beat_the_dummy_is_never_promoted_even_when_better():
    from tabloop.retrain._retrain import _decide
    from tabloop.train._baseline import check_against_dummy

    # better than a decayed champion on the held-out rows, but it learned nothing
    better = {
        "metric": "f1",
        "rows": 300,
        "requirements": [],
        "difference": {
            "higher_is_better": True,
            "ci_low": 0.03,
            "ci_high": 0.1,
            "improvement": 0.06,
        },
    }
    useless = check_against_dummy(
        [0.5, 0.5, 0.5],
        [0.5, 0.5, 0.5],
        metric="roc_auc",
        weights={"dummy": 1.0},
        validation_share=0.5,
        skipped=["linear"],
    )
    decision = _decide(better, 0.0, useless)
    assert decision["better"] is True and decision["requirements_met"] is True
    assert decision["beats_dummy"] is False
    assert decision["reason"].startswith(
        "the challenger does not beat the dummy baseline: only the dummy finished"
    )
    assert _decide(better, 0.0)["beats_dummy"] is True


def test_a_project_that_trains_on_a_cluster_retrains_in_this_process(
    stops_model, production, own_registry, tmp_path
):
    """The challenger's table joins production rows in memory: train.engine dask in the
    project file must not stop retraining (it raised 'reads data.train on the workers')."""
    config = _config(stops_model, tmp_path, own_registry)
    update = {"engine": "dask", "models": ["lightgbm"]}
    config = config.model_copy(update={"train": config.train.model_copy(update=update)})
    _production_frame(config, stops_model, production)
    result = retrain(config, out_dir=tmp_path / "reports")
    assert result.data["challenger"] == "models:/stops/2"  # trained, registered
    assert result.data["challenger_evaluation"]["metrics"]["roc_auc"]["value"] > 0.5
