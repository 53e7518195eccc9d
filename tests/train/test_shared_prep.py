"""Preparation shared by ensemble members runs once and changes no score."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import yaml

from tabloop.config import config_from_dict
from tabloop.data import infer_schema
from tabloop.examples import scenario_config, treatment_outcomes
from tabloop.train import TabloopModel, make_pipeline
from tabloop.train._model import Member

TARGET = "unsuccessful_outcome"
FAST = {"catboost": {"iterations": 30}, "lightgbm": {"n_estimators": 30}}


@pytest.fixture(scope="module")
def data():
    df = treatment_outcomes(n=1_500, seed=3)
    return df.drop(columns=TARGET), df[TARGET].to_numpy()


def fitted(name, X, y):
    raw = yaml.safe_load(scenario_config("treatment"))
    raw["data"]["train"] = "(memory)"
    raw["train"] = {"models": ["linear", "lightgbm", "catboost"], "learning_curve": False}
    pipe = make_pipeline(config_from_dict(raw), name, "binary", params=FAST.get(name))
    return pipe.fit(X, y)


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    linear, catboost, lightgbm = (fitted(n, X, y) for n in ("linear", "catboost", "lightgbm"))
    members = [
        Member("linear", 0.5, [linear]),
        Member("catboost", 0.3, [catboost]),
        # two pipelines of one member and a pickled copy: identical fitted preparation
        Member("lightgbm", 0.2, [lightgbm, pickle.loads(pickle.dumps(lightgbm))]),
    ]
    schema = infer_schema(X, strict=False)
    return TabloopModel(
        task="binary", target=TARGET, classes=[0, 1], members=members, schema=schema
    )


def member_by_member(model, X):
    """Today's path: every pipeline predicts on its own."""
    total = 0.0
    for member in model.members:
        parts = [pipe.predict_proba(X[model.inputs])[:, 1] for pipe in member.pipelines]
        total = total + member.weight * np.mean(parts, axis=0)
    return total


def test_scores_are_exactly_those_of_each_pipeline_alone(model, data):
    X, _ = data
    assert np.array_equal(model.predict_scores(X), member_by_member(model, X))


def test_identical_fitted_steps_run_once_per_call(model, data, monkeypatch):
    X, _ = data
    model._plan()  # fingerprint the fitted steps before they are wrapped for counting
    calls: list[str] = []
    for member in model.members:
        for pipe in member.pipelines:
            for name, step in pipe.steps[:-1]:
                original = step.transform

                def counted(Xt, _original=original, _name=name):
                    calls.append(_name)
                    return _original(Xt)

                monkeypatch.setattr(step, "transform", counted)
    model.predict_scores(X)
    per_pipeline = sum(len(p.steps) - 1 for m in model.members for p in m.pipelines)
    chains = {chain for plans in model._plan() for plan in plans for chain, _ in plan.steps}
    assert len(calls) == len(chains) < per_pipeline
    # the three lightgbm-like steps of the copy are shared, and the leading steps fitted on
    # the same rows with the same settings are shared across families
    assert calls.count(model.members[0].pipelines[0].steps[0][0]) == 1


def test_the_plan_is_not_pickled_and_a_loaded_model_scores_the_same(model, data):
    X, _ = data
    expected = model.predict_scores(X)
    assert "_plans" in model.__dict__
    loaded = pickle.loads(pickle.dumps(model))
    assert "_plans" not in loaded.__dict__
    assert np.array_equal(loaded.predict_scores(X), expected)


def test_a_model_pickled_before_the_plan_existed_still_scores(model, data):
    X, _ = data
    state = {k: v for k, v in model.__dict__.items() if k != "_plans"}
    old = TabloopModel.__new__(TabloopModel)
    old.__dict__.update(state)
    assert np.array_equal(old.predict_scores(X), member_by_member(model, X))
