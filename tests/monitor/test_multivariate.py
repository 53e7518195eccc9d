"""domain_classifier: AUC near 0.5 without drift, higher with it, and the column behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.exceptions import MonitorError
from tabloop.monitor._multivariate import domain_classifier

KINDS = {"x": "numeric", "y": "numeric", "plan": "categorical", "flag": "boolean", "id": "id"}
COLUMNS = list(KINDS)


def _frame(n: int, seed: int, *, shift: float = 0.0, plan_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "y": rng.normal(shift, 1, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=plan_p),
            "flag": rng.random(n) < 0.3,
            "id": np.arange(n) + seed * n,  # differs between the sides: must be left out
        }
    )
    df.loc[df.index[::25], "x"] = np.nan
    df.loc[df.index[::30], "plan"] = None
    return df


def test_identical_distributions_give_auc_near_one_half() -> None:
    result = domain_classifier(
        _frame(1500, 0), _frame(1500, 1), columns=COLUMNS, kinds=KINDS, max_rows=1000
    )
    assert 0.4 < result["auc"] < 0.6
    assert len(result["auc_folds"]) == 5
    assert result["columns"] == ["x", "y", "plan", "flag"]
    assert (result["n_reference"], result["n_current"]) == (1000, 1000)


def test_a_shifted_column_raises_auc_and_ranks_first() -> None:
    result = domain_classifier(
        _frame(1500, 0), _frame(1500, 1, shift=1.0), columns=COLUMNS, kinds=KINDS, max_rows=1000
    )
    assert result["auc"] > 0.7
    assert result["importance"][0]["column"] == "y"
    assert sum(i["importance"] for i in result["importance"]) == pytest.approx(1.0)


def test_a_category_share_change_is_seen() -> None:
    result = domain_classifier(
        _frame(1500, 0),
        _frame(1500, 1, plan_p=(0.05, 0.15, 0.8)),
        columns=COLUMNS,
        kinds=KINDS,
        max_rows=1000,
    )
    assert result["auc"] > 0.7
    assert result["importance"][0]["column"] == "plan"


def test_pooled_auc_is_the_auc_of_out_of_fold_scores_and_seeded() -> None:
    args = (_frame(800, 0), _frame(800, 1, shift=0.5))
    first = domain_classifier(*args, columns=COLUMNS, kinds=KINDS, folds=3, seed=4)
    again = domain_classifier(*args, columns=COLUMNS, kinds=KINDS, folds=3, seed=4)
    assert first == again
    assert len(first["auc_folds"]) == 3
    # one AUC over all out-of-fold scores: close to the folds' (same models, pooled rows)
    assert min(first["auc_folds"]) - 0.05 <= first["auc_pooled"] <= max(first["auc_folds"]) + 0.05


def test_too_few_rows_raise_with_the_counts() -> None:
    with pytest.raises(MonitorError, match="got 4 reference and 300 current rows"):
        domain_classifier(_frame(4, 0), _frame(300, 1), columns=COLUMNS, kinds=KINDS)


def test_an_absent_column_or_no_usable_column_raises() -> None:
    with pytest.raises(MonitorError, match="In the current rows: Column 'plan' is not in the data"):
        domain_classifier(
            _frame(100, 0), _frame(100, 1).drop(columns="plan"), columns=COLUMNS, kinds=KINDS
        )
    with pytest.raises(MonitorError, match="No column to compare"):
        domain_classifier(_frame(100, 0), _frame(100, 1), columns=["id"], kinds=KINDS)
