import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association

from tabloop.data import profile
from tabloop.examples import traffic_stops, treatment_outcomes


@pytest.fixture(scope="module")
def treatment():
    return treatment_outcomes(n=4_000, seed=1)


@pytest.fixture(scope="module")
def treatment_profile(treatment):
    return profile(treatment, target="unsuccessful_outcome", by=["gender"])


def test_missing_counts_equal_pandas(treatment, treatment_profile):
    counts = {m["column"]: m["count"] for m in treatment_profile.data["missing"]}
    assert counts == treatment.isna().sum().to_dict()
    pct = {m["column"]: m["pct"] for m in treatment_profile.data["missing"]}
    assert pct["diary_stress_avg"] == pytest.approx(
        100 * treatment["diary_stress_avg"].isna().mean(), abs=0.01
    )


def test_missingness_related_to_target_uses_the_chi_squared_test(treatment, treatment_profile):
    entry = next(m for m in treatment_profile.data["missing"] if m["column"] == "diary_stress_avg")
    table = pd.crosstab(treatment["diary_stress_avg"].isna(), treatment["unsuccessful_outcome"])
    chi2, p, _, _ = stats.chi2_contingency(table)
    rel = entry["relation_to_target"]
    assert rel["statistic"] == pytest.approx(chi2, abs=1e-3)
    assert rel["p_value"] == pytest.approx(p, abs=1e-6)
    assert rel["related"] is True
    missing = treatment["diary_stress_avg"].isna()
    assert rel["positive_rate_when_missing"] == pytest.approx(
        treatment.loc[missing, "unsuccessful_outcome"].mean(), abs=1e-4
    )
    sleep = next(m for m in treatment_profile.data["missing"] if m["column"] == "diary_sleep_avg")
    assert sleep["relation_to_target"]["related"] is False  # missing completely at random


def test_target_balance(treatment, treatment_profile):
    target = treatment_profile.data["target"]
    counts = treatment["unsuccessful_outcome"].value_counts()
    assert {b["value"]: b["count"] for b in target["balance"]} == {
        str(k): int(v) for k, v in counts.items()
    }
    assert target["task"] == "binary" and target["positive"] == "1"


def test_correlations_match_pandas_and_scipy(treatment, treatment_profile):
    corr = treatment_profile.data["correlations"]
    names = corr["pearson"]["columns"]
    i, j = names.index("sign_ins"), names.index("engagement_min")
    assert corr["pearson"]["values"][i][j] == pytest.approx(
        treatment["sign_ins"].corr(treatment["engagement_min"]), abs=1e-4
    )
    assert corr["spearman"]["values"][i][j] == pytest.approx(
        stats.spearmanr(treatment["sign_ins"], treatment["engagement_min"]).statistic, abs=1e-4
    )
    cats = corr["cramers_v"]["columns"]
    a, b = cats.index("course"), cats.index("gender")
    expected = association(
        pd.crosstab(treatment["course"], treatment["gender"]).to_numpy(), method="cramer"
    )
    assert corr["cramers_v"]["values"][a][b] == pytest.approx(expected, abs=1e-4)
    pairs = {(p["a"], p["b"]) for p in corr["high_pairs"]}
    assert ("sign_ins", "engagement_min") in pairs


def test_groups_show_shares_per_group(treatment, treatment_profile):
    entry = next(g for g in treatment_profile.data["groups"] if g["column"] == "course")
    expected = pd.crosstab(treatment["gender"], treatment["course"], normalize="index")
    for group, shares in entry["shares"].items():
        for cat, share in zip(entry["categories"], shares, strict=True):
            assert share == pytest.approx(expected.loc[group, cat], abs=1e-4)
    age = next(g for g in treatment_profile.data["groups"] if g["column"] == "age")
    means = {s["group"]: s["mean"] for s in age["stats"]}
    assert means == pytest.approx(treatment.groupby("gender")["age"].mean().to_dict(), abs=1e-3)


def test_duplicates_constant_and_id_like_columns(load):
    df = load("titanic").assign(ship="Titanic", passenger_id=lambda d: np.arange(len(d)))
    data = profile(df, target="survived").data
    assert data["duplicates"]["rows"] == int(df.duplicated().sum())
    assert data["duplicates"]["rows_ignoring_ids"] == int(
        df.drop(columns="passenger_id").duplicated().sum()
    )
    assert data["constant_columns"] == ["ship"]
    assert data["id_like_columns"] == ["passenger_id"]


def test_leakage_is_flagged_for_an_outcome_time_column_only(load):
    rng = np.random.default_rng(0)
    df = load("arrests")
    released = (df["released"] == "Yes").to_numpy()
    # known only after the decision: days until release, almost determined by the outcome
    df["days_held"] = np.where(
        released, rng.exponential(0.5, len(df)), rng.exponential(6, len(df)) + 1.5
    )
    p = profile(df, target="released", leakage_cutoff=0.9)
    scores = {r["column"]: r["score"] for r in p.data["predictive_power"]}
    leaks = [w["column"] for w in p.leakage if w["kind"] == "leakage"]
    assert leaks == ["days_held"]
    assert scores["days_held"] >= 0.95
    honest = max(v for k, v in scores.items() if k != "days_held")
    assert honest < 0.7
    assert scores["days_held"] == pytest.approx(
        _oof_auc_reference(df["days_held"], released), abs=0.02
    )


def _oof_auc_reference(x, y):
    """Independent check: ROC-AUC of the raw column (monotone leak) with sklearn."""
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y, -x)
    return max(auc, 1 - auc)


def test_leakage_cutoff_is_configurable(load):
    df = load("titanic")
    assert not profile(df, target="survived").leakage
    flagged = profile(df, target="survived", leakage_cutoff=0.65).leakage
    assert {w["column"] for w in flagged} == {"gender", "class"}


def test_pure_segments_find_a_value_recorded_after_the_outcome():
    df = traffic_stops(4_000)
    p = profile(df.drop(columns=["contraband"]), target="searched")
    segment = next(s for s in p.data["pure_segments"] if s["value"] == "N")
    assert segment["column"] == "search_authorization"
    assert segment["rows"] == int((df["search_authorization"] == "N").sum())
    assert segment["share"] == 1.0 and segment["target_value"] == "false"
    assert any(
        w["kind"] == "pure_segment" and w["column"] == "search_authorization" for w in p.warnings
    )


def test_target_with_missing_values_is_reported_not_dropped_silently(load):
    df = load("german_credit")
    df.loc[[2, 50], "risk"] = np.nan
    p = profile(df, target="risk")
    assert p.data["target"]["missing"] == {"count": 2, "rows": [2, 50]}
    warning = next(w for w in p.warnings if w["kind"] == "target_missing")
    assert "missing in 2 row(s) (first: 2, 50)" in warning["message"]
    assert sum(b["count"] for b in p.data["target"]["balance"]) == 998


def test_regression_profile_scores_columns_by_r2(load):
    p = profile(load("apartments"), target="m2_price")
    assert p.data["task"] == "regression"
    assert p.data["predictive_power"][0]["metric"] == "r2"
    assert p.data["predictive_power"][0]["column"] == "district"


def test_multiclass_profile_scores_columns_by_macro_auc(load):
    p = profile(load("hr"), target="status")
    scores = {r["column"]: r["score"] for r in p.data["predictive_power"]}
    assert p.data["task"] == "multiclass" and scores["hours"] > 0.7
    assert "Unnamed: 0" not in scores


def test_profile_without_target(load):
    p = profile(load("hr"))
    assert p.data["task"] == "clustering" and "target" not in p.data


def test_mixed_type_column_is_warned_about():
    df = pd.DataFrame(
        {"age": [str(a) for a in range(20, 320)] + ["forty"], "y": [0, 1] * 150 + [1]}
    )
    p = profile(df, target="y")
    warning = next(w for w in p.warnings if w["kind"] == "mixed_types")
    assert "'forty' in row 300" in warning["message"]


def test_large_tables_are_sampled_for_the_costly_statistics():
    df = treatment_outcomes(n=3_000)
    p = profile(df, target="unsuccessful_outcome", sample_rows=1_000)
    assert p.data["sample"] == {"rows": 1_000, "sampled": True}
    assert p.data["shape"]["rows"] == 3_000
    assert sum(m["count"] for m in p.data["missing"]) == int(df.isna().sum().sum())


def test_saved_json_holds_the_same_numbers(tmp_path, treatment_profile):
    paths = treatment_profile.save(tmp_path)
    assert json.loads(paths["json"].read_text()) == json.loads(treatment_profile.to_json())


def test_unknown_group_column_is_named(load):
    from tabloop.exceptions import ColumnNotFoundError

    with pytest.raises(ColumnNotFoundError, match="Group column 'sexx'.*Did you mean 'sex'"):
        profile(load("arrests"), target="released", by="sexx")


def test_empty_frame_is_rejected():
    from tabloop.exceptions import DataError

    with pytest.raises(DataError, match="empty"):
        profile(pd.DataFrame({"a": []}))


def test_unknown_task_lists_the_allowed_ones(load):
    from tabloop.exceptions import DataError

    with pytest.raises(DataError, match="task must be one of .*'binary'.*got 'binry'"):
        profile(load("titanic"), target="survived", task="binry")
