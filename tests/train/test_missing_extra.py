"""A default model whose extra is not installed is left out and said so by its extra, never
as a model the time budget skipped.

"Not installed" is made real for the test by ``sys.modules["catboost"] = None``: ``import
catboost`` then raises ImportError and ``importlib.util.find_spec`` answers None, which is
what :func:`tabloop._extras.installed` asks (see ``tests/test_extras.py``).
"""

from __future__ import annotations

import sys

import tabloop
from tabloop.config import config_from_dict
from tabloop.evaluate import evaluate
from tabloop.train import train

LEFT_OUT = (
    "train.models is not set: the default catboost model is left out because catboost is not "
    "installed (pip install 'tabloop[catboost]' to include it)"
)


def test_a_default_model_without_its_extra_is_reported_as_a_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "catboost", None)
    df = tabloop.examples.treatment_outcomes(n=300, seed=1)
    config = config_from_dict(
        {
            "name": "extras",
            "data": {"train": "unused.csv", "target": "unsuccessful_outcome", "id": "patient_id"},
            "train": {"folds": 2, "learning_curve": False, "ensemble": False, "time_budget": 600},
            "evaluate": {"bootstrap": 0, "importance": False},
        }
    )
    result = train(df, config=config)
    assert [r.name for r in result.cv] == ["dummy", "linear", "lightgbm"]
    assert result.warnings == [LEFT_OUT]

    diagnostics = evaluate(result).to_dict()["diagnostics"]
    assert {"kind": "missing_extra", "severity": "warn", "message": LEFT_OUT} in diagnostics
    assert not any("time budget" in d["message"] for d in diagnostics)
    assert not any(d["kind"] == "budget" and "catboost" in d["message"] for d in diagnostics)
