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

#: Key columns of the counts table besides the protected and segment columns.
_Y, _PRED, _HUMAN = "\x00y", "\x00pred", "\x00human"
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
    table = fairness_cells(frame, settings, classes=classes)
    return fairness_from_cells(table, settings, n_boot=n_boot, seed=seed)


def fairness_cells(frame: pd.DataFrame, settings: Any, *, classes: list[Any]) -> Any:
    """The labelled rows reduced to counts per (segment, protected values, outcome,
    prediction, human decision), mergeable across partitions
    (:func:`tabloop.evaluate.merge_cells`); a sentence instead when a needed column is not
    in ``frame``."""
    needed = _needed(settings)
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        return (
            f"fairness: column {absent[0]!r} is not in the production rows; log it with "
            "serve.context (or include it in the --data file)"
        )
    y = outcome_codes(frame[OUTCOME], classes)
    pred_all = encode_labels(frame[PREDICTION], classes)
    labelled = np.isfinite(y) & (pred_all >= 0)
    rows = frame[labelled]
    columns: dict[str, Any] = {c: _keys(rows[c]) for c in needed}
    columns[_Y], columns[_PRED] = y[labelled], pred_all[labelled]
    human_column = getattr(settings, "human_decision", None)
    if human_column and human_column in frame.columns:
        columns[_HUMAN] = _binary(rows[human_column])
    table = pd.DataFrame(columns)
    return table.groupby(list(table.columns), dropna=False).size().rename("count").reset_index()


def fairness_from_cells(
    table: Any, settings: Any, *, n_boot: int, seed: int = 0
) -> tuple[dict[str, Any] | None, str | None]:
    """The audits from merged :func:`fairness_cells` tables (or the sentence one returned).

    The counts are expanded to one row per labelled row (a small integer and the keys by
    reference) and audited by :func:`tabloop.evaluate.fairness_audit`, whose result depends
    on the counts only: the figures equal the audit of the rows themselves.
    """
    if isinstance(table, str):
        return None, table
    if not len(table):
        return None, "fairness: no labelled rows in this window"
    rows = table.loc[np.repeat(table.index.to_numpy(), table["count"].to_numpy())]
    rows = rows.reset_index(drop=True)
    y, pred = rows[_Y].to_numpy(dtype=float), rows[_PRED].to_numpy(dtype=np.int64)
    common = {
        "sensitive": rows[list(settings.protected)],
        "segment": rows[settings.segment] if settings.segment else None,
        "metric": settings.metric,
        "min_group_size": settings.min_group_size,
        "max_gap": settings.max_gap,
        "intersections": settings.intersections,
        "n_boot": n_boot,
        "seed": seed,
    }
    model = fairness_audit(y, pred, **common)
    out: dict[str, Any] = {"model": model.to_dict(), "human": None}
    out["histograms"] = {"model": model.histogram()}
    human_column = getattr(settings, "human_decision", None)
    if human_column:
        if _HUMAN not in rows.columns:
            out["human_note"] = (
                f"human_decision column {human_column!r} is not in the production rows"
            )
        else:
            decision = rows[_HUMAN].to_numpy(dtype=float)
            known = np.isfinite(decision)
            human = fairness_audit(
                y[known],
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


def _keys(values: pd.Series) -> np.ndarray:
    """Category keys as Python strings, None where missing (a group of its own)."""
    keys = category_keys(values.reset_index(drop=True)).astype(object)
    return keys.where(keys.notna(), None).to_numpy(dtype=object)


def _needed(settings: Any) -> list[str]:
    needed = [*settings.protected, *([settings.segment] if settings.segment else [])]
    return list(dict.fromkeys(needed))


def _binary(values: pd.Series) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0, NaN where it is missing or neither."""
    keys = category_keys(values.reset_index(drop=True)).str.lower()
    out = np.full(len(keys), np.nan)
    out[keys.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[keys.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = 0.0
    return out
