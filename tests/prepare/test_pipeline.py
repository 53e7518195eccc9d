import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from tabloop.config import config_from_dict
from tabloop.examples import treatment_outcomes
from tabloop.exceptions import ConfigError
from tabloop.prepare import prepare_pipeline

SITUATION_ONE = {
    "name": "treatment",
    "data": {"train": "t.csv", "target": "unsuccessful_outcome", "id": "patient_id"},
    "features": {
        "derive": {
            "progress_age": "to_assessment * 0.01 * age",
            "risk_age": "age * where(pre_existing_medical_condition == 'yes', 1.5, 1)",
            "mass_score": "lookup(course, {sleep: 0.6, stress: 0.2}) * diary_sleep_avg"
            " + lookup(course, {stress: 0.6, burnout: 0.5}) * diary_stress_avg",
        },
        "log": ["engagement_min"],
    },
    "prepare": {"imputation": "knn", "knn_k": 5, "correlation_threshold": 0.8},
}


@pytest.fixture(scope="module")
def patients():
    df = treatment_outcomes(n=3_000, seed=7)
    return df.drop(columns="unsuccessful_outcome"), df["unsuccessful_outcome"]


def test_situation_one_preparation_from_the_config(patients):
    X, y = patients
    pipe = prepare_pipeline(config_from_dict(SITUATION_ONE), family="linear").fit(X, y)
    select = pipe.named_steps["select"]
    assert select.dropped_["patient_id"] == "listed in features.drop"
    for derived in ("progress_age", "risk_age", "mass_score"):  # each considered, kept or explained
        assert derived in select.scores_
        assert (derived in select.selected_) != (derived in select.dropped_)
    assert any("correlated with" in r for r in select.dropped_.values())
    out = pipe.transform(X)
    assert not out.isna().any().any()
    expected = np.log1p(X["engagement_min"])
    if "engagement_min" in select.selected_:
        np.testing.assert_allclose(pipe[:2].transform(X)["engagement_min"], expected)


def test_prepared_features_train_a_model_in_cv(patients):
    X, y = patients
    pipe = Pipeline(
        [
            ("prepare", prepare_pipeline(config_from_dict(SITUATION_ONE), family="linear")),
            ("model", LogisticRegression(max_iter=2_000)),
        ]
    )
    assert cross_val_score(pipe, X, y, cv=3, scoring="roc_auc").mean() > 0.8


def test_include_keeps_only_listed_and_derived_columns(patients):
    X, y = patients
    cfg = config_from_dict(
        {
            **SITUATION_ONE,
            "features": {
                "include": ["age", "course"],
                "derive": {"sleeper_age": "age * (course == 'sleep')"},
            },
        }
    )
    select = prepare_pipeline(cfg, family="native").fit(X, y).named_steps["select"]
    assert select.selected_ == ["course", "age", "sleeper_age"]  # input order
    assert select.dropped_["gender"] == "not in features.include"


def test_prepare_section_is_validated():
    with pytest.raises(ConfigError, match="prepare.imputation: input should be 'auto', 'none'"):
        config_from_dict({**SITUATION_ONE, "prepare": {"imputation": "mice"}})
    with pytest.raises(
        ConfigError, match="prepare.knn_k: input should be greater than or equal to 1"
    ):
        config_from_dict({**SITUATION_ONE, "prepare": {"knn_k": 0}})


def test_unsafe_formula_in_the_config_fails_when_the_file_loads():
    bad = {**SITUATION_ONE, "features": {"derive": {"x": "age.to_csv('/tmp/x')"}}}
    with pytest.raises(
        ConfigError, match=r"features.derive: x: calling anything but a listed function"
    ):
        config_from_dict(bad)
