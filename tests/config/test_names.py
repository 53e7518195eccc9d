"""The names tabloop.yaml may use are defined in config and agree with the stages using them."""

from tabloop.config import (
    FAIRNESS_METRICS,
    HIGHER_IS_BETTER,
    METRICS,
    MODEL_ALIASES,
    MODEL_NAMES,
    config_from_dict,
)


def test_model_names_are_exactly_the_zoo_entries_in_order():
    from tabloop.train import ZOO
    from tabloop.train._zoo import ALIASES

    assert tuple(ZOO) == MODEL_NAMES
    assert ALIASES == MODEL_ALIASES


def test_every_metric_has_a_direction_and_the_evaluator_scores_every_name():
    from tabloop.evaluate import METRICS as scored

    assert scored == METRICS
    assert set(HIGHER_IS_BETTER) == {m for names in METRICS.values() for m in names}


def test_fairness_metrics_are_those_the_audit_accepts():
    import numpy as np

    from tabloop.evaluate import fairness_audit

    y = np.array([0, 1] * 50)
    import pandas as pd

    groups = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    for metric in FAIRNESS_METRICS:
        fairness_audit(y, y, sensitive=groups, metric=metric, min_group_size=1, n_boot=20)


def test_an_unknown_model_lists_the_zoo_and_its_aliases():
    import pytest

    with pytest.raises(ValueError, match="use one of dummy, linear, random_forest"):
        config_from_dict({"name": "p", "data": {"train": "x.csv"}, "train": {"models": ["svm"]}})
