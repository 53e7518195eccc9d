"""Projects trained for tests with fast settings: a titanic folder trained by `tabloop train`
as a user would have it, and a project trained and registered in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tests.cli.test_cli import run


def fast_project(name: str, target: str, folder: Path, **sections: Any) -> dict[str, Any]:
    """The raw config of a project trained in memory (a linear model, 3 folds, 100
    resamples) and registered in ``folder/mlflow.db``; ``sections`` replace those of the
    same name."""
    return {
        "name": name,
        "data": {"train": "(memory)", "target": target},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 100, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
        **sections,
    }


def register_trained(df: pd.DataFrame, config: Any) -> Any:
    """``df`` trained, evaluated and registered with ``config`` in this process; the
    training result."""
    from tabloop.evaluate import evaluate
    from tabloop.registry import register
    from tabloop.train import train

    result = train(df, config=config)
    register(result, evaluate(result).to_dict(), config=config)
    return result


def trained_titanic(folder: Path, titanic: pd.DataFrame, *, model: str, bootstrap: int) -> Path:
    """``folder``, created, holding ``titanic.csv`` and a project that trains ``model``
    (3 folds, no learning curve, ``bootstrap`` resamples, no importance), trained."""
    folder.mkdir()
    titanic.to_csv(folder / "titanic.csv", index=False)
    project = {
        "name": "titanic",
        "data": {"train": "titanic.csv", "target": "survived"},
        "train": {"models": [model], "folds": 3, "learning_curve": False},
        "evaluate": {"bootstrap": bootstrap, "importance": False},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    done = run("train", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder
