"""Profile a table before modelling: types, missing values, target, distributions,
correlations, duplicates, groups, single-feature power and leakage.

``profile()`` computes plain data (``Profile.data``, JSON-ready); ``Profile.save`` renders it
as ``profile.html`` (self-contained, charts included) and ``profile.json`` (the same numbers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabloop._progress import track
from tabloop.data import _frame
from tabloop.data._associations import correlations
from tabloop.data._predictive import pure_segments, single_feature_power, text_power
from tabloop.data._profile_warnings import profile_warnings
from tabloop.data._schema import Schema, infer_schema
from tabloop.data._sentinels import likely_codes
from tabloop.data._task import TASKS, infer_task, positive_label
from tabloop.exceptions import DataError

_TOP_CATEGORIES = 30
_HIST_BINS = 30
_P_RELATED = 0.05


@dataclass
class Profile:
    """The result of :func:`profile`: ``data`` holds every number, JSON-ready."""

    data: dict[str, Any]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return self.data["warnings"]

    @property
    def leakage(self) -> list[dict[str, Any]]:
        return [w for w in self.data["warnings"] if w["kind"] in ("leakage", "pure_segment")]

    def missing_table(self) -> pd.DataFrame:
        """One row per column: missing count and percentage, and the relation to the target."""
        return pd.DataFrame(self.data["missing"]).set_index("column")

    def predictive_power(self) -> pd.DataFrame:
        return pd.DataFrame(self.data["predictive_power"])

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, default=_frame.python_value)

    def to_html(self) -> str:
        from tabloop.report import render_profile

        return render_profile(self.data)

    def save(self, out_dir: str | Path = ".") -> dict[str, Path]:
        """Write ``profile.html`` and ``profile.json`` into ``out_dir``; return their paths."""
        from tabloop.report import save_report

        return save_report(out_dir, "profile", json_text=self.to_json(), html=self.to_html())


def profile(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    id: str | None = None,
    by: str | Iterable[str] = (),
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    text: Iterable[str] = (),
    leakage_cutoff: float = 0.9,
    correlation_threshold: float = 0.8,
    pure_segment_share: float = 0.98,
    min_segment_rows: int | None = None,
    sample_rows: int = 200_000,
    title: str | None = None,
    seed: int = 0,
) -> Profile:
    """Profile ``df`` for modelling ``target``.

    Parameters
    ----------
    target : the column to predict (optional: without it, target sections are left out).
    task : ``binary``/``multiclass``/``regression``; inferred from the target when omitted.
    id : the id column (excluded from statistics; inferred id-like columns are too).
    by : group column(s): every other column's distribution is shown per group value.
    categorical, numeric, text : columns whose kind is forced (``features`` of tabloop.yaml);
        a text column is scored by its words (``text_power``).
    leakage_cutoff : a column whose single-column ROC-AUC (R² for regression) reaches this
        is reported as possible leakage.
    correlation_threshold : pairs with |Pearson|, |Spearman| or Cramér's V at or above it
        are listed as highly correlated.
    pure_segment_share, min_segment_rows : a category value with at least
        ``min_segment_rows`` rows (default: 1% of rows, at least 30) whose target is one
        class in at least ``pure_segment_share`` of them is reported as a pure segment.
    sample_rows : above this many rows, correlations, groups and predictive power are
        computed on a seeded random sample of this size (the report says so).

    Examples
    --------
    >>> import tabloop
    >>> from tabloop.examples import treatment_outcomes
    >>> p = tabloop.profile(treatment_outcomes(n=2_000), target="unsuccessful_outcome")
    >>> p.data["shape"]
    {'rows': 2000, 'columns': 13}
    """
    _frame.require_frame(df)
    if len(df) == 0:
        raise DataError("Cannot profile an empty table (0 rows).")
    if task is not None and task not in TASKS[:3]:
        raise DataError(f"task must be one of {TASKS[:3]} (or None to infer it); got {task!r}.")
    groups = [by] if isinstance(by, str) else list(by)
    _frame.require_columns(df, [c for c in [target, id] if c], role="column")
    _frame.require_columns(df, groups, role="group column")
    schema = infer_schema(
        df,
        target=target,
        id=id,
        categorical=categorical,
        numeric=numeric,
        text=text,
        strict=False,
    )
    out: dict[str, Any] = {
        "title": title or "Data profile",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "shape": {"rows": int(len(df)), "columns": int(df.shape[1])},
        "settings": {
            "leakage_cutoff": leakage_cutoff,
            "correlation_threshold": correlation_threshold,
            "pure_segment_share": pure_segment_share,
            "sample_rows": sample_rows,
        },
        "schema": schema.to_dict(),
        "warnings": [],
    }
    labelled = df if target is None else df[df[target].notna()]
    sample = labelled
    if len(labelled) > sample_rows:
        sample = labelled.sample(sample_rows, random_state=seed)
    out["sample"] = {"rows": int(len(sample)), "sampled": len(sample) < len(labelled)}
    features = [c for c in schema.features if schema[c].kind != "id"]
    numeric_cols = [c for c in features if schema[c].kind == "numeric"]
    categorical_cols = [c for c in features if schema[c].kind in ("categorical", "boolean")]

    steps = ["target", "columns", "missing", "correlations", "duplicates", "groups", "power"]
    for step in track(steps, "Profiling", total=len(steps)):
        if step == "target" and target is not None:
            task = task or infer_task(labelled[target])
            out["target"] = _target_section(df, target, task)
        elif step == "columns":
            out["columns"] = [_column_section(df[c], schema, c) for c in df.columns]
        elif step == "missing":
            out["missing"] = _missing_section(df, schema, target, task)
            out["missing_codes"] = likely_codes(df, features)  # not_known, -1, 999 ...
        elif step == "correlations":
            out["correlations"] = correlations(
                sample, numeric_cols, categorical_cols, threshold=correlation_threshold
            )
        elif step == "duplicates":
            out.update(_duplicates_section(df, schema))
        elif step == "groups":
            out["groups"] = [
                _group_section(sample, schema, column, g)
                for g in groups
                for column in [*features, *([target] if target else [])]
                if column != g
            ]
        elif step == "power" and target is not None:
            candidates = [c for c in features if schema[c].kind != "text"]
            out["predictive_power"] = single_feature_power(
                sample, candidates, target, task, seed=seed
            )
            texts = [c for c in features if schema[c].kind == "text"]
            if texts:  # words, not values: TF-IDF + a linear model per column
                out["text_power"] = text_power(sample, texts, target, task, seed=seed)
            if task in ("binary", "multiclass"):
                min_rows = min_segment_rows or max(30, int(0.01 * len(sample)))
                out["pure_segments"] = pure_segments(
                    sample,
                    categorical_cols,
                    target,
                    min_rows=min_rows,
                    min_share=pure_segment_share,
                )
    out["task"] = task if target is not None else "clustering"
    out["warnings"] = profile_warnings(out, schema, df, leakage_cutoff)
    return Profile(out)


def _target_section(df: pd.DataFrame, target: str, task: str) -> dict[str, Any]:
    y = df[target]
    missing = y.isna()
    section: dict[str, Any] = {
        "name": target,
        "task": task,
        "missing": {
            "count": int(missing.sum()),
            "rows": [_frame.row_label(r) for r in df.index[missing][:100]],
        },
    }
    present = y[~missing]
    if task in ("binary", "multiclass"):
        counts = _frame.category_keys(present).value_counts()
        section["balance"] = [
            {"value": k, "count": int(v), "share": round(v / len(present), 4)}
            for k, v in counts.items()
        ]
        if task == "binary":
            section["positive"] = positive_label(present)
    else:
        section["summary"] = _numeric_summary(present.astype("float64"))
    return section


def _column_section(series: pd.Series, schema: Schema, name: str) -> dict[str, Any]:
    col = schema[name]
    n = len(series)
    n_missing = int(series.isna().sum())
    out: dict[str, Any] = {
        "name": name,
        "kind": col.kind,
        "dtype": str(series.dtype),
        "missing_count": n_missing,
        "missing_pct": round(100 * n_missing / n, 2),
        "n_unique": col.n_unique,
    }
    present = series.dropna()
    if col.kind == "numeric" and len(present):
        values = _frame.to_numeric(present)[0]
        out["summary"] = _numeric_summary(values)
        out["distribution"] = _histogram(values)
    elif col.kind == "datetime" and len(present):
        values = _frame.to_datetime(present)[0]
        hist = _histogram(values.astype("int64").astype("float64"))
        hist["edges"] = [pd.Timestamp(int(e)).isoformat() for e in hist["edges"]]
        out["summary"] = {"min": values.min().isoformat(), "max": values.max().isoformat()}
        out["distribution"] = hist
    elif col.kind in ("categorical", "boolean", "text"):
        out["distribution"] = _category_counts(series)
        if col.kind == "text":
            lengths = present.astype("string").str.len()
            out["summary"] = _numeric_summary(lengths.astype("float64"))
    return out


def _numeric_summary(values: pd.Series) -> dict[str, Any]:
    values = values.dropna()
    if values.empty:
        return {}
    q = values.quantile([0.25, 0.5, 0.75])
    return {
        "mean": _r(values.mean()),
        "std": _r(values.std()),
        "min": _r(values.min()),
        "q25": _r(q[0.25]),
        "median": _r(q[0.5]),
        "q75": _r(q[0.75]),
        "max": _r(values.max()),
        "skew": _r(values.skew()) if len(values) > 2 else None,
        "zeros": int((values == 0).sum()),
    }


def _histogram(values: pd.Series) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    n_unique = finite.nunique()
    if n_unique <= _HIST_BINS and (finite == np.round(finite)).all():
        counts = finite.value_counts().sort_index()
        return {
            "type": "values",
            "values": [int(v) for v in counts.index],
            "counts": [int(c) for c in counts],
        }
    counts, edges = np.histogram(finite, bins=_HIST_BINS)
    return {"type": "histogram", "edges": [_r(e) for e in edges], "counts": counts.tolist()}


def _category_counts(series: pd.Series) -> dict[str, Any]:
    keys = _frame.category_keys(series).fillna("(missing)")
    counts = keys.value_counts()
    top = counts.iloc[:_TOP_CATEGORIES]
    values, numbers = top.index.tolist(), [int(c) for c in top]
    other = int(counts.iloc[_TOP_CATEGORIES:].sum())
    if other:
        values.append("(other)")
        numbers.append(other)
    return {"type": "categories", "values": values, "counts": numbers}


def _missing_section(
    df: pd.DataFrame, schema: Schema, target: str | None, task: str | None
) -> list[dict[str, Any]]:
    rows = []
    y = df[target] if target else None
    for name in df.columns:
        is_missing = df[name].isna()
        count = int(is_missing.sum())
        entry: dict[str, Any] = {
            "column": name,
            "count": count,
            "pct": round(100 * count / len(df), 2),
        }
        if y is not None and name != target and 0 < count < len(df):
            entry["relation_to_target"] = _missing_vs_target(is_missing, y, task)
        rows.append(entry)
    return rows


def _missing_vs_target(is_missing: pd.Series, y: pd.Series, task: str | None) -> dict[str, Any]:
    """Is the target different where this column is missing? Chi-squared on the
    missing-indicator × class table (classification) or Mann-Whitney U (regression)."""
    from scipy import stats

    labelled = y.notna()
    is_missing, y = is_missing[labelled], y[labelled]
    if is_missing.all() or not is_missing.any():
        return {"test": None, "p_value": None, "related": False}
    if task == "regression":
        values = y.astype("float64")
        result = stats.mannwhitneyu(values[is_missing], values[~is_missing])
        return {
            "test": "mann-whitney-u",
            "p_value": _r(result.pvalue, 6),
            "related": bool(result.pvalue < _P_RELATED),
            "target_mean_when_missing": _r(values[is_missing].mean()),
            "target_mean_when_present": _r(values[~is_missing].mean()),
        }
    keys = _frame.category_keys(y)
    table = pd.crosstab(is_missing, keys)
    chi2, p_value, _, _ = stats.chi2_contingency(table.to_numpy())
    out = {
        "test": "chi-squared",
        "statistic": _r(chi2),
        "p_value": _r(p_value, 6),
        "related": bool(p_value < _P_RELATED),
    }
    if task == "binary":
        positive = positive_label(y)
        out["positive"] = positive
        out["positive_rate_when_missing"] = _r((keys[is_missing] == positive).mean())
        out["positive_rate_when_present"] = _r((keys[~is_missing] == positive).mean())
    return out


def _duplicates_section(df: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    id_like = [c.name for c in schema if c.kind == "id"]
    hashable = df.astype({c: "string" for c in df.columns if df[c].dtype == object})
    without_ids = hashable.drop(columns=id_like)
    constant = [c.name for c in schema if c.n_unique <= 1]
    return {
        "duplicates": {
            "rows": int(hashable.duplicated().sum()),
            "rows_ignoring_ids": int(without_ids.duplicated().sum()) if without_ids.shape[1] else 0,
            "id_columns_ignored": id_like,
        },
        "constant_columns": constant,
        "id_like_columns": id_like,
    }


def _group_section(df: pd.DataFrame, schema: Schema, column: str, by: str) -> dict[str, Any]:
    groups = _frame.category_keys(df[by]).fillna("(missing)")
    top_groups = groups.value_counts().index[:_TOP_CATEGORIES]
    groups = groups.where(groups.isin(top_groups), "(other)")
    kind = schema[column].kind
    out: dict[str, Any] = {"column": column, "by": by, "kind": kind}
    if kind == "numeric" or (
        column == schema.target and _frame.is_numeric(df[column]) and kind != "boolean"
    ):
        values = _frame.to_numeric(df[column])[0]
        stats = values.groupby(groups).agg(["count", "mean", "median", "std"])
        stats["missing_pct"] = values.isna().groupby(groups).mean() * 100
        out["stats"] = [
            {"group": g, **{k: _r(v) for k, v in row.items()}} for g, row in stats.iterrows()
        ]
        finite = values.dropna()
        edges = np.histogram_bin_edges(finite, bins=20) if len(finite) else np.array([0.0, 1.0])
        out["edges"] = [_r(e) for e in edges]
        out["histograms"] = {
            g: np.histogram(values[groups == g].dropna(), bins=edges)[0].tolist()
            for g in stats.index
        }
    else:
        keys = _frame.category_keys(df[column]).fillna("(missing)")
        top = keys.value_counts().index[:15]
        keys = keys.where(keys.isin(top), "(other)")
        shares = pd.crosstab(groups, keys, normalize="index")
        counts = groups.value_counts()
        out["categories"] = [str(c) for c in shares.columns]
        out["shares"] = {g: [_r(v) for v in shares.loc[g]] for g in shares.index}
        out["group_sizes"] = {g: int(counts[g]) for g in shares.index}
    return out


def _r(value: Any, digits: int = 4) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if pd.isna(value):
        return None
    return round(float(value), digits)
