"""The retrain gate on a lower-is-better classification metric (``retrain.metric: log_loss``)
and on a fairness requirement, end to end on titanic: the champion never sees ``gender``
(the strongest column), the challenger does, so it has the lower held-out log loss (checked
with sklearn) and the larger gap in selection rate between women and men."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import log_loss

from tabloop.config import load_config
from tests.retrain.production import log_production

FEATURES = ["gender", "age", "class", "embarked", "fare", "sibsp", "parch"]
N_ORIGINAL = 1500
HOLDOUT = 0.3


def write_project(folder: Path, **sections: Any) -> Any:
    project = {
        "name": "titanic",
        "data": {"train": "data/titanic.csv", "target": "survived", "id": "passenger"},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 200, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "serve": {"store_url": f"sqlite:///{folder / 'log.db'}"},
        **sections,
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return load_config(folder / "tabloop.yaml")


@pytest.fixture
def titanic_loop(tmp_path, load):
    """``make(**challenger_sections)``: a champion without ``gender`` registered, the later
    passengers logged as production with their outcomes, and the challenger's config."""
    from tabloop import load_training_data, register
    from tabloop.train import train

    # shuffled: the file lists the (mostly male) crew last
    df = load("titanic").sample(frac=1.0, random_state=0).reset_index(drop=True)
    df = df.assign(passenger=np.arange(len(df)))
    (tmp_path / "data").mkdir()
    df.head(N_ORIGINAL).to_csv(tmp_path / "data" / "titanic.csv", index=False)
    fresh = df.iloc[N_ORIGINAL:].reset_index(drop=True)

    def make(**sections: Any) -> tuple[Any, pd.DataFrame]:
        champion = write_project(tmp_path, features={"drop": ["gender"]})
        register(train(load_training_data(champion), config=champion), config=champion)
        log_production(
            champion, fresh, fresh["survived"], entity="passenger", features=FEATURES, score=0.5
        )
        return write_project(tmp_path, **sections), fresh

    return make


def held_out_log_loss(config: Any, fresh: pd.DataFrame, version: int) -> float:
    from tabloop.registry import load_model

    held = fresh.tail(round(len(fresh) * HOLDOUT))
    model, _ = load_model(f"models:/titanic/{version}", config=config)
    return float(log_loss(held["survived"], model.predict_proba(held[FEATURES])[:, 1]))


def aliases(config: Any) -> dict[str, str]:
    import mlflow

    uri = config.registry.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {a: str(v) for a, v in client.get_registered_model("titanic").aliases.items()}


@pytest.mark.slow
def test_a_challenger_with_lower_log_loss_is_promoted(titanic_loop, tmp_path):
    from tabloop.retrain import retrain

    config, fresh = titanic_loop(retrain={"holdout": HOLDOUT, "metric": "log_loss"})
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    difference = result.data["comparison"]["difference"]
    champion, challenger = held_out_log_loss(config, fresh, 1), held_out_log_loss(config, fresh, 2)
    assert challenger < champion
    assert difference["value_a"] == pytest.approx(champion, rel=1e-9)
    assert difference["value_b"] == pytest.approx(challenger, rel=1e-9)
    assert result.data["decision"]["better"] is True
    assert result.promoted and aliases(config)["champion"] == "2"


def test_a_failed_fairness_requirement_blocks_a_better_challenger(titanic_loop, tmp_path):
    from tabloop.retrain import retrain

    evaluate = {
        "bootstrap": 200,
        "importance": False,
        "fairness": {"protected": ["gender"], "metric": "selection_rate", "max_gap": 0.05},
        "requirements": ["fairness.max_gap <= 0.05"],
    }
    config, _ = titanic_loop(retrain={"holdout": HOLDOUT, "metric": "log_loss"}, evaluate=evaluate)
    result = retrain(config, promote_if_better=True, out_dir=tmp_path / "reports")
    decision = result.data["decision"]
    assert decision["better"] is True
    assert decision["requirements_met"] is False, result.data["comparison"]["requirements"]
    assert "fairness.max_gap <= 0.05" in decision["reason"]
    assert not result.promoted and aliases(config) == {"champion": "1", "challenger": "2"}
