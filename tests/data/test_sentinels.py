"""The profile flags likely missing-value codes and gives the config line that declares them."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import tabloop
from tabloop.config import config_from_dict


def _flags(p):
    return {w["column"]: w for w in p.warnings if w["kind"] == "missing_code"}


def test_text_codes_of_german_credit_are_flagged_with_their_config_line(load):
    df = load("german_credit")
    flags = _flags(tabloop.profile(df, target="risk"))
    assert set(flags) == {"saving_accounts", "checking_account"}
    for column, flag in flags.items():
        rows = int((df[column] == "not_known").sum())
        assert f"'not_known' in {rows:,} rows ({100 * rows / len(df):.1f}%)" in flag["message"]
        assert flag["suggestion"] == f"prepare.missing_values: {{{column}: [not_known]}}"


def test_number_codes_far_outside_a_column_are_flagged_and_real_values_are_not(load):
    df = load("apartments").drop(columns=["Unnamed: 0"])
    assert not _flags(tabloop.profile(df, target="m2_price"))  # clean: nothing to say
    coded = df.copy()
    coded.loc[:4, "floor"] = -1  # floors are 1..10: a negative code
    coded.loc[10:12, "surface"] = 9999  # surfaces are 20..150 m²
    coded.loc[20, "no_rooms"] = 99
    flags = _flags(tabloop.profile(coded, target="m2_price"))
    assert set(flags) == {"floor", "surface", "no_rooms"}
    assert flags["floor"]["values"] == [-1] and "'-1'" not in flags["floor"]["message"]
    assert "-1 in 5 rows (0.5%)" in flags["floor"]["message"]
    assert "9999 in 3 rows" in flags["surface"]["message"]
    rest = coded.loc[~coded["surface"].eq(9999), "surface"]
    q1, q3 = np.quantile(rest, [0.25, 0.75])
    assert q3 + 3 * (q3 - q1) < 9999


def test_the_suggested_line_declares_exactly_the_flagged_codes():
    df = tabloop.examples.treatment_outcomes(n=800, seed=2)
    df.loc[:9, "age"] = 999
    df.loc[20:29, "age"] = -1
    df["referral"] = np.where(np.arange(len(df)) % 7 == 0, "?", "gp")
    flags = _flags(tabloop.profile(df, target="unsuccessful_outcome"))
    for column, values in (("age", [-1, 999]), ("referral", ["?"])):
        key, _, body = flags[column]["suggestion"].partition(": ")
        assert key == "prepare.missing_values"
        raw = {"name": "t", "data": {"train": "t.csv", "target": "y"}}
        config = config_from_dict({**raw, "prepare": {"missing_values": yaml.safe_load(body)}})
        assert config.prepare.missing_values == {column: values}


@pytest.mark.parametrize("value", ["none", "0"])
def test_values_that_are_often_real_are_not_flagged(value):
    import pandas as pd

    from tabloop.data._sentinels import likely_codes

    df = pd.DataFrame({"c": [value, "a", "b"] * 10, "n": [0, 1, 2] * 10})
    assert likely_codes(df, ["c", "n"]) == []
