import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tabloop.examples import treatment_outcomes
from tabloop.exceptions import DataError, SchemaError
from tabloop.prepare import IMPUTATIONS, Preprocess

NUMERIC = [
    "sign_ins",
    "engagement_min",
    "to_assessment",
    "age",
    "alcohol_scale",
    "diary_mood_avg",
    "diary_sleep_avg",
    "diary_stress_avg",
]
CATEGORICAL = ["course", "gender", "pre_existing_medical_condition"]


@pytest.fixture(scope="module")
def data():
    df = treatment_outcomes(n=2_000, seed=5)
    return df[NUMERIC + CATEGORICAL], df["unsuccessful_outcome"]


@pytest.mark.parametrize("strategy", ["median", "most_frequent"])
def test_simple_imputation_equals_sklearn(data, strategy):
    X, y = data
    out = Preprocess(family="tree", imputation=strategy).fit(X, y).transform(X)
    expected = SimpleImputer(strategy=strategy).fit_transform(X[NUMERIC])
    np.testing.assert_allclose(out[NUMERIC].to_numpy(), expected)


def test_knn_imputation_equals_sklearn_on_standardised_values(data):
    X, y = data
    out = Preprocess(family="linear", imputation="knn", knn_k=5).fit(X, y).transform(X)
    expected = KNNImputer(n_neighbors=5).fit_transform(StandardScaler().fit_transform(X[NUMERIC]))
    np.testing.assert_allclose(out[NUMERIC].to_numpy(), expected)


def test_iterative_imputation_equals_sklearn(data):
    X, y = data
    out = Preprocess(family="tree", imputation="iterative", seed=3).fit(X, y).transform(X)
    expected = IterativeImputer(random_state=3, max_iter=10).fit_transform(X[NUMERIC])
    np.testing.assert_allclose(out[NUMERIC].to_numpy(), expected)


def test_missing_indicators_mark_the_imputed_cells(data):
    X, y = data
    out = Preprocess(family="tree", imputation="median").fit(X, y).transform(X)
    with_gaps = [c for c in NUMERIC if X[c].isna().any()]
    indicators = [f"missingindicator_{c}" for c in with_gaps]
    assert indicators == [c for c in out.columns if c.startswith("missingindicator_")]
    for c in with_gaps:
        np.testing.assert_array_equal(out[f"missingindicator_{c}"], X[c].isna().astype(float))
    plain = Preprocess(family="tree", imputation="median", missing_indicators=False).fit(X, y)
    assert not any(c.startswith("missingindicator_") for c in plain.transform(X).columns)


def test_auto_leaves_gaps_to_models_that_handle_them_and_imputes_for_linear(data):
    X, y = data
    native = Preprocess(family="native").fit(X, y).transform(X)
    assert native[NUMERIC].isna().sum().sum() == X[NUMERIC].isna().sum().sum()
    linear = Preprocess(family="linear").fit(X, y).transform(X)
    assert not linear.isna().any().any()
    np.testing.assert_allclose(linear[NUMERIC].mean(), 0, atol=0.08)  # scaled, median-imputed


def test_native_family_passes_categories_with_a_missing_level(data):
    X, y = data
    out = Preprocess(family="native").fit(X, y).transform(X)
    dtype = out["pre_existing_medical_condition"].dtype
    assert isinstance(dtype, pd.CategoricalDtype)
    assert list(dtype.categories) == ["no", "yes", "(missing)"]
    assert (out["pre_existing_medical_condition"] == "(missing)").sum() == X[
        "pre_existing_medical_condition"
    ].isna().sum()


def test_tree_family_uses_ordinal_codes_in_sorted_order(data):
    X, y = data
    out = Preprocess(family="tree").fit(X, y).transform(X)
    codes = {"burnout": 0, "chronic_pain": 1, "depression": 2, "sleep": 3, "stress": 4}
    np.testing.assert_array_equal(out["course"], X["course"].map(codes))


def test_linear_family_one_hot_encodes_every_level(data):
    X, y = data
    out = Preprocess(family="linear").fit(X, y).transform(X)
    course = out.filter(like="course_")
    assert list(course.columns) == [
        "course_burnout",
        "course_chronic_pain",
        "course_depression",
        "course_sleep",
        "course_stress",
        "course_(missing)",
    ]
    assert (course.sum(axis=1) == 1).all()


def test_unseen_category_is_ignored_or_an_error_by_policy(data):
    X, y = data
    new = X.head(4).copy()
    new.loc[new.index[1], "gender"] = "robot"
    ignored = Preprocess(family="linear").fit(X, y).transform(new)
    assert ignored.loc[new.index[1], "gender_(missing)"] == 1.0
    native = Preprocess(family="native").fit(X, y).transform(new)
    assert native.loc[new.index[1], "gender"] == "(missing)"
    with pytest.raises(SchemaError, match="Column 'gender' has value.*'robot'"):
        Preprocess(family="tree", unseen="error").fit(X, y).transform(new)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"family": "xgboost"}, r"prepare.family must be one of \('native', 'tree', 'linear'\)"),
        ({"imputation": "mice"}, "prepare.imputation must be one of"),
        ({"unseen": "skip"}, "prepare.unseen must be one of"),
        ({"knn_k": 0}, "prepare.knn_k must be a positive integer"),
    ],
)
def test_bad_parameters_name_the_key_and_allowed_values(data, params, message):
    with pytest.raises(DataError, match=message):
        Preprocess(**params).fit(*data)


@pytest.mark.parametrize("family", ["native", "linear"])
def test_dates_become_calendar_parts_and_a_trend(family):
    when = pd.date_range("2024-01-01 08:30", periods=40, freq="37h")
    X = pd.DataFrame({"when": when.astype(str), "x": np.arange(40) % 7})  # as read from a CSV
    out = Preprocess(family=family).fit(X, np.arange(40) % 2).transform(X)
    parts = {"year": when.year, "month": when.month, "day_of_week": when.day_of_week,
             "day_of_year": when.day_of_year, "hour": when.hour,
             "days": (when - pd.Timestamp("1970-01-01")).days}  # fmt: skip
    assert "when" not in out
    for part, expected in parts.items():
        values, expected = out[f"when_{part}"].to_numpy(), np.asarray(expected, dtype=float)
        if family == "linear":  # standardised like every number for a linear model
            spread = expected.std() or 1.0  # a constant part (the year here) scales to 0
            expected = (expected - expected.mean()) / spread
        np.testing.assert_allclose(values, expected, atol=1e-9)


def test_text_columns_cannot_be_model_input():
    X = pd.DataFrame({"note": [f"free text number {i} here" for i in range(60)], "x": [1, 2] * 30})
    with pytest.raises(DataError, match=r"Columns note \(text\) cannot be used as model input"):
        Preprocess().fit(X, np.arange(60) % 2)


@pytest.mark.parametrize("imputation", [i for i in IMPUTATIONS if i != "none"])
def test_every_strategy_feeds_a_linear_model_inside_cv(data, imputation):
    X, y = data
    pipe = make_pipeline(
        Preprocess(family="linear", imputation=imputation), LogisticRegression(max_iter=2_000)
    )
    assert cross_val_score(clone(pipe), X, y, cv=3, scoring="roc_auc").mean() > 0.75


def test_missing_columns_at_transform_are_named(data):
    X, y = data
    fitted = Preprocess().fit(X, y)
    from tabloop.exceptions import ColumnNotFoundError

    with pytest.raises(ColumnNotFoundError, match="Feature column 'age'"):
        fitted.transform(X.drop(columns="age"))
