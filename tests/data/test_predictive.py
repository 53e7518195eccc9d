"""`profile` and feature selection score each column alone (cross-fitted target encoding,
then ROC-AUC or R²): the figures equal sklearn's on the raw strings, whatever the integer
codes used internally for speed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from tabloop.data._predictive import single_feature_power


def test_single_feature_power_equals_target_encoding_of_the_string_levels():
    rng = np.random.default_rng(3)
    n = 3_000
    colour = rng.choice(["red", "green", "blue", None], n)
    risk = np.where(colour == "red", 0.6, np.where(colour == "blue", 0.3, 0.1))
    answer = np.where(rng.random(n) < risk, "yes", "no")
    frame = pd.DataFrame({"colour": colour, "answer": answer})
    (found,) = single_feature_power(frame, ["colour"], "answer", "binary", seed=5)

    levels = frame[["colour"]].fillna("(missing)").astype(object)
    encoder = TargetEncoder(
        target_type="binary", cv=StratifiedKFold(5, shuffle=True, random_state=5)
    )
    encoded = encoder.fit_transform(levels, answer.astype(object))
    expected = roc_auc_score(answer == "yes", encoded[:, 0])
    assert found == {"column": "colour", "metric": "roc_auc", "score": pytest.approx(
        round(expected, 4), abs=0)}  # fmt: skip
    assert found["score"] > 0.6
