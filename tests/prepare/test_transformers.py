"""DeriveFeatures, LogTransform and SelectFeatures.

They take DataFrames only (the config names columns), so sklearn's
``parametrize_with_checks`` (which feeds numpy arrays) does not apply; the contract that
matters here is checked directly: parameters stored untouched, clone-able, fitted state
ending in ``_``, refitted inside each cross-validation fold of a Pipeline.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tabloop.data._predictive import single_feature_power
from tabloop.examples import traffic_stops, treatment_outcomes
from tabloop.exceptions import ColumnNotFoundError, DataError, FormulaError
from tabloop.prepare import DeriveFeatures, LogTransform, SelectFeatures


@pytest.fixture(scope="module")
def patients():
    return treatment_outcomes(n=3_000, seed=2)


@pytest.mark.parametrize(
    "estimator",
    [
        DeriveFeatures(formulas={"x": "age * 2"}),
        LogTransform(columns=["engagement_min"]),
        SelectFeatures(drop=["gender"], correlation_threshold=0.8),
    ],
)
def test_sklearn_contract(estimator, patients):
    params = estimator.get_params()
    assert clone(estimator).get_params() == params
    X = patients.drop(columns="unsuccessful_outcome")
    with pytest.raises(NotFittedError):
        estimator.transform(X)
    fitted = clone(estimator).fit(X, patients["unsuccessful_outcome"])
    assert fitted.get_params() == params  # fit does not touch parameters
    assert list(fitted.get_feature_names_out()) == list(fitted.transform(X).columns)


def test_derived_features_are_added_in_order(patients):
    t = DeriveFeatures(
        formulas={"progress_age": "to_assessment * 0.01 * age", "double": "progress_age * 2"}
    )
    out = t.fit_transform(patients)
    np.testing.assert_allclose(
        out["double"], 2 * patients["to_assessment"] * 0.01 * patients["age"]
    )
    assert list(out.columns[-2:]) == ["progress_age", "double"]
    pd.testing.assert_frame_equal(out[patients.columns], patients)  # input untouched


def test_derive_with_unknown_column_fails_at_fit(patients):
    with pytest.raises(FormulaError, match=r"features.derive.x: unknown column 'agee'.*'age'"):
        DeriveFeatures(formulas={"x": "agee + 1"}).fit(patients)


def test_derive_refuses_to_overwrite_a_column(patients):
    with pytest.raises(FormulaError, match="a column 'age' already exists"):
        DeriveFeatures(formulas={"age": "age + 1"}).fit(patients)


def test_log_transform_matches_numpy_and_turns_negative_values_into_missing(patients):
    t = LogTransform(columns=["engagement_min"]).fit(patients)
    np.testing.assert_allclose(
        t.transform(patients)["engagement_min"], np.log1p(patients["engagement_min"])
    )
    new = patients.head(3).assign(engagement_min=[-5.0, 0.0, 10.0])
    assert t.transform(new)["engagement_min"].tolist()[1:] == [0.0, pytest.approx(np.log1p(10))]
    assert np.isnan(t.transform(new)["engagement_min"].iloc[0])


def test_log_of_a_negative_training_column_is_refused():
    df = pd.DataFrame({"x": [1.0, -2.0, 3.0]})
    with pytest.raises(
        DataError, match=r"features.log: column 'x' has negative values \(minimum -2\)"
    ):
        LogTransform(columns=["x"]).fit(df)
    with pytest.raises(ColumnNotFoundError, match="features.log column 'y'"):
        LogTransform(columns=["y"]).fit(df)


def test_selection_keeps_the_column_more_related_to_the_target(patients):
    X, y = patients.drop(columns="unsuccessful_outcome"), patients["unsuccessful_outcome"]
    s = SelectFeatures(correlation_threshold=0.8).fit(X, y)
    rho = X["sign_ins"].corr(X["engagement_min"], method="spearman")
    assert rho >= 0.8
    scores = {
        r["column"]: r["score"]
        for r in single_feature_power(
            patients, ["sign_ins", "engagement_min"], "unsuccessful_outcome", "binary"
        )
    }
    weaker = min(scores, key=scores.get)
    assert weaker in s.dropped_ and "correlated with" in s.dropped_[weaker]
    assert s.dropped_["patient_id"] == "id-like (unique per row)"
    assert s.scores_["sign_ins"] == scores["sign_ins"]


def test_selection_drops_leaking_columns_unless_kept():
    stops = traffic_stops(3_000)
    X, y = stops.drop(columns=["searched", "contraband"]), stops["searched"]
    s = SelectFeatures().fit(X, y)
    assert s.dropped_["search_authorization"].startswith("possible leakage: ROC-AUC 1.000")
    kept = SelectFeatures(keep=["search_authorization"]).fit(X, y)
    assert "search_authorization" in kept.selected_


def test_constant_and_listed_columns_are_dropped(patients):
    X = patients.drop(columns="unsuccessful_outcome").assign(site="online")
    s = SelectFeatures(drop=["gender"], correlation_threshold=None).fit(
        X, patients["unsuccessful_outcome"]
    )
    assert s.dropped_["site"] == "constant" and s.dropped_["gender"] == "listed in features.drop"
    assert "engagement_min" in s.selected_


def test_selection_that_drops_everything_is_an_error():
    X = pd.DataFrame({"id": np.arange(100), "k": 1})
    with pytest.raises(DataError, match="Feature selection dropped every column"):
        SelectFeatures().fit(X, np.arange(100) % 2)


def test_transformers_are_refitted_inside_each_cv_fold(patients):
    X = patients[["to_assessment", "age", "sign_ins", "engagement_min"]]
    y = patients["unsuccessful_outcome"]
    seen = []

    def record(frame):
        seen.append(len(frame))
        return frame.fillna(0)

    pipe = make_pipeline(
        DeriveFeatures(formulas={"pa": "to_assessment * 0.01 * age"}),
        LogTransform(columns=["engagement_min"]),
        SelectFeatures(correlation_threshold=0.8),
        FunctionTransformer(record),
        LogisticRegression(max_iter=1_000),
    )
    scores = cross_val_score(pipe, X, y, cv=3, scoring="roc_auc")
    assert scores.mean() > 0.7
    assert seen[0] == 2_000  # the first fit saw only the training folds
