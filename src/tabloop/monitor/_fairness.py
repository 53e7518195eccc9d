"""Fairness in production: the evaluation's audit on the labelled rows of the log.

The computation is :func:`tabloop.evaluate.fairness_audit` (vectorised over confusion
counts, bootstrap intervals, three-way verdicts), run once for the model's predictions and,
when the log carries the human's own decision (``human_decision``, e.g. the officer's
search), once more for that decision on the same rows: the baseline the model is judged
against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import category_keys
from tabloop.evaluate import fairness_audit
from tabloop.monitor._performance import encode_labels, outcome_codes
from tabloop.monitor._production import OUTCOME, PREDICTION

_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


def production_fairness(
    frame: pd.DataFrame,
    settings: Any,
    *,
    classes: list[Any],
    n_boot: int,
    seed: int = 0,
) -> tuple[dict[str, Any] | None, str | None]:
    """``({"model": audit, "human": audit | None, "histograms": ...}, None)`` or
    ``(None, why)`` when the audit cannot run (a column is not logged, nothing labelled)."""
    needed = [*settings.protected, *([settings.segment] if settings.segment else [])]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        return None, (
            f"fairness: column {absent[0]!r} is not in the production rows; log it with "
            "serve.context (or include it in the --data file)"
        )
    y = outcome_codes(frame[OUTCOME], classes)
    pred_all = encode_labels(frame[PREDICTION], classes)
    labelled = np.isfinite(y) & (pred_all >= 0)
    if not labelled.any():
        return None, "fairness: no labelled rows in this window"
    rows = frame[labelled]
    pred = pred_all[labelled]
    common = {
        "sensitive": rows[list(settings.protected)].reset_index(drop=True),
        "segment": rows[settings.segment].reset_index(drop=True) if settings.segment else None,
        "metric": settings.metric,
        "min_group_size": settings.min_group_size,
        "max_gap": settings.max_gap,
        "intersections": settings.intersections,
        "n_boot": n_boot,
        "seed": seed,
    }
    model = fairness_audit(y[labelled], pred, **common)
    out: dict[str, Any] = {"model": model.to_dict(), "human": None}
    out["histograms"] = {"model": model.histogram()}
    human_column = getattr(settings, "human_decision", None)
    if human_column:
        if human_column not in frame.columns:
            out["human_note"] = (
                f"human_decision column {human_column!r} is not in the production rows"
            )
        else:
            decision = _binary(rows[human_column])
            known = np.isfinite(decision)
            human = fairness_audit(
                y[labelled][known],
                decision[known].astype(int),
                **{
                    **common,
                    "sensitive": common["sensitive"][known].reset_index(drop=True),
                    "segment": None
                    if common["segment"] is None
                    else common["segment"][known].reset_index(drop=True),
                },
            )
            out["human"] = human.to_dict()
            out["histograms"]["human"] = human.histogram()
    return out, None


def _binary(values: pd.Series) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0, NaN where it is missing or neither."""
    keys = category_keys(values.reset_index(drop=True)).str.lower()
    out = np.full(len(keys), np.nan)
    out[keys.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[keys.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = 0.0
    return out
