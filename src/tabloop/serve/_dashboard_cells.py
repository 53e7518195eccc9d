"""The dashboard's vocabulary: how a number, a cell and a table are spelled in its view.

Both views of the page (an A/B test's, :mod:`tabloop.serve._dashboard`, and a clustering
service's segment shares, :mod:`tabloop.serve._dashboard_segments`) build their tables
from these, so a value reads the same in every table and the rows both views share (the
variants, the latest predictions, the header fields) are built once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tabloop.report import MISSING

#: The header fields of the variants table, shared by both views: (key, label, numeric).
VARIANT_COLUMNS = [
    ("variant", "variant", False),
    ("version", "model version", False),
    ("share", "traffic", True),
    ("predictions", "predictions", True),
]
#: The latest predictions table's columns; a view adds score and outcome where it has them.
RECENT_COLUMNS = [
    ("time", "time (UTC)", False),
    ("variant", "variant", False),
    ("version", "version", False),
]


def metric_text(value: float | None) -> str:
    """A metric as the page shows it: 3 decimals (``0.812``), thousands without decimals."""
    if value is None:
        return MISSING
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 1e-3:
        return f"{value:,.3f}"
    return f"{value:.2e}"


def count_text(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def share_text(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1%}"


def label_text(value: Any) -> str:
    """A prediction, outcome or batch label: floats to 4 significant digits."""
    if value is None:
        return MISSING
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def ci_text(low: float | None, high: float | None) -> str | None:
    return None if low is None or high is None else f"{metric_text(low)} to {metric_text(high)}"


def time_text(iso: str | None) -> str:
    return MISSING if iso is None else datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")


def table(columns: list[tuple[str, str, bool]], rows: list[dict[str, Any]], empty: str) -> dict:
    """``columns``: (key, label, numeric); a row: ``{"key", "cls", "cells": {key: cell}}``."""
    cols = [{"key": k, "label": label, "num": num} for k, label, num in columns]
    return {"columns": cols, "rows": rows, "empty": empty}


def cell(text: str, sub: str | None = None) -> dict[str, str | None]:
    return {"v": text, "sub": sub}


def variant_cells(name: str, served: dict[str, Any], predictions: int | None) -> dict[str, Any]:
    """The cells of :data:`VARIANT_COLUMNS` for variant ``name``; ``served`` is its entry
    of ``/variants`` (empty: the log names a variant the service no longer serves)."""
    return {
        "variant": cell(name),
        "version": cell(str(served.get("model_version", MISSING)), served.get("resolved")),
        "share": cell(share_text(served.get("share")) if served else "not served"),
        "predictions": cell(count_text(predictions)),
    }


def recent_rows(data: dict[str, Any], *, outcomes: bool) -> list[dict[str, Any]]:
    """The latest predictions as rows of :data:`RECENT_COLUMNS` plus ``prediction``, and
    with ``outcomes`` also ``score`` and ``outcome`` (classed labelled or unlabelled)."""
    rows = []
    for r in data["recent"]:
        cells = {
            "time": cell(time_text(r["created_at"])),
            "variant": cell(r["variant"]),
            "version": cell(str(r["model_version"])),
            "prediction": cell(label_text(r["prediction"])),
        }
        cls = ""
        if outcomes:
            cells["score"] = cell(metric_text(r["score"]))
            cells["outcome"] = cell(label_text(r["outcome"]) if r["labelled"] else "not yet")
            cls = "labelled" if r["labelled"] else "unlabelled"
        rows.append({"key": r["prediction_id"], "cls": cls, "cells": cells})
    return rows


def common_fields(data: dict[str, Any]) -> dict[str, str]:
    """The header fields every view shows: title, period, verdict, backlog, update time."""
    report = data["report"]
    return {
        "title": f"tabloop: {data['title']}",
        "period": str(report["period"]),
        "verdict": report["verdict"],
        "backlog": count_text(data["log_backlog"]),
        "updated": time_text(data["generated_at"]),
    }
