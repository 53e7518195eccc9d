import numpy as np
import pandas as pd
import pytest

from tabloop.data import split
from tabloop.examples import customer_spend, traffic_stops
from tabloop.exceptions import ColumnNotFoundError, SplitError, TargetError


def test_stratified_split_keeps_class_shares(load):
    df = load("hr")
    train, test = split(df, target="status", test_size=0.25, seed=3)
    assert len(test) == int(np.ceil(0.25 * len(df)))
    assert set(train.index).isdisjoint(test.index) and len(train) + len(test) == len(df)
    overall = df["status"].value_counts()
    for cls, count in overall.items():
        assert abs((test["status"] == cls).sum() - 0.25 * count) <= 1


def test_stratified_split_of_a_regression_target_balances_quantiles():
    df = customer_spend(1_000)
    train, test = split(df, target="next_month_spend", test_size=0.2)
    deciles = pd.qcut(df["next_month_spend"], 10, labels=False)
    counts = deciles.loc[test.index].value_counts()
    assert counts.min() >= 19 and counts.max() <= 21


def test_same_seed_same_split_and_different_seed_different_split(load):
    df = load("titanic")
    a = split(df, target="survived", seed=1).test.index
    b = split(df, target="survived", seed=1).test.index
    c = split(df, target="survived", seed=2).test.index
    assert a.equals(b) and not a.equals(c)


def test_group_split_never_puts_an_entity_on_both_sides():
    df = customer_spend(300).loc[lambda d: d.index.repeat(3)].reset_index(drop=True)
    train, test = split(df, strategy="group", group="customer_id", test_size=0.2)
    assert set(train["customer_id"]).isdisjoint(test["customer_id"])
    assert test["customer_id"].nunique() == 60


def test_time_split_puts_every_test_row_after_every_train_row():
    df = traffic_stops(3_000)
    train, test = split(df, strategy="time", time="date", test_size=0.2)
    assert train["date"].max() < test["date"].min()
    assert len(train) + len(test) == len(df)
    assert abs(len(test) / len(df) - 0.2) < 0.01


def test_time_split_on_a_year_column_keeps_ties_together(load):
    df = load("arrests")
    train, test = split(df, strategy="time", time="year", test_size=0.2)
    assert train["year"].max() < test["year"].min()
    share = len(test) / len(df)
    cut_candidates = [(df["year"] >= y).mean() for y in sorted(df["year"].unique())[1:]]
    assert share == pytest.approx(min(cut_candidates, key=lambda s: abs(s - 0.2)))


def test_time_split_on_date_strings():
    df = pd.DataFrame(
        {"when": ["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-04"] * 5, "y": [0, 1] * 10}
    )
    train, test = split(df, strategy="time", time="when", test_size=0.25)
    assert set(test["when"]) == {"2024-01-04"}


def test_target_with_missing_values_is_reported_by_row(load):
    df = load("titanic")
    df.loc[[4, 17, 99], "survived"] = np.nan
    with pytest.raises(TargetError, match=r"missing in 3 row\(s\): 4, 17, 99") as info:
        split(df, target="survived")
    assert info.value.rows == [4, 17, 99]


def test_class_with_a_single_row_cannot_be_stratified():
    df = pd.DataFrame({"x": range(10), "y": ["a"] * 5 + ["b"] * 4 + ["c"]})
    with pytest.raises(SplitError, match="class 'c' has only 1 row"):
        split(df, target="y")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"strategy": "sideways"}, "must be one of"),
        ({"test_size": 1.5}, "between 0 and 1"),
        ({"strategy": "group"}, "needs split.group"),
        ({"strategy": "time"}, "needs a time column"),
        ({"strategy": "stratified", "target": None}, "needs a target column"),
    ],
)
def test_bad_split_settings_say_what_is_expected(load, kwargs, message):
    args = {"target": "survived", **kwargs}
    with pytest.raises(SplitError, match=message):
        split(load("titanic"), **args)


def test_unknown_target_suggests_close_matches(load):
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'survived'"):
        split(load("titanic"), target="Survived ")


def test_time_split_with_unparseable_time_names_the_row():
    df = pd.DataFrame({"when": ["2024-01-01", "soon", "2024-01-03"], "y": [0, 1, 0]})
    with pytest.raises(SplitError, match="'soon' in row 1"):
        split(df, strategy="time", time="when")
