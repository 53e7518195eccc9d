"""features.include is the user's explicit decision: no automatic step drops a listed column."""

import numpy as np

from tabloop.examples import customer_spend, traffic_stops
from tabloop.prepare import SelectFeatures

MONTHS = [f"spend_m{m:02d}" for m in range(1, 13)]


def test_listed_monthly_columns_survive_the_correlation_filter():
    df = customer_spend(1_500, seed=3)
    X, y = df.drop(columns="next_month_spend"), df["next_month_spend"]
    rho = X[MONTHS].corr(method="spearman").abs().to_numpy()
    assert (rho[np.triu_indices(12, 1)] >= 0.95).any()  # the filter has pairs to act on
    default = SelectFeatures(correlation_threshold=0.95).fit(X, y)
    assert set(MONTHS) - set(default.selected_)  # without include, months go

    listed = SelectFeatures(include=[*MONTHS, "sessions"], correlation_threshold=0.95).fit(X, y)
    assert listed.selected_ == [*MONTHS, "sessions"]
    assert all(r == "not in features.include" for r in listed.dropped_.values())


def test_a_listed_column_is_kept_even_when_it_looks_like_leakage_or_an_id():
    stops = traffic_stops(3_000)
    X = stops.drop(columns=["searched", "contraband"]).assign(row=np.arange(3_000))
    listed = ["search_authorization", "row", "department"]
    s = SelectFeatures(include=listed).fit(X, stops["searched"])
    assert s.selected_ == [c for c in X.columns if c in listed]
    unlisted = SelectFeatures(include=["department"]).fit(X, stops["searched"])
    assert unlisted.dropped_["search_authorization"] == "not in features.include"
    assert SelectFeatures().fit(X, stops["searched"]).dropped_["row"].startswith("id-like")
