"""The retraining set: original rows (optionally filtered) plus labelled production rows.

Production rows are rebuilt in the shape of the training table (the logged inputs and
context, the outcome as the target). The newest ``retrain.holdout`` share of labelled
production rows, by prediction time, is held out: champion and challenger are compared on
exactly those rows, which neither was trained on, and nothing at or after their start is
trained on (no look-ahead). Rows that share an id keep the newest version: a production
label supersedes the original row of the same entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.exceptions import RetrainError

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig

SOURCE = "_tabloop_source"


@dataclass
class RetrainData:
    """``train`` (what the challenger learns from) and ``holdout`` (where both are judged)."""

    train: pd.DataFrame = field(repr=False)
    holdout: pd.DataFrame = field(repr=False)
    counts: dict[str, Any]
    holdout_from: str | None = None


def assemble(
    config: ProjectConfig,
    *,
    original: pd.DataFrame,
    production: pd.DataFrame | None,
) -> RetrainData:
    """Build the retraining set from ``original`` (the project's data) and ``production``
    (the monitor's flat frame of logged rows, see :mod:`tabloop.monitor._production`)."""
    from tabloop.monitor import production as prod

    target, settings = config.data.target, config.retrain
    if target is None:
        raise RetrainError("retrain needs data.target: clustering projects have no outcome.")
    kept = _filtered(original, settings.filter)
    counts: dict[str, Any] = {
        "original": len(original),
        "original_kept": len(kept),
        "filter": settings.filter,
    }
    if not settings.production:
        counts.update(production_labelled=0, production_train=0, holdout=0)
        counts["train"] = len(kept)
        return RetrainData(kept, kept.iloc[:0], counts)
    if production is None or len(production) == 0:
        raise RetrainError(
            "The prediction log holds no rows for this model, so there is nothing to hold "
            "out. Serve predictions and upload outcomes first, or set retrain.production: "
            "false to retrain on the original data alone."
        )
    labelled = production[production[prod.OUTCOME].notna()]
    if len(labelled) < 10:
        raise RetrainError(
            f"Only {len(labelled)} production rows have an outcome; at least 10 are needed to "
            "compare challenger and champion. Upload outcomes (POST /outcomes) first."
        )
    rows = _as_training_rows(labelled, original, config)
    rows = rows.sort_values(prod.TIME, kind="stable")
    n_hold = max(1, int(round(len(rows) * settings.holdout)))
    holdout, recent_train = rows.iloc[-n_hold:], rows.iloc[:-n_hold]
    start = holdout[prod.TIME].iloc[0]
    cut = 0
    if config.data.time and config.data.time in kept.columns and pd.notna(start):
        times = pd.to_datetime(kept[config.data.time], utc=True, errors="coerce")
        late = (times >= start).to_numpy()
        cut, kept = int(late.sum()), kept[~late]
    train = pd.concat(
        [
            kept.assign(**{SOURCE: "original"}),
            recent_train.drop(columns=[prod.TIME]).assign(**{SOURCE: "production"}),
        ],
        ignore_index=True,
    )
    before = len(train)
    if config.data.id and config.data.id in train.columns:
        ids = train[config.data.id]
        newest = ~ids.duplicated(keep="last") | ids.isna()
        train = train[newest.to_numpy()]
        held_ids = set(holdout[config.data.id].dropna())
        train = train[~train[config.data.id].isin(held_ids).to_numpy()]
    counts.update(
        production_labelled=len(labelled),
        production_train=int((train[SOURCE] == "production").sum()),
        holdout=len(holdout),
        duplicates_dropped=before - len(train),
        original_after_holdout_start=cut,
        train=len(train),
    )
    return RetrainData(
        train.drop(columns=[SOURCE]).reset_index(drop=True),
        holdout.drop(columns=[prod.TIME]).reset_index(drop=True),
        counts,
        holdout_from=None if pd.isna(start) else start.isoformat(),
    )


def _filtered(df: pd.DataFrame, expression: str | None) -> pd.DataFrame:
    if not expression:
        return df
    from tabloop.prepare import Formula

    mask = Formula(expression, name="retrain.filter").evaluate(df)
    values = pd.Series(mask, index=df.index)
    if not (pd.api.types.is_bool_dtype(values) or values.dropna().isin([True, False]).all()):
        raise RetrainError(
            f"retrain.filter {expression!r} must give True/False per row; got values like "
            f"{values.dropna().iloc[0]!r}. Write a comparison, e.g. 'searched == True'."
        )
    kept = df[values.fillna(False).astype(bool).to_numpy()]
    if len(kept) == 0:
        raise RetrainError(f"retrain.filter {expression!r} keeps none of the {len(df)} rows.")
    return kept


def _as_training_rows(
    labelled: pd.DataFrame, original: pd.DataFrame, config: ProjectConfig
) -> pd.DataFrame:
    """Production rows with the original table's columns; the outcome becomes the target,
    cast to the target's type so ``True`` and ``"true"`` are one class."""
    from tabloop.data.frame import category_key, category_keys
    from tabloop.monitor import production as prod

    target = config.data.target
    assert target is not None
    columns = [c for c in original.columns if c in labelled.columns and c != target]
    out = labelled[columns].copy()
    values = labelled[prod.OUTCOME]
    source = original[target]
    if pd.api.types.is_numeric_dtype(source) and not pd.api.types.is_bool_dtype(source):
        out[target] = pd.to_numeric(values, errors="coerce").to_numpy()
    else:
        lookup = {category_key(v): v for v in source.dropna().unique()}
        mapped = category_keys(values.reset_index(drop=True)).map(lookup)
        unknown = mapped.isna().to_numpy()
        if unknown.any():
            bad = values.to_numpy()[unknown][0]
            raise RetrainError(
                f"A production outcome {bad!r} is not a value of the target {target!r} "
                f"({', '.join(sorted(lookup))}); correct it with POST /outcomes overwrite=true."
            )
        out[target] = mapped.to_numpy()
        if pd.api.types.is_bool_dtype(source):
            out[target] = out[target].astype(bool)
    if config.data.time and config.data.time not in out.columns:
        out[config.data.time] = labelled[prod.TIME].dt.tz_localize(None).to_numpy()
    missing = [c for c in original.columns if c not in out.columns and c != target]
    for column in missing:
        out[column] = np.nan
    out[prod.TIME] = labelled[prod.TIME].to_numpy()
    return out[[*original.columns, prod.TIME]]
