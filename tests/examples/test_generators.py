import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

from tabloop.examples import (
    TREATMENT_MISSING,
    customer_spend,
    traffic_stops,
    treatment_outcomes,
)

TREATMENT_COLUMNS = [
    "patient_id",
    "sign_ins",
    "engagement_min",
    "to_assessment",
    "course",
    "gender",
    "age",
    "pre_existing_medical_condition",
    "alcohol_scale",
    "diary_mood_avg",
    "diary_sleep_avg",
    "diary_stress_avg",
    "unsuccessful_outcome",
]


@pytest.fixture(scope="module")
def treatment():
    return treatment_outcomes()


def test_treatment_has_the_thirteen_columns_of_situation_one(treatment):
    assert treatment.shape == (10_000, 13)
    assert list(treatment.columns) == TREATMENT_COLUMNS
    assert set(treatment["course"]) == {"sleep", "stress", "depression", "burnout", "chronic_pain"}
    assert treatment["patient_id"].is_unique


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_treatment_positive_rate_is_about_23_percent(seed):
    rate = treatment_outcomes(seed=seed)["unsuccessful_outcome"].mean()
    assert abs(rate - 0.23) <= 0.01


def test_treatment_missing_rates_are_as_documented(treatment):
    expected = {
        "pre_existing_medical_condition": 5.1,
        "alcohol_scale": 8.5,
        "diary_mood_avg": 7.2,
        "diary_sleep_avg": 3.23,
        "diary_stress_avg": 36.7,
    }
    assert {k: 100 * v for k, v in TREATMENT_MISSING.items()} == pytest.approx(expected)
    for column, pct in expected.items():
        assert abs(100 * treatment[column].isna().mean() - pct) <= 1.0
    complete = [c for c in TREATMENT_COLUMNS if c not in expected]
    assert treatment[complete].notna().all().all()


def test_treatment_engagement_columns_are_strongly_correlated(treatment):
    corr = treatment[["sign_ins", "engagement_min", "to_assessment"]].corr(method="spearman")
    assert corr.where(~np.eye(3, dtype=bool)).min().min() > 0.6


def test_treatment_has_signal_a_model_can_learn(treatment):
    X = pd.get_dummies(treatment.drop(columns=["patient_id", "unsuccessful_outcome"]), dtype=float)
    y = treatment["unsuccessful_outcome"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    model = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.8


def test_generators_are_seeded():
    pd.testing.assert_frame_equal(
        treatment_outcomes(n=500, seed=4), treatment_outcomes(n=500, seed=4)
    )
    assert not treatment_outcomes(n=500, seed=4).equals(treatment_outcomes(n=500, seed=5))
    pd.testing.assert_frame_equal(customer_spend(50, seed=1), customer_spend(50, seed=1))
    pd.testing.assert_frame_equal(traffic_stops(500, seed=1), traffic_stops(500, seed=1))


def test_customer_spend_columns_and_both_model_families_find_signal():
    df = customer_spend(3_000, months=12)
    months = [f"spend_m{m:02d}" for m in range(1, 13)]
    assert list(df.columns) == [
        "customer_id",
        "city",
        *months,
        "sessions",
        "events",
        "products_bought",
        "avg_discount",
        "next_month_spend",
    ]
    train, test = df.iloc[:2_400], df.iloc[2_400:]
    y = test["next_month_spend"]

    # team A: per-customer linear trend over the monthly history, extrapolated one month
    t = np.arange(1, 13)
    history = test[months].to_numpy()
    slope, intercept = np.polyfit(t, history.T, 1)
    trend = intercept + slope * 13
    trend_r2 = r2_score(y, trend)
    assert trend_r2 > 0.6

    # team B: a model on the session aggregates (plus the last month) explains what the trend cannot
    features = ["sessions", "events", "products_bought", "avg_discount", "spend_m12"]
    model = HistGradientBoostingRegressor(random_state=0).fit(
        train[features], train["next_month_spend"]
    )
    residual_model = LinearRegression().fit(
        train[["sessions", "events", "products_bought", "avg_discount"]],
        train["next_month_spend"]
        - (lambda h: np.polyval(np.polyfit(t, h.T, 1), 13))(train[months].to_numpy()),
    )
    combined = trend + residual_model.predict(
        test[["sessions", "events", "products_bought", "avg_discount"]]
    )
    assert r2_score(y, combined) > trend_r2 + 0.02
    assert r2_score(y, model.predict(test[features])) > 0.5


def test_traffic_stops_columns_and_missing_contraband_without_search():
    df = traffic_stops(5_000)
    assert list(df.columns) == [
        "stop_id",
        "date",
        "department",
        "hour",
        "reason_for_stop",
        "race",
        "ethnicity",
        "sex",
        "age_group",
        "prior_citations",
        "vehicle_age",
        "search_authorization",
        "searched",
        "contraband",
    ]
    assert df["contraband"].isna().equals(~df["searched"])
    assert (df.loc[~df["searched"], "search_authorization"] == "N").all()
    assert (df.loc[df["searched"], "search_authorization"] != "N").all()
    assert 0.12 < df["searched"].mean() < 0.18
    assert 0.28 < df.loc[df["searched"], "contraband"].astype(float).mean() < 0.38


def test_traffic_stops_contraband_is_learnable_from_honest_features():
    df = traffic_stops(20_000)
    searched = df[df["searched"]]
    features = ["department", "hour", "reason_for_stop", "prior_citations", "vehicle_age"]
    X = pd.get_dummies(searched[features], dtype=float)
    y = searched["contraband"].astype(bool)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.7


def test_biased_departments_have_a_lower_hit_rate_for_targeted_groups():
    df = traffic_stops(60_000)
    searched = df[df["searched"]].assign(
        targeted=lambda d: (d["race"] == "black") | (d["ethnicity"] == "hispanic"),
        biased=lambda d: d["department"].isin(["east", "harbor"]),
        hit=lambda d: d["contraband"].astype(float),
    )
    rates = searched.groupby(["biased", "targeted"])["hit"].mean()
    assert rates[(True, True)] < rates[(True, False)] - 0.05  # unfair human baseline
    assert abs(rates[(False, True)] - rates[(False, False)]) < 0.04  # fair elsewhere


def test_production_variant_shifts_the_population_toward_suspicious_stops():
    reference, production = traffic_stops(20_000), traffic_stops(20_000, production=True)
    suspicious = ["suspicious_activity", "investigative"]
    share = lambda d: d["reason_for_stop"].isin(suspicious).mean()  # noqa: E731
    assert share(production) > share(reference) + 0.05
    assert production["prior_citations"].mean() > reference["prior_citations"].mean()
    assert production["date"].min() > reference["date"].max()
    assert set(production["stop_id"]).isdisjoint(reference["stop_id"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: treatment_outcomes(n=5),
        lambda: treatment_outcomes(n="many"),
        lambda: customer_spend(0),
        lambda: customer_spend(100, months=1),
        lambda: traffic_stops(n=-1),
    ],
)
def test_bad_sizes_are_rejected_with_the_parameter_name(call):
    with pytest.raises(ValueError, match="must be an integer >="):
        call()
