"""LagFeatures (``features.lags``): per-entity lags and rolling statistics of strictly
earlier rows, checked against pandas groupby-shift computed by hand on the sorted log."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tabloop.config import config_from_dict
from tabloop.examples import customer_events
from tabloop.exceptions import ColumnNotFoundError, DataError
from tabloop.prepare import LagFeatures, SelectFeatures, prepare_pipeline

SPEC = {
    "spend": {
        "by": "customer_id",
        "order": "month",
        "lags": [1, 2, 3],
        "windows": [3, 6],
        "stats": ["mean", "std", "max"],
        "calendar": ["month", "quarter"],
    }
}


@pytest.fixture(scope="module")
def log():
    """The event log in a random row order, with the target beside the features."""
    return customer_events(60, months=15, seed=3).sample(frac=1, random_state=7)


def _by_hand(log: pd.DataFrame) -> pd.DataFrame:
    """The expected features from the log sorted by customer and month."""
    ordered = log.sort_values(["customer_id", "month"])
    spend = ordered.groupby("customer_id")["spend"]
    out = pd.DataFrame(index=ordered.index)
    for k in (1, 2, 3):
        out[f"spend_lag{k}"] = spend.shift(k)
    before = spend.shift(1)
    for w in (3, 6):
        for stat in ("mean", "std", "max"):
            out[f"spend_{stat}{w}"] = before.groupby(ordered["customer_id"]).transform(
                lambda s, w=w, stat=stat: getattr(s.rolling(w, min_periods=1), stat)()
            )
    dates = pd.to_datetime(ordered["month"])
    out["month_quarter"] = dates.dt.quarter.astype(float)  # calendar parts: coarse to fine
    out["month_month"] = dates.dt.month.astype(float)
    return out.reindex(log.index)


def test_lags_and_rolling_statistics_equal_a_groupby_shift_by_hand(log):
    step = LagFeatures(lags=SPEC, target="spend")
    out = step.fit_transform(log)
    expected = _by_hand(log)
    assert "spend" not in out.columns  # the row's own target never reaches the model
    assert list(out.columns) == [*log.columns.drop("spend"), *expected.columns]
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)
    # hand arithmetic on one customer: lag 1 of the 4th month is the 3rd month's spend
    rows = log[log["customer_id"] == 5].sort_values("month")
    fourth = out.loc[rows.index[3]]
    assert fourth["spend_lag1"] == rows["spend"].iloc[2]
    assert fourth["spend_mean3"] == pytest.approx(rows["spend"].iloc[0:3].mean())


def test_changing_a_later_row_never_changes_an_earlier_rows_features(log):
    step = LagFeatures(lags=SPEC, target="spend")
    before = step.fit_transform(log)
    later = log["month"] >= "2024-09-01"
    changed = log.assign(spend=log["spend"].where(~later, log["spend"] * 10 + 1000))
    after = clone(step).fit_transform(changed)
    earlier = ~later
    pd.testing.assert_frame_equal(before[earlier], after[earlier])
    # and the first later month does see the earlier values only
    first = log["month"] == "2024-09-01"
    pd.testing.assert_series_equal(before.loc[first, "spend_lag1"], after.loc[first, "spend_lag1"])


def test_next_month_is_forecast_from_the_values_remembered_at_fit(log):
    step = LagFeatures(lags=SPEC, target="spend").fit(log)
    request = pd.DataFrame(
        {"customer_id": [5, 9], "month": ["2025-04-01", "2025-04-01"], "promo": [0, 1]}
    )
    out = step.transform(request)
    # the same rows appended to the whole log with an unknown spend, computed by hand
    whole = pd.concat([log, request.assign(spend=np.nan)], ignore_index=True)
    expected = _by_hand(whole).tail(2)
    for column in expected.columns:
        np.testing.assert_allclose(out[column], expected[column].to_numpy())
    last = log[log["customer_id"] == 5].sort_values("month")["spend"]
    assert out["spend_lag1"].iloc[0] == last.iloc[-1]
    assert out["spend_max6"].iloc[0] == last.iloc[-6:].max()


def test_a_frame_carrying_newer_rows_uses_them_before_the_remembered_ones(log):
    first_year = log[log["month"] < "2025-01-01"]
    step = LagFeatures(lags=SPEC, target="spend").fit(first_year)
    newer = log[log["month"] >= "2025-01-01"]
    out = step.transform(newer)
    expected = _by_hand(log).loc[newer.index]
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)
    # without the target, a later month cannot see the months between: missing, not stale
    blind = step.transform(newer.drop(columns="spend"))
    march = newer["month"] == "2025-03-01"
    assert blind.loc[march, "spend_lag1"].isna().all()
    assert blind.loc[march, "spend_lag3"].to_numpy() == pytest.approx(
        expected.loc[march, "spend_lag3"].to_numpy()
    )


def test_two_training_rows_for_one_entity_and_time_are_refused(log):
    doubled = pd.concat([log, log.head(1)])
    first = log.iloc[0]
    who = f"customer_id {int(first['customer_id'])} has 2 training rows at month '{first['month']}'"
    with pytest.raises(DataError, match=who):
        LagFeatures(lags=SPEC, target="spend").fit(doubled)


def test_a_text_source_and_a_missing_entity_column_are_named(log):
    with pytest.raises(DataError, match="column 'segment' must be numeric; got '"):
        LagFeatures(lags={"segment": {"order": "month", "lags": [1]}}).fit(log)
    with pytest.raises(ColumnNotFoundError, match="shop"):
        LagFeatures(lags={"spend": {"by": "shop", "order": "month", "lags": [1]}}).fit(log)


def test_a_spec_without_order_or_with_an_unknown_key_is_named_not_a_key_error(log):
    with pytest.raises(DataError, match=r"features\.lags\.spend\.order: the column ordering"):
        LagFeatures(lags={"spend": {"by": "customer_id", "lags": [1]}}).fit(log)
    with pytest.raises(DataError, match=r"features\.lags\.spend\.window: unknown key"):
        LagFeatures(lags={"spend": {"order": "month", "lags": [1], "window": [3]}}).fit(log)


def test_the_step_and_tabloop_yaml_share_defaults_mean_std_and_the_month(log):
    spec = {"by": "customer_id", "order": "month", "windows": [3]}
    raw = {"name": "t", "data": {"train": "t.csv", "target": "spend", "time": "month"}}
    cfg = config_from_dict({**raw, "features": {"lags": {"spend": spec}}})
    from_yaml = prepare_pipeline(cfg, family="tree").named_steps["lags"].fit(log)
    direct = LagFeatures(lags={"spend": spec}, target="spend").fit(log)
    assert direct.added_ == from_yaml.added_ == ["spend_mean3", "spend_std3", "month_month"]


def test_sklearn_contract(log):
    step = LagFeatures(lags=SPEC, target="spend")
    params = step.get_params()
    assert clone(step).get_params() == params
    with pytest.raises(NotFittedError):
        step.transform(log)
    fitted = clone(step).fit(log.drop(columns="spend"), log["spend"])  # the target from y
    assert fitted.get_params() == params
    out = fitted.transform(log)
    assert list(fitted.get_feature_names_out()) == list(out.columns)
    pd.testing.assert_frame_equal(
        out[["spend_lag1"]], _by_hand(log)[["spend_lag1"]], check_dtype=False
    )


def test_declared_lags_are_not_dropped_as_leakage_but_an_undeclared_one_is(log):
    X = LagFeatures(lags=SPEC, target="spend").fit_transform(log)
    y = log["spend"].to_numpy()
    common = {"correlation_threshold": 0.95, "leakage_cutoff": 0.5, "task": "regression"}
    plain = SelectFeatures(**common).fit(X, y)
    assert plain.dropped_["spend_mean6"].startswith("possible leakage")  # R² well above 0.5
    declared = SelectFeatures(**common, lagged=["spend_lag1", "spend_mean3", "spend_mean6"])
    declared.fit(X, y)
    assert {"spend_lag1", "spend_mean3", "spend_mean6"} <= set(declared.selected_)
    assert declared.dropped_["spend_max6"].startswith("possible leakage")


def test_the_project_pipeline_computes_lags_first_and_keeps_them(log):
    cfg = config_from_dict(
        {
            "name": "t",
            "data": {"train": "t.csv", "target": "spend", "time": "month"},
            "features": {"lags": {"spend": SPEC["spend"]}, "drop": ["customer_id"]},
        }
    )
    pipe = prepare_pipeline(cfg, family="tree", task="regression")
    assert [name for name, _ in pipe.steps][0] == "lags"
    pipe.fit(log, log["spend"].to_numpy())
    kept = pipe.named_steps["select"].selected_
    assert {"spend_lag1", "spend_lag2", "spend_lag3", "spend_mean3", "spend_std6"} <= set(kept)
    assert "spend" not in kept and "customer_id" not in kept and "month" not in kept


def test_with_every_month_a_skipped_month_is_missing_not_the_row_before(log):
    gappy = log[~((log["customer_id"] % 3 == 0) & log["month"].isin(["2024-05-01", "2024-06-01"]))]
    spec = {"spend": {**SPEC["spend"], "every": "month"}}
    out = LagFeatures(lags=spec, target="spend").fit_transform(gappy)
    # by hand: each customer on the full monthly grid (a skipped month is NaN), then shift
    grid = gappy.assign(month=pd.to_datetime(gappy["month"])).set_index(["customer_id", "month"])
    full = grid["spend"].unstack().T.asfreq("MS").T.stack(future_stack=True)
    spend = full.groupby(level=0)
    months = pd.MultiIndex.from_arrays([gappy["customer_id"], pd.to_datetime(gappy["month"])])
    for k in (1, 2, 3):
        expected = spend.shift(k).reindex(months).to_numpy()
        np.testing.assert_allclose(out[f"spend_lag{k}"], expected)
    before = spend.shift(1)
    mean6 = before.groupby(level=0).transform(lambda s: s.rolling(6, min_periods=1).mean())
    np.testing.assert_allclose(out["spend_mean6"], mean6.reindex(months).to_numpy())
    july = ((gappy["customer_id"] % 3 == 0) & (gappy["month"] == "2024-07-01")).to_numpy()
    assert out.loc[july, "spend_lag1"].isna().all() and out.loc[july, "spend_lag3"].notna().all()


def test_with_every_month_a_forecast_two_months_ahead_has_no_lag_1(log):
    spec = {"spend": {**SPEC["spend"], "every": "month"}}
    step = LagFeatures(lags=spec, target="spend").fit(log)
    out = step.transform(pd.DataFrame({"customer_id": [5], "month": ["2025-05-01"]}))
    last = log[log["customer_id"] == 5].sort_values("month")["spend"]  # ends 2025-03
    assert np.isnan(out["spend_lag1"].iloc[0])
    assert out["spend_lag2"].iloc[0] == last.iloc[-1]
    assert out["spend_mean3"].iloc[0] == pytest.approx(last.iloc[-2:].mean())


def test_every_must_fit_the_order_column(log):
    spec = {"spend": {**SPEC["spend"], "every": 1.0}}
    with pytest.raises(DataError, match="every 1.0 needs a numeric order column; 'month' is dates"):
        LagFeatures(lags=spec, target="spend").fit(log)
    twice = pd.concat([log, log.head(1).assign(month="2024-02-15")])
    twice = twice[~twice.duplicated(["customer_id", "month"])]
    first = twice.iloc[-1]
    with pytest.raises(DataError, match=f"customer_id {int(first['customer_id'])} has 2 training"):
        LagFeatures(lags={"spend": {**SPEC["spend"], "every": "month"}}, target="spend").fit(
            twice[twice["customer_id"] == first["customer_id"]]
        )


def test_lags_of_the_target_need_a_time_or_group_split():
    from tabloop.exceptions import ConfigError

    raw = {"name": "t", "data": {"train": "t.csv", "target": "spend"}}
    lags = {"lags": {"spend": {"by": "customer_id", "order": "month", "lags": [1]}}}
    with pytest.raises(ConfigError, match="needs split.strategy 'time' .* with 'stratified'"):
        config_from_dict({**raw, "features": lags})
    config_from_dict({**raw, "features": lags, "split": {"strategy": "group", "group": "c"}})
    timed = config_from_dict({**raw, "data": {**raw["data"], "time": "month"}, "features": lags})
    assert timed.split_strategy == "time"
