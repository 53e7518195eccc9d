"""The profile's warnings: what in its numbers a reader should act on before modelling.

:func:`profile_warnings` reads the sections :func:`~tabloop.data.profile` computed (target,
single-feature and text power, pure segments, missing values and codes, correlations,
constant, id-like and duplicate rows, imbalance, mixed types) and says each finding in
one message naming the column and what to do, e.g. the ``prepare.missing_values`` line
that declares a suspected code.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tabloop.data import _frame
from tabloop.data._schema import Schema
from tabloop.data._sentinels import missing_values_line


def profile_warnings(
    out: dict[str, Any], schema: Schema, df: pd.DataFrame, cutoff: float
) -> list[dict[str, Any]]:
    """Each finding of the profile ``out`` worth a reader's attention, as
    ``{"kind", "column", "message", ...}``; ``cutoff`` is the leakage cut-off."""
    found: list[dict[str, Any]] = []

    def warn(kind: str, column: str | None, message: str, **extra: Any) -> None:
        found.append({"kind": kind, "column": column, "message": message, **extra})

    target = out.get("target")
    if target and target["missing"]["count"]:
        rows = target["missing"]["rows"]
        warn(
            "target_missing",
            target["name"],
            f"Target {target['name']!r} is missing in {target['missing']['count']} row(s) "
            f"(first: {', '.join(str(r) for r in rows[:5])}); they are left out of the "
            "target statistics and must be filled or dropped before training.",
            rows=rows,
        )
    for entry in out.get("predictive_power", []):
        if entry["score"] >= cutoff:
            metric = "ROC-AUC" if entry["metric"] == "roc_auc" else "R²"
            warn(
                "leakage",
                entry["column"],
                f"Possible leakage: {entry['column']!r} alone predicts the target with "
                f"{metric} {entry['score']:.3f} (cut-off {cutoff}). Check that it is known "
                "before the outcome; if not, list it under features.drop.",
                score=entry["score"],
            )
    for entry in out.get("text_power", []):
        if entry["score"] is not None and entry["score"] >= cutoff:
            metric = "ROC-AUC" if entry["metric"] == "roc_auc" else "R²"
            warn(
                "leakage",
                entry["column"],
                f"Possible leakage: the words of {entry['column']!r} alone predict the target "
                f"with {metric} {entry['score']:.3f} (cut-off {cutoff}; {entry['method']}). "
                "Check that the text is written before the outcome; if not, list it under "
                "features.drop.",
                score=entry["score"],
            )
    by_column: dict[str, list[dict[str, Any]]] = {}
    for seg in out.get("pure_segments", []):
        by_column.setdefault(seg["column"], []).append(seg)
    for column, segs in by_column.items():
        listed = "; ".join(
            f"{s['value']!r} ({s['rows']:,} rows, target {s['target_value']!r} in "
            f"{100 * s['share']:.1f}% vs {100 * s['overall_share']:.1f}% overall)"
            for s in segs[:4]
        ) + (f"; and {len(segs) - 4} more" if len(segs) > 4 else "")
        warn(
            "pure_segment",
            column,
            f"Pure segments in {column!r}: {listed}. A value recorded after the outcome?",
            values=[s["value"] for s in segs],
        )
    for entry in out.get("missing", []):
        rel = entry.get("relation_to_target")
        if rel and rel.get("related"):
            warn(
                "missing_related_to_target",
                entry["column"],
                f"Missingness of {entry['column']!r} ({entry['pct']}%) is related to the "
                f"target ({_p_text(rel['p_value'])}): add a missing indicator rather than "
                "dropping rows.",
            )
        elif entry["pct"] >= 50:
            warn(
                "mostly_missing",
                entry["column"],
                f"{entry['column']!r} is missing in {entry['pct']}% of rows.",
            )
    coded: dict[str, list[dict[str, Any]]] = {}
    for entry in out.get("missing_codes", []):
        coded.setdefault(entry["column"], []).append(entry)
    for column, entries in coded.items():  # one warning per column, with its config line
        listed = "; ".join(
            f"{e['value']!r} in {e['rows']:,} rows ({100 * e['share']:.1f}%), {e['why']}"
            for e in entries
        )
        line = missing_values_line(entries)
        warn(
            "missing_code",
            column,
            f"{column!r} may code missing values as values: {listed}. If they mean "
            f"unknown, declare them: {line}",
            values=[e["value"] for e in entries],
            suggestion=line,
        )
    strongest: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in out.get("correlations", {}).get("high_pairs", []):  # sorted strongest first
        strongest.setdefault((pair["a"], pair["b"]), pair)
    for pair in strongest.values():
        warn(
            "high_correlation",
            pair["a"],
            f"{pair['a']!r} and {pair['b']!r} are highly correlated "
            f"({pair['method']} {pair['value']:+.2f}); consider keeping one.",
            other=pair["b"],
        )
    for name in out.get("constant_columns", []):
        warn("constant", name, f"{name!r} has a single value; it carries no information.")
    for name in out.get("id_like_columns", []):
        warn("id_like", name, f"{name!r} looks like an identifier; it is not used as a feature.")
    dup = out.get("duplicates", {})
    if dup.get("rows") or dup.get("rows_ignoring_ids"):
        warn(
            "duplicates",
            None,
            f"{dup['rows']} duplicate row(s), {dup['rows_ignoring_ids']} when id columns "
            "are ignored.",
        )
    if target and target.get("balance") and target["task"] == "binary":
        minority = min(b["share"] for b in target["balance"])
        if minority < 0.1:
            warn(
                "imbalance",
                target["name"],
                f"The minority class is {100 * minority:.1f}% of rows: use class weights or "
                "resampling, and judge models by PR-AUC rather than accuracy.",
            )
    for col in schema:
        if col.kind == "categorical" and not _frame.is_numeric(df[col.name]):
            parsed, invalid = _frame.to_numeric(df[col.name].dropna())
            n_bad = int(invalid.sum())
            if 0 < n_bad <= max(1, 0.01 * len(parsed)):
                bad = df[col.name].dropna()[invalid]
                warn(
                    "mixed_types",
                    col.name,
                    f"{col.name!r} is numeric except {n_bad} value(s) such as "
                    f"{bad.iloc[0]!r} in row {_frame.row_label(bad.index[0])}; fix them or "
                    f"declare {col.name!r} under features.categorical.",
                )
    return found


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
