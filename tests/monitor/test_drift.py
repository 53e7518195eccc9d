"""drift_report: statistics equal to scipy's, verdicts on known shifts, errors, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from tabloop.data import ReferenceProfile
from tabloop.exceptions import MonitorError
from tabloop.monitor._drift import KS_EXACT_LIMIT, PSI_EPSILON, drift_report, ks_p_value

KINDS = {"x": "numeric", "k": "numeric", "plan": "categorical", "flag": "boolean"}
PLANS = ["basic", "plus", "pro"]


def _frame(n: int, seed: int, *, shift: float = 0.0, plan_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": (rng.normal(0, 1, n) + shift).round(3),  # ties, as in real data
            "k": rng.poisson(3, n).astype(float),
            "plan": rng.choice(PLANS, n, p=plan_p).astype(object),
            "flag": rng.random(n) < 0.3,
        }
    )
    df.loc[df.index[:: 37 + seed], "x"] = np.nan
    df.loc[df.index[:: 29 + seed], "plan"] = None
    return df


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    ref = np.where(ref == 0, PSI_EPSILON, ref)
    cur = np.where(cur == 0, PSI_EPSILON, cur)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


# -- numeric statistics against scipy -----------------------------------------------------------
@pytest.mark.parametrize("column", ["x", "k"])
def test_numeric_statistics_equal_scipy_when_the_profile_is_lossless(column: str) -> None:
    ref, cur = _frame(1500, 0), _frame(1700, 1, shift=0.2)
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS)
    assert profile[column].exact
    found = drift_report(profile, cur).column(column)
    a, b = ref[column].dropna().to_numpy(), cur[column].dropna().to_numpy()
    ks = stats.ks_2samp(a, b, method="asymp")
    assert found.test == "ks"
    assert found.statistic == pytest.approx(ks.statistic, rel=1e-12)
    assert found.p_value == pytest.approx(ks.pvalue, rel=1e-9)
    assert found.effect == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)
    edges = np.quantile(a, np.arange(1, 10) / 10, method="inverted_cdf")
    bins = [-np.inf, *np.unique(edges), np.inf]
    ref_shares = np.histogram(-a, bins=-np.array(bins[::-1]))[0][::-1] / len(a)  # right-closed
    cur_shares = np.histogram(-b, bins=-np.array(bins[::-1]))[0][::-1] / len(b)
    assert found.psi == pytest.approx(_psi(ref_shares, cur_shares), rel=1e-9)


def test_numeric_statistics_equal_scipy_without_ties_too() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(size=3000), rng.lognormal(0.1, size=2000)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"v": a}), kinds={"v": "numeric"})
    assert profile["v"].exact and profile["v"].counts is None  # unit weights
    found = drift_report(profile, pd.DataFrame({"v": b})).column("v")
    ks = stats.ks_2samp(a, b, method="asymp")
    assert found.statistic == pytest.approx(ks.statistic, rel=1e-12)
    assert found.p_value == pytest.approx(ks.pvalue, rel=1e-9)
    assert found.effect == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)


def test_ks_against_a_sketch_is_within_one_over_max_points() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2, size=20_000), rng.gamma(2.1, size=15_000)
    profile = ReferenceProfile.from_frame(
        pd.DataFrame({"g": a}), kinds={"g": "numeric"}, max_points=400
    )
    assert not profile["g"].exact
    found = drift_report(profile, pd.DataFrame({"g": b})).column("g")
    exact = stats.ks_2samp(a, b, method="asymp").statistic
    assert abs(found.statistic - exact) <= 1 / 400
    w1 = stats.wasserstein_distance(a, b) / a.std()
    assert found.effect == pytest.approx(w1, abs=0.01)
    assert not found.exact


def test_ks_p_value_is_scipys_up_to_the_limit_and_kolmogorovs_limit_beyond() -> None:
    n = 2 * KS_EXACT_LIMIT  # n = m: effective size n / 2 = the limit
    for statistic in (0.005, 0.012, 0.02):
        assert ks_p_value(statistic, n, n) == stats.kstwo.sf(statistic, KS_EXACT_LIMIT)
    n = 200_000  # effective size 100,000: scipy sums ~100,000 terms, the limit is one call
    for statistic in (0.004, 0.006, 0.009):
        exact = stats.kstwo.sf(statistic, n // 2)
        assert 1e-8 < exact < 0.5
        assert ks_p_value(statistic, n, n) == pytest.approx(exact, rel=0.01)


def test_histogram_shares_use_reference_edges_with_outliers_in_the_end_bars() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=0.5)
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS)
    hist = drift_report(profile, cur).column("x").histogram
    edges = np.asarray(hist["edges"])
    assert len(edges) == 21
    b = np.clip(cur["x"].dropna().to_numpy(), edges[0], edges[-1] - 1e-12)
    expected = np.histogram(b, bins=edges)[0] / len(b)
    np.testing.assert_allclose(hist["current"], expected, rtol=1e-12)
    assert sum(hist["reference"]) == pytest.approx(1.0)
    k_hist = drift_report(profile, cur).column("k").histogram  # one bar per value
    assert len(k_hist["edges"]) == len(np.unique(ref["k"])) + 1


# -- categorical statistics against scipy -------------------------------------------------------
def test_categorical_statistics_equal_scipy_with_new_categories_as_columns() -> None:
    ref = _frame(2000, 0)
    cur = _frame(1800, 1, plan_p=(0.3, 0.3, 0.4))
    cur.loc[cur.index[:45], "plan"] = "enterprise"
    cur.loc[cur.index[45:50], "plan"] = "trial"
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS)
    found = drift_report(profile, cur).column("plan")
    levels = ["basic", "plus", "pro", "enterprise", "trial"]
    table = np.array(
        [
            ref["plan"].value_counts().reindex(levels, fill_value=0).to_numpy(),
            cur["plan"].value_counts().reindex(levels, fill_value=0).to_numpy(),
        ]
    )
    chi2 = stats.chi2_contingency(table)
    assert found.test == "chi2"
    assert found.statistic == pytest.approx(chi2.statistic, rel=1e-9)
    assert found.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    p, q = table[0] / table[0].sum(), table[1] / table[1].sum()
    assert found.effect == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    assert found.psi == pytest.approx(_psi(p, q), rel=1e-9)
    assert found.new_categories == {"enterprise": 45, "trial": 5}
    assert found.n_new_categories == 2


def test_population_table_gives_shares_of_all_rows_per_value() -> None:
    ref, cur = _frame(2000, 0), _frame(1800, 1)
    cur.loc[cur.index[:10], "plan"] = "trial"
    report = drift_report(ReferenceProfile.from_frame(ref, kinds=KINDS), cur)
    table = report.population_table("plan")
    assert list(table.index) == ["basic", "plus", "pro", "trial", "(missing)"]
    expected = cur["plan"].fillna("(missing)").value_counts(normalize=True)
    np.testing.assert_allclose(table["current_share"], expected.reindex(table.index), rtol=1e-12)
    assert table.loc["trial", "new"] and not table.loc["basic", "new"]
    assert table["reference_share"].sum() == pytest.approx(1.0)
    assert report.to_dict()["population"]["plan"][0]["value"] == "basic"
    with pytest.raises(MonitorError, match="Column 'x' is numeric"):
        report.population_table("x")


def test_long_population_tables_pool_rare_values_but_keep_missing() -> None:
    rng = np.random.default_rng(6)
    levels = np.array([f"v{i:02d}" for i in range(80)])
    ref = pd.DataFrame({"c": rng.choice(levels, 5000).astype(object)})
    cur = pd.DataFrame({"c": rng.choice(levels, 5000).astype(object)})
    cur.loc[:4, "c"] = None
    profile = ReferenceProfile.from_frame(ref, kinds={"c": "categorical"})
    table = drift_report(profile, cur).population_table("c")
    assert len(table) == 50
    assert list(table.index[-2:]) == ["(missing)", "(other values)"]
    assert table["current_count"].sum() == 5000
    assert table.loc["(missing)", "current_count"] == 5


def test_unseen_values_join_the_pooled_rare_categories(monkeypatch) -> None:
    monkeypatch.setattr("tabloop.data._reference.MAX_CATEGORIES", 2)
    ref = pd.DataFrame({"c": list("aaaabbbcd") * 50})
    cur = pd.DataFrame({"c": list("aaaabbbxy") * 50})
    profile = ReferenceProfile.from_frame(ref, kinds={"c": "categorical"})
    assert profile["c"].categories == ("a", "b") and profile["c"].other == 100
    found = drift_report(profile, cur).column("c")
    assert found.new_categories == {} and found.n_new_categories == 0
    table = np.array([[200, 150, 100], [200, 150, 100]])
    assert found.statistic == pytest.approx(stats.chi2_contingency(table).statistic, abs=1e-12)
    assert [r["value"] for r in found.population] == ["a", "b", "(other values)"]


def test_boolean_keys_match_whether_booleans_or_zero_one() -> None:
    ref = pd.DataFrame({"flag": np.tile([True, False, False], 500)})
    cur = pd.DataFrame({"flag": np.tile([1, 0, 0], 400)})
    profile = ReferenceProfile.from_frame(ref, kinds={"flag": "boolean"})
    found = drift_report(profile, cur).column("flag")
    assert found.new_categories == {}
    assert found.effect == pytest.approx(0.0, abs=1e-12)


def test_missing_rate_test_is_the_pooled_two_proportion_test() -> None:
    ref, cur = _frame(2000, 0), _frame(1800, 1)
    cur.loc[cur.index[::10], "x"] = np.nan
    found = drift_report(ReferenceProfile.from_frame(ref, kinds=KINDS), cur).column("x")
    a, b = int(ref["x"].isna().sum()), int(cur["x"].isna().sum())
    table = [[a, len(ref) - a], [b, len(cur) - b]]
    expected = stats.chi2_contingency(table, correction=False).pvalue
    assert found.missing_reference == a / len(ref)
    assert found.missing_current == b / len(cur)
    assert found.missing_p_value == pytest.approx(expected, rel=1e-9)


def test_p_values_are_adjusted_with_benjamini_hochberg() -> None:
    ref, cur = _frame(2000, 0), _frame(1800, 1, shift=0.1)
    report = drift_report(ReferenceProfile.from_frame(ref, kinds=KINDS), cur)
    raw = [c.p_value for c in report.columns]
    expected = stats.false_discovery_control(raw, method="bh")
    np.testing.assert_allclose([c.p_adjusted for c in report.columns], expected, rtol=1e-12)


# -- verdicts -----------------------------------------------------------------------------------
def test_injected_shifts_are_flagged_and_unshifted_columns_are_not() -> None:
    ref = _frame(20_000, 0)
    cur = _frame(20_000, 1, shift=0.5, plan_p=(0.3, 0.3, 0.4))
    report = drift_report(ReferenceProfile.from_frame(ref, kinds=KINDS), cur)
    assert report.drifted_columns == ["x", "plan"]
    assert report.share_drifted == 0.5
    assert report.column("x").effect == pytest.approx(0.5, abs=0.05)


def test_a_tiny_shift_at_large_n_is_significant_but_not_flagged() -> None:
    ref = _frame(200_000, 0)
    cur = _frame(200_000, 1, shift=0.03)
    found = drift_report(ReferenceProfile.from_frame(ref, kinds=KINDS), cur).column("x")
    assert found.p_adjusted < 1e-6  # detectable ...
    assert found.effect < 0.1  # ... but not material
    assert not found.drifted


def test_drifted_needs_both_effect_and_significance() -> None:
    ref, cur = _frame(300, 0), _frame(300, 1, shift=0.15)
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS)
    found = drift_report(profile, cur, threshold_numeric=0.0).column("x")
    assert found.effect > 0 and found.p_adjusted > 0.05 and not found.drifted
    big = drift_report(profile, _frame(300, 1, shift=2.0), threshold_numeric=5.0).column("x")
    assert big.p_adjusted < 1e-10 and big.effect < 5.0 and not big.drifted


def test_two_sample_chi2_keeps_false_alarms_at_alpha_unlike_goodness_of_fit() -> None:
    """Why drift uses chi2_contingency: the goodness-of-fit test treats the reference shares
    as exact and raises false alarms on identical distributions (Evidently's choice)."""
    rng = np.random.default_rng(7)
    levels, shares = np.array(list("abcde")), [0.35, 0.25, 0.2, 0.12, 0.08]
    ours = goodness = 0
    runs = 400
    for _ in range(runs):
        ref = pd.DataFrame({"c": rng.choice(levels, 2000, p=shares)})
        cur = pd.DataFrame({"c": rng.choice(levels, 2000, p=shares)})
        profile = ReferenceProfile.from_frame(ref, kinds={"c": "categorical"})
        ours += drift_report(profile, cur).column("c").p_value < 0.05
        ref_counts = ref["c"].value_counts().reindex(levels).to_numpy()
        cur_counts = cur["c"].value_counts().reindex(levels).to_numpy()
        expected = ref_counts / ref_counts.sum() * cur_counts.sum()
        goodness += stats.chisquare(f_obs=cur_counts, f_exp=expected).pvalue < 0.05
    assert ours / runs <= 0.09
    assert goodness / runs >= 0.2


def test_a_constant_reference_column_is_handled() -> None:
    ref = pd.DataFrame({"c": np.full(500, 3.0)})
    profile = ReferenceProfile.from_frame(ref, kinds={"c": "numeric"})
    same = drift_report(profile, pd.DataFrame({"c": np.full(400, 3.0)})).column("c")
    assert same.effect == 0 and same.statistic == 0 and not same.drifted
    moved = drift_report(profile, pd.DataFrame({"c": np.full(400, 4.0)})).column("c")
    assert moved.effect == pytest.approx(1 / 3) and moved.drifted  # relative to |mean|


# -- input errors -------------------------------------------------------------------------------
def test_an_absent_column_raises_with_its_name_or_is_reported() -> None:
    ref, cur = _frame(500, 0), _frame(500, 1)
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS)
    renamed = cur.rename(columns={"plan": "plans"})
    with pytest.raises(MonitorError, match=r"'plan' is not in the data\. Did you mean 'plans'"):
        drift_report(profile, renamed)
    with pytest.raises(MonitorError, match="missing='report'"):
        drift_report(profile, renamed)
    report = drift_report(profile, renamed, missing="report")
    assert report.absent == ["plan"]
    assert [c.column for c in report.columns] == ["x", "k", "flag"]
    assert report.to_dict()["absent"] == ["plan"]


def test_an_empty_window_raises() -> None:
    profile = ReferenceProfile.from_frame(_frame(500, 0), kinds=KINDS)
    with pytest.raises(MonitorError, match="The current data has no rows"):
        drift_report(profile, _frame(500, 1).head(0))


def test_a_non_numeric_value_in_a_numeric_column_is_named() -> None:
    profile = ReferenceProfile.from_frame(_frame(500, 0), kinds=KINDS)
    cur = _frame(500, 1)
    cur["x"] = cur["x"].astype(object)
    cur.loc[17, "x"] = "forty"
    match = r"Column 'x' of the current data must be numeric; got 'forty' in row 17"
    with pytest.raises(MonitorError, match=match):
        drift_report(profile, cur)


def test_columns_must_be_in_the_reference() -> None:
    profile = ReferenceProfile.from_frame(_frame(500, 0), kinds=KINDS)
    with pytest.raises(MonitorError, match="columns= names 'age', not in the reference profile"):
        drift_report(profile, _frame(500, 1), columns=["x", "age"])
    report = drift_report(profile, _frame(500, 1), columns=["plan"])
    assert [c.column for c in report.columns] == ["plan"]


def test_a_window_without_values_has_nan_statistics_and_drifts_on_its_missing_share() -> None:
    profile = ReferenceProfile.from_frame(_frame(500, 0), kinds=KINDS)
    cur = _frame(200, 1).assign(x=np.nan, plan=None)
    report = drift_report(profile, cur)
    for name in ("x", "plan"):
        found = report.column(name)
        assert np.isnan(found.p_value) and np.isnan(found.effect)
        assert found.missing_current == 1.0 and found.missing_p_value < 1e-10
        assert found.missing_drifted and found.drifted


# -- plain data ---------------------------------------------------------------------------------
def test_report_is_json_safe_and_identical_after_a_profile_round_trip(tmp_path) -> None:
    ref, cur = _frame(3000, 0), _frame(2500, 1, shift=0.3)
    profile = ReferenceProfile.from_frame(ref, kinds=KINDS, max_points=200)
    data = drift_report(profile, cur).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    again = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert drift_report(again, cur).to_dict() == data
    loaded = ReferenceProfile.load(profile.save(tmp_path / "reference_profile.json"))
    assert drift_report(loaded, cur).to_dict() == data
    assert set(data) >= {"columns", "population", "share_drifted", "drifted_columns", "absent"}
    assert data["columns"][0]["histogram"]["edges"]
