"""README's promises on retraining, end to end on a regression project (apartments, rmse:
lower is better): a challenger proven better is promoted, a worse one is not, a failed
requirement blocks promotion; in the retraining set a production row's label supersedes the
original row of the same id, and no original row at or after the hold-out's start is kept.

The champion and the challenger differ in what they may learn from: without ``district``
(the strongest column of this data) a linear model is far worse, so which one is better is
known before the test runs and then checked with sklearn on the held-out rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import mean_squared_error

from tabloop.config import load_config
from tests.retrain import production

FEATURES = ["construction_year", "surface", "floor", "no_rooms", "district"]
T0 = production.T0
N_PRODUCTION = 600
HOLDOUT = 0.3


def write_project(folder: Path, datasets: Path, **sections: Any) -> Any:
    """An apartments project in ``folder`` (id ``apt``), its own registry and log."""
    data = folder / "data"
    data.mkdir(exist_ok=True)
    original = pd.read_csv(datasets / "apartments.csv").rename(columns={"Unnamed: 0": "apt"})
    original.to_csv(data / "apartments.csv", index=False)
    project = {
        "name": "apartments",
        "data": {"train": "data/apartments.csv", "target": "m2_price", "id": "apt"},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 200, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "serve": {"store_url": f"sqlite:///{folder / 'log.db'}"},
        "retrain": {"holdout": HOLDOUT},
        **sections,
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return load_config(folder / "tabloop.yaml")


def register_champion(config: Any) -> None:
    from tabloop import load_training_data, register
    from tabloop.train import train

    version = register(train(load_training_data(config), config=config), config=config)
    assert version.version in (1, "1")


def log_production(config: Any, rows: pd.DataFrame, outcomes: pd.Series) -> None:
    """Log ``rows`` as served by version 1, one an hour, with their outcomes."""
    production.log_production(
        config, rows, outcomes, entity="apt", features=FEATURES, prediction=0.0
    )


def production_rows(datasets: Path) -> pd.DataFrame:
    fresh = pd.read_csv(datasets / "apartments_test.csv").head(N_PRODUCTION)
    return fresh.drop(columns=fresh.columns[0]).assign(apt=np.arange(N_PRODUCTION) + 100_000)


def aliases(config: Any) -> dict[str, str]:
    import mlflow

    uri = config.registry.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {a: str(v) for a, v in client.get_registered_model("apartments").aliases.items()}


def held_out_rmse(config: Any, fresh: pd.DataFrame, version: int) -> float:
    """rmse of ``version`` on the newest HOLDOUT share of the production rows, by sklearn."""
    from tabloop.registry import load_model

    held = fresh.tail(round(N_PRODUCTION * HOLDOUT))
    model, _ = load_model(f"models:/apartments/{version}", config=config)
    predicted = model.predict(held[FEATURES])
    return float(np.sqrt(mean_squared_error(held["m2_price"], predicted)))


@pytest.fixture
def project(tmp_path, datasets):
    """``project(champion_drop, challenger_drop, **retrain_sections)``: a champion trained
    without ``champion_drop``, production rows logged, and the retrain config."""

    def make(champion_drop: list[str], challenger_drop: list[str], **sections: Any):
        champion_config = write_project(tmp_path, datasets, features={"drop": champion_drop})
        register_champion(champion_config)
        fresh = production_rows(datasets)
        log_production(champion_config, fresh, fresh["m2_price"])
        config = write_project(tmp_path, datasets, features={"drop": challenger_drop}, **sections)
        return config, fresh

    return make


def test_a_challenger_with_lower_rmse_is_promoted(project, tmp_path):
    from tabloop.retrain import retrain

    config, fresh = project(["district"], [])
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    comparison = result.data["comparison"]
    assert comparison["metric"] == "rmse"
    champion, challenger = held_out_rmse(config, fresh, 1), held_out_rmse(config, fresh, 2)
    assert challenger < champion
    assert comparison["difference"]["value_a"] == pytest.approx(champion, rel=1e-9)
    assert comparison["difference"]["value_b"] == pytest.approx(challenger, rel=1e-9)
    assert result.data["decision"]["better"] is True
    assert result.promoted and aliases(config)["champion"] == "2"


def test_a_challenger_with_higher_rmse_is_not_promoted(project, tmp_path):
    from tabloop.retrain import retrain

    config, fresh = project([], ["district"])
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    assert held_out_rmse(config, fresh, 2) > held_out_rmse(config, fresh, 1)
    assert result.data["decision"]["better"] is False
    assert not result.promoted
    assert aliases(config) == {"champion": "1", "challenger": "2"}


def test_a_failed_requirement_blocks_the_promotion_of_a_better_challenger(project, tmp_path):
    from tabloop.retrain import retrain

    config, _ = project(
        ["district"],
        [],
        evaluate={"bootstrap": 200, "importance": False, "requirements": ["rmse <= 1"]},
    )
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    decision = result.data["decision"]
    assert decision["better"] is True and decision["requirements_met"] is False
    assert "rmse <= 1" in decision["reason"]
    assert not result.promoted
    assert aliases(config)["champion"] == "1"


def test_a_production_label_supersedes_the_original_label_of_the_same_id(tmp_path, datasets):
    from tabloop.monitor import production as prod
    from tabloop.retrain import assemble
    from tabloop.store import Store

    config = write_project(tmp_path, datasets)
    original = pd.read_csv(tmp_path / "data" / "apartments.csv")
    fresh = production_rows(datasets).head(100)
    # the 40 oldest production rows are apartments of the table, sold again at a new price
    again = original["apt"].iloc[:40].to_numpy()
    fresh.loc[fresh.index[:40], "apt"] = again
    relabelled = original.set_index("apt").loc[again, "m2_price"] + 1000.0
    outcomes = fresh["m2_price"].copy()
    outcomes.iloc[:40] = relabelled.to_numpy()
    log_production(config, fresh, outcomes)

    store = Store(config.serve.store_url)
    log = store.predictions(period="all")
    store.close()
    frame = prod.from_log(log).assign(apt=log["entity_id"].astype(int).to_numpy())
    data = assemble(config, original=original, production=frame)

    n_hold = round(100 * HOLDOUT)
    assert set(data.holdout["apt"]) == set(fresh["apt"].tail(n_hold))
    train = data.train
    assert train["apt"].is_unique
    assert len(train) == len(original) + (100 - n_hold) - 40
    got = train.set_index("apt").loc[again, "m2_price"]
    np.testing.assert_array_equal(got.to_numpy(dtype=float), relabelled.to_numpy())
    untouched = original["apt"].iloc[40:]
    np.testing.assert_array_equal(
        train.set_index("apt").loc[untouched, "m2_price"].to_numpy(dtype=float),
        original["m2_price"].iloc[40:].to_numpy(dtype=float),
    )


def test_no_original_row_at_or_after_the_holdout_start_is_trained_on(tmp_path, datasets):
    from tabloop.monitor import production as prod
    from tabloop.retrain import assemble
    from tabloop.store import Store

    config = write_project(tmp_path, datasets)
    original = pd.read_csv(tmp_path / "data" / "apartments.csv")
    # listed over 1,000 hours that straddle the production rows' hours (one an hour from T0)
    listed = pd.Timestamp(T0) + pd.to_timedelta(np.arange(len(original)) - 900, unit="h")
    original = original.assign(listed=listed)
    original.to_csv(tmp_path / "data" / "apartments.csv", index=False)
    config = write_project(
        tmp_path, datasets, data={**config.data.model_dump(exclude_none=True), "time": "listed"}
    )
    fresh = production_rows(datasets).head(100)
    log_production(config, fresh, fresh["m2_price"])
    store = Store(config.serve.store_url)
    log = store.predictions(period="all")
    store.close()
    frame = prod.from_log(log).assign(apt=log["entity_id"].astype(int).to_numpy())
    data = assemble(config, original=original, production=frame)

    start = pd.Timestamp(T0) + pd.Timedelta(hours=100 - round(100 * HOLDOUT))  # newest 30
    late = original["listed"] >= start
    assert late.sum() > 0 and (original["listed"] == start).any()  # one exactly at the start
    assert data.counts["original_after_holdout_start"] == int(late.sum())
    kept = data.train[data.train["apt"].isin(original["apt"])]
    assert set(kept["apt"]) == set(original.loc[~late, "apt"])
    assert pd.to_datetime(kept["listed"], utc=True).max() < start
