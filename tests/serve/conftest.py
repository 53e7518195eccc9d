"""Registered models for the service tests: two titanic classifiers (A/B) in a real MLflow
SQLite store, and a project config factory pointing the log at a fresh SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tabloop.config import config_from_dict

TARGET = "survived"


def titanic_with_ids(load: Any) -> pd.DataFrame:
    df = load("titanic")
    return df.assign(passenger=[f"p{i}" for i in range(len(df))])


def project_config(tracking_uri: str, root: Path | None = None, **serve: Any) -> Any:
    raw = {
        "name": "titanic",
        "data": {"train": "(memory)", "target": TARGET, "id": "passenger"},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
        "registry": {"tracking_uri": tracking_uri},
        "serve": serve,
    }
    config = config_from_dict(raw)
    if root is not None:
        config._root = root
    return config


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory, load: Any) -> dict[str, Any]:
    """Version 1 (champion): logistic regression refusing unseen categories; version 2
    (challenger): LightGBM ignoring them, trained without ``parch``."""
    from tabloop.registry import register
    from tabloop.train import train

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    df = titanic_with_ids(load)
    base = project_config(uri).model_dump()
    versions = []
    for models, unseen, drop in ((["linear"], "error", []), (["lightgbm"], "ignore", ["parch"])):
        raw = {**base, "train": {**base["train"], "models": models}}
        raw["prepare"] = {**raw["prepare"], "unseen_categories": unseen}
        raw["features"] = {**raw["features"], "drop": drop}
        raw.pop("serve")
        config = config_from_dict(raw)
        versions.append(register(train(df, config=config), config=config))
    return {"uri": uri, "df": df, "versions": versions, "folder": folder}


@pytest.fixture
def make_config(registered: dict[str, Any], tmp_path: Path):
    """A project config for the registered models, logging to ``tmp_path/log.db``."""

    def make(**serve: Any) -> Any:
        serve.setdefault("store_url", f"sqlite:///{tmp_path / 'log.db'}")
        return project_config(registered["uri"], tmp_path, **serve)

    return make


AB = {
    "variants": {"A": "models:/titanic@champion", "B": "models:/titanic@challenger"},
    "traffic": {"A": 0.5, "B": 0.5},
}
