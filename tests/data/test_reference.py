"""ReferenceProfile: what is summarised, lossless vs sketch, and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabloop.data import ReferenceProfile
from tabloop.exceptions import MonitorError

KINDS = {"x": "numeric", "k": "numeric", "plan": "categorical", "flag": "boolean"}


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(10, 2, n),
            "k": rng.poisson(3, n).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]).astype(object),
            "flag": rng.random(n) < 0.3,
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    df.loc[df.index[::50], "x"] = np.nan
    df.loc[df.index[::40], "plan"] = None
    return df


def test_lossless_profile_keeps_every_distinct_value_with_its_count() -> None:
    df = _frame()
    profile = ReferenceProfile.from_frame(df, kinds=KINDS)
    k = profile["k"]
    values, counts = np.unique(df["k"], return_counts=True)
    assert k.exact
    np.testing.assert_array_equal(k.values, values)
    np.testing.assert_array_equal(k.counts, counts)
    x = profile["x"]
    present = df["x"].dropna().to_numpy()
    assert (x.n, x.missing) == (2000, 40)
    assert x.mean == pytest.approx(present.mean(), rel=1e-12)
    assert x.std == pytest.approx(present.std(ddof=0), rel=1e-12)


def test_infinities_count_as_missing() -> None:
    df = pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, 2.0]})
    summary = ReferenceProfile.from_frame(df, kinds={"x": "numeric"})["x"]
    assert (summary.n, summary.missing) == (5, 3)
    assert summary.mean == 1.5


def test_sketch_cdf_is_within_half_a_point_of_the_data() -> None:
    rng = np.random.default_rng(1)
    data = rng.lognormal(size=30_000)
    frame = pd.DataFrame({"x": data})
    profile = ReferenceProfile.from_frame(frame, kinds={"x": "numeric"}, max_points=500)
    sketch = profile["x"]
    assert not sketch.exact and sketch.counts is None and len(sketch.values) == 500
    grid = np.sort(data)
    true_cdf = np.arange(1, len(grid) + 1) / len(grid)
    sketch_cdf = np.searchsorted(sketch.values, grid, side="right") / 500
    assert np.abs(true_cdf - sketch_cdf).max() <= 0.5 / 500 + 1e-12


def test_psi_bins_are_reference_deciles_with_exact_shares() -> None:
    df = _frame(n=5000)
    summary = ReferenceProfile.from_frame(df, kinds=KINDS)["x"]
    present = df["x"].dropna().to_numpy()
    expected = np.quantile(present, np.arange(1, 10) / 10, method="inverted_cdf")
    np.testing.assert_array_equal(summary.psi_edges, expected)
    bins = pd.cut(present, [-np.inf, *expected, np.inf], right=True)
    shares = pd.Series(bins).value_counts(normalize=True, sort=False).to_numpy()
    np.testing.assert_allclose(summary.psi_shares, shares, rtol=1e-12)
    assert summary.hist_shares.sum() == pytest.approx(1.0)


def test_categorical_counts_use_tabloop_category_keys() -> None:
    df = _frame()
    profile = ReferenceProfile.from_frame(df, kinds=KINDS)
    plan = profile["plan"]
    expected = df["plan"].value_counts()
    assert dict(zip(plan.categories, plan.counts.tolist(), strict=True)) == expected.to_dict()
    assert plan.categories[0] == "basic"  # most frequent first
    assert plan.missing == int(df["plan"].isna().sum())
    flag = profile["flag"]
    assert set(flag.categories) == {"true", "false"}
    assert dict(zip(flag.categories, flag.counts.tolist(), strict=True))["true"] == df["flag"].sum()


def test_a_zero_one_boolean_column_gets_true_false_keys() -> None:
    df = pd.DataFrame({"flag": [1, 0, 1, 1, None]})
    summary = ReferenceProfile.from_frame(df, kinds={"flag": "boolean"})["flag"]
    assert summary.categories == ("true", "false")
    assert summary.counts.tolist() == [3, 1]
    assert summary.missing == 1


def test_other_kinds_are_skipped_and_columns_keep_order() -> None:
    profile = ReferenceProfile.from_frame(_frame(), kinds={**KINDS, "when": "datetime"})
    assert profile.columns == ["x", "k", "plan", "flag"]
    assert profile.kind("flag") == "boolean"
    assert "when" not in profile


def test_round_trip_through_dict_and_file_is_exact(tmp_path) -> None:
    df = _frame()
    profile = ReferenceProfile.from_frame(df, kinds=KINDS, max_points=100)
    data = profile.to_dict()
    text = json.dumps(data, allow_nan=False)  # JSON-safe
    again = ReferenceProfile.from_dict(json.loads(text))
    assert again.to_dict() == data
    np.testing.assert_array_equal(again["x"].values, profile["x"].values)
    path = profile.save(tmp_path / "reference_profile.json")
    assert ReferenceProfile.load(path).to_dict() == data


def test_profile_is_compact() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({f"x{i}": rng.normal(size=100_000) for i in range(3)})
    profile = ReferenceProfile.from_frame(df, kinds=dict.fromkeys(df.columns, "numeric"))
    size = len(json.dumps(profile.to_dict()))
    # 20,000 sketch points per column at < 11 characters each, plus small arrays
    assert size < 3 * 20_000 * 11 + 10_000


@pytest.mark.parametrize(
    ("kinds", "match"),
    [
        ({"x": "money"}, "Column 'x' has kind 'money'; expected one of"),
        ({"nope": "numeric"}, "Column 'nope' is in kinds but not in the reference frame"),
        ({"plan": "numeric"}, "Column 'plan' of the reference must be numeric; got 'basic'"),
    ],
)
def test_bad_kinds_raise_monitor_error(kinds: dict[str, str], match: str) -> None:
    with pytest.raises(MonitorError, match=match):
        ReferenceProfile.from_frame(_frame(), kinds=kinds)


def test_empty_reference_and_unknown_file_format_raise() -> None:
    with pytest.raises(MonitorError, match="no rows"):
        ReferenceProfile.from_frame(_frame().head(0), kinds=KINDS)
    with pytest.raises(MonitorError, match="Not a tabloop reference profile"):
        ReferenceProfile.from_dict({"columns": []})
    with pytest.raises(MonitorError, match="Column 'zzz' is not in the reference profile"):
        ReferenceProfile.from_frame(_frame(), kinds=KINDS)["zzz"]


@pytest.mark.parametrize("max_points", [100, 20_000])
def test_long_arrays_round_trip_exactly_through_their_compact_encoding(max_points: int) -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    unique = rng.normal(size=n)
    unique[10_000:] = np.nan  # 10,000 values, no ties: unit weights
    df = pd.DataFrame(
        {
            "unique": unique,
            "tied": rng.integers(0, 100, n) / 7,  # 100 values, about 300 rows each
            "many": np.repeat(np.arange(75.0), 400) * 1e-3,  # 75 values, counts > 255
        }
    )
    profile = ReferenceProfile.from_frame(
        df, kinds=dict.fromkeys(df.columns, "numeric"), max_points=max_points
    )
    data = json.loads(json.dumps(profile.to_dict()))
    many = next(c for c in data["columns"] if c["name"] == "many")
    assert many["counts"]["dtype"] == "<u2"  # the compact encoding, not a list
    again = ReferenceProfile.from_dict(data)
    for name in df.columns:
        before, after = profile[name], again[name]
        np.testing.assert_array_equal(after.values, before.values)
        np.testing.assert_array_equal(after.cumulative(), before.cumulative())
        assert after.exact == before.exact
    assert again["unique"].exact == (max_points >= 10_000)
    assert again["unique"].counts is None
    np.testing.assert_array_equal(again["many"].counts, np.full(75, 400))
    np.testing.assert_array_equal(again["tied"].values, np.unique(df["tied"]))
