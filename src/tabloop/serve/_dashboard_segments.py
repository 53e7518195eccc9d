"""The dashboard of a clustering service: its variants and the segment shares of each.

A clustering model has no outcome to score (:func:`tabloop.evaluate.segment_shares`), so
the page keeps its tables but fills them with what there is: predictions per variant, the
share of each segment among them, and the latest predictions with their segment.
"""

from __future__ import annotations

from typing import Any

from tabloop.serve._dashboard_cells import (
    RECENT_COLUMNS,
    VARIANT_COLUMNS,
    cell,
    common_fields,
    count_text,
    label_text,
    recent_rows,
    share_text,
    table,
    variant_cells,
)


def segments_view(data: dict[str, Any]) -> dict[str, Any]:
    """The view (as :func:`~tabloop.serve._dashboard.dashboard_view`) of a clustering
    service's report."""
    report = data["report"]
    served = {v["name"]: v for v in data["variants"]}
    segments = report["segments"]
    variants, shares = [], []
    for s in report["variants"]:
        cells = variant_cells(s["name"], served.get(s["name"], {}), s["predictions"])
        variants.append({"key": s["name"], "cls": "", "cells": cells})
        row = {"variant": cell(s["name"]), "predictions": cell(count_text(s["predictions"]))}
        for k, seg in enumerate(s["segments"]):
            row[f"s{k}"] = cell(share_text(seg["share"]), f"{seg['count']:,}")
        shares.append({"key": s["name"], "cls": "", "cells": row})
    chart: dict[str, Any] = {"width": 640, "height": 240, "metric": "", "series": []}
    chart.update(xticks=[], yticks=[], legend=[], plot=[60, 14, 530, 204])
    chart["empty"] = "a clustering service has no outcomes to chart"
    return {
        "fields": {
            **common_fields(data),
            "metric": "segment shares",
            "direction": "no outcomes to score",
            "baseline": "none: a clustering service has no outcomes",
            "resampling": "",
            "coverage": f"{count_text(data['coverage']['predictions'])} predictions",
        },
        "verdict_tone": "info",
        "tables": {
            "variants": table(VARIANT_COLUMNS, variants, "no variants"),
            "metrics": table(
                [
                    ("variant", "variant", False),
                    ("predictions", "predictions", True),
                    *(
                        (f"s{k}", f"segment {label_text(seg)}", True)
                        for k, seg in enumerate(segments)
                    ),
                ],
                shares,
                "no predictions yet",
            ),
            "comparisons": table([("pair", "comparison", False)], [], "segments are not compared"),
            "batches": table([("variant", "variant", False)], [], "no outcomes"),
            "recent": table(
                [*RECENT_COLUMNS, ("prediction", "segment", False)],
                recent_rows(data, outcomes=False),
                "no predictions yet",
            ),
        },
        "chart": chart,
    }
