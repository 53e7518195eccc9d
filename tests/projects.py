"""A titanic project folder trained by `tabloop train`, as a user would have it: the data,
``tabloop.yaml`` with fast settings, and the default store in ``.tabloop``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from tests.cli.test_cli import run


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
