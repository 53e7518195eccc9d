"""``GET /dashboard``: the live A/B page of the service, and ``GET /dashboard/data``, its JSON.

Compute, then view, then render (STYLE.md habit 6): :func:`dashboard_data` gathers plain
data (the report of :func:`~tabloop.serve._ab_http.ab_report_of`, the latest predictions, the
variants, the log backlog); :func:`dashboard_view` turns it into display strings and chart
geometry; the Jinja template draws that view on first load, and the page's script draws the
*same* view, fetched from ``/dashboard/data`` every ``refresh`` seconds. Numbers are
formatted once, in Python, so the page never shows two spellings of one value, and with
JavaScript disabled the page still shows them (a ``<noscript>`` meta refresh reloads it).

Maintainer note: choices
------------------------
*Charts.* One hand-drawn inline SVG line chart (the decision metric per upload batch and
variant), not plotly: plotly.js is 3.5 MB, which a page polling every few seconds does not
need, and SVG renders with scripts off. The script rebuilds it with DOM calls; it takes the
SVG namespace from the served ``<svg>`` element, so the page holds no URL at all.

*Per batch and sign.* Each upload batch is a row of its own table (the decision metric
with its interval, the rows and entities it rests on, the baseline on the same rows) beside
the chart; differences are ``variant - control`` (B − A), as in ``/report``. A clustering
service's report holds segment shares, drawn by
:func:`~tabloop.serve._dashboard_segments.segments_view` in the same tables.

*One request per refresh.* The script fetches ``/dashboard/data`` only; its ``report`` is
exactly ``/report``'s answer, and one request gives a consistent snapshot of report and
recent rows.

*Keys.* Both routes need a valid key of any role, like ``/report``. The key is never taken
from the URL (browser history and proxies log query strings) nor written into the page:
behind keys, open the dashboard through a proxy that adds ``X-API-Key`` (e.g. nginx
``proxy_set_header``); the page's own requests are same-origin, so they get it too.

*Safety.* Autoescaped template, ``textContent``/``setAttribute`` in the script (never
``innerHTML``), and a Content-Security-Policy allowing only this response's nonce'd script
and style and same-origin fetches: the page cannot load anything from elsewhere.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from tabloop.data.frame import python_value
from tabloop.evaluate import batch_order
from tabloop.report import MISSING, PALETTE
from tabloop.serve._ab_http import ab_report_of, parse_period, variants_info
from tabloop.serve._dashboard_cells import (
    RECENT_COLUMNS,
    VARIANT_COLUMNS,
    cell,
    ci_text,
    common_fields,
    count_text,
    label_text,
    metric_text,
    recent_rows,
    share_text,
    table,
    variant_cells,
)
from tabloop.serve._dashboard_segments import segments_view
from tabloop.serve._responses import errors
from tabloop.serve._security import ANY_ROLE, needs

if TYPE_CHECKING:
    import jinja2

    from tabloop.serve._state import ServeState
    from tabloop.store import Period

#: Latest predictions shown.
RECENT = 20


def add_dashboard_routes(app: FastAPI, state: ServeState) -> None:
    """Add ``GET /dashboard`` (HTML) and ``GET /dashboard/data`` (JSON) to ``app``."""

    @app.get("/dashboard", tags=["report"], response_class=HTMLResponse, responses=errors(404, 422))
    @needs(ANY_ROLE)
    def dashboard(
        request: Request,
        period: str | None = Query(None, description="a number, 'current' or 'all'"),
        refresh: int = Query(5, ge=0, le=86_400, description="seconds between updates; 0: off"),
    ) -> HTMLResponse:
        """The live A/B page: per-variant metrics, verdicts, batches and recent predictions."""
        data = dashboard_data(state, parse_period(period))
        data_url = "dashboard/data" + (f"?period={quote(period)}" if period else "")
        nonce = secrets.token_urlsafe(16)
        html = render_dashboard(data, refresh=refresh, data_url=data_url, nonce=nonce)
        return HTMLResponse(html, headers=_headers(nonce))

    @app.get("/dashboard/data", tags=["report"], responses=errors(404, 422))
    @needs(ANY_ROLE)
    def dashboard_json(
        request: Request,
        period: str | None = Query(None, description="a number, 'current' or 'all'"),
    ) -> dict[str, Any]:
        """The dashboard's data: ``report`` (as ``/report``), ``recent`` rows, ``view``."""
        data = dashboard_data(state, parse_period(period))
        return {**data, "view": dashboard_view(data)}


def dashboard_data(state: ServeState, period: Period, *, recent: int = RECENT) -> dict[str, Any]:
    """Plain data of the page: report, recent predictions, coverage, variants, backlog."""
    backlog = state.writer.backlog  # before the report flushes the queue
    report = ab_report_of(state, period)
    log = state.store.predictions(period=period, limit=recent, newest_first=True)
    rows = []
    for row in log.to_dict("records"):
        outcome = python_value(row["outcome"])
        rows.append(
            {
                "prediction_id": row["prediction_id"],
                "created_at": python_value(row["created_at"]),
                "variant": row["variant"],
                "model_version": row["model_version"],
                "prediction": python_value(row["prediction"]),
                "score": python_value(row["score"]),
                "labelled": outcome is not None,
                "outcome": outcome,
            }
        )
    predictions = sum(v["predictions"] for v in report["variants"])
    labelled = sum(v.get("labelled", 0) for v in report["variants"])  # none: clustering
    return {
        "title": state.config.name,
        "report": report,
        "recent": rows,
        "coverage": {
            "predictions": predictions,
            "labelled": labelled,
            "coverage": labelled / predictions if predictions else None,
        },
        "variants": variants_info(state),
        "log_backlog": backlog,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- view: display strings and chart geometry ----------------------------------------------
def _p_text(c: dict[str, Any], n_boot: int) -> str:
    p = c["p_value"]
    if p is None:
        return MISSING
    if c["method"] == "bootstrap" and p <= 1 / n_boot:
        return f"≤ {p:.2g}"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def dashboard_view(data: dict[str, Any]) -> dict[str, Any]:
    """What the page shows, as strings and SVG geometry; drawn by the template and the script."""
    report = data["report"]
    if report.get("task") == "clustering":
        return segments_view(data)
    names = [v["name"] for v in report["variants"]]
    served = {v["name"]: v for v in data["variants"]}
    stats = {v["name"]: v for v in report["variants"]}
    variants = []
    for name in [*names, *(n for n in served if n not in stats)]:
        s = stats.get(name, {})
        cells = {
            **variant_cells(name, served.get(name, {}), s.get("predictions", 0)),
            "labelled": cell(count_text(s.get("labelled", 0))),
            "coverage": cell(share_text(s.get("coverage"))),
        }
        variants.append({"key": name, "cls": "", "cells": cells})
    metric_names = list(report["variants"][0]["metrics"]) if report["variants"] else []
    metric_cols = [(m, m, True) for m in metric_names]
    by = report.get("cluster_by")
    counted = [("labelled", "labelled", True)]
    counted += [("entities", f"entities ({by})", True)] if by else []
    metrics = []
    for s in report["variants"]:
        cells = {"variant": cell(s["name"]), "labelled": cell(count_text(s["labelled"]))}
        base = {"variant": cell("baseline", f"constant, on {s['name']}'s rows")}
        base["labelled"] = cell(count_text(s["labelled"]))
        if by:
            cells["entities"] = base["entities"] = cell(count_text(s["entities"]))
        for m in metric_names:
            value = s["metrics"][m]
            cells[m] = cell(metric_text(value["value"]), ci_text(value["ci_low"], value["ci_high"]))
            base[m] = cell(metric_text(s["baseline"].get(m)))
        metrics.append({"key": s["name"], "cls": "", "cells": cells})
        metrics.append({"key": f"{s['name']}/baseline", "cls": "baseline", "cells": base})
    comparisons = []
    for c in report["comparisons"]:
        cells = {
            "pair": cell(f"{c['variant']} vs {c['control']}"),
            "control_value": cell(metric_text(c["control_value"])),
            "variant_value": cell(metric_text(c["variant_value"])),
            "difference": cell(_signed(c["difference"])),
            "ci": cell(ci_text(c["ci_low"], c["ci_high"]) or MISSING),
            "p_value": cell(_p_text(c, report["n_boot"])),
            "verdict": cell(c["verdict"]),
        }
        tone = "ok" if c["better"] == c["variant"] else ("bad" if c["better"] else "")
        comparisons.append({"key": c["variant"], "cls": tone, "cells": cells})
    level = f"{100 * report['confidence']:g}% CI"
    cover = data["coverage"]
    better = any(c["better"] for c in report["comparisons"])
    return {
        "fields": {
            **common_fields(data),
            "metric": report["metric"],
            "direction": "higher is better" if report["higher_is_better"] else "lower is better",
            "baseline": report["baseline"]["description"],
            "resampling": f"Intervals resample {report['resampling']}.",
            "coverage": f"{count_text(cover['labelled'])} of {count_text(cover['predictions'])} "
            f"predictions labelled ({share_text(cover['coverage'])})",
        },
        "verdict_tone": "ok" if better else "info",
        "tables": {
            "variants": table(
                [
                    *VARIANT_COLUMNS,
                    ("labelled", "labelled", True),
                    ("coverage", "coverage", True),
                ],
                variants,
                "no variants",
            ),
            "metrics": table(
                [("variant", "variant", False), *counted, *metric_cols],
                metrics,
                "no predictions yet",
            ),
            "batches": table(
                [
                    ("variant", "variant", False),
                    ("batch", "upload batch", False),
                    *counted,
                    ("value", report["metric"], True),
                    ("baseline", "baseline", True),
                ],
                _batch_rows(report),
                "no outcomes uploaded yet",
            ),
            "comparisons": table(
                [
                    ("pair", "comparison", False),
                    ("control_value", "control", True),
                    ("variant_value", "variant", True),
                    ("difference", "variant \u2212 control", True),
                    ("ci", level, True),
                    ("p_value", "p-value", True),
                    ("verdict", "verdict", False),
                ],
                comparisons,
                "one variant: nothing to compare",
            ),
            "recent": table(
                [
                    *RECENT_COLUMNS,
                    ("prediction", "prediction", False),
                    ("score", "score", True),
                    ("outcome", "outcome", False),
                ],
                recent_rows(data, outcomes=True),
                "no predictions yet",
            ),
        },
        "chart": batch_chart(report),
    }


def _batch_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant and upload batch: the decision metric with its interval, and
    the constant baseline on the same rows."""
    metric, rows = report["metric"], []
    for v in report["variants"]:
        for b in v["batches"]:
            figure = b["metrics"].get(metric) or {}
            interval = ci_text(figure.get("ci_low"), figure.get("ci_high"))
            cells = {
                "variant": cell(v["name"]),
                "batch": cell(label_text(b["batch"])),
                "labelled": cell(count_text(b["labelled"])),
                "entities": cell(count_text(b.get("entities"))),
                "value": cell(metric_text(figure.get("value")), interval),
                "baseline": cell(metric_text(b["baseline"].get(metric))),
            }
            rows.append({"key": f"{v['name']}/{b['batch']}", "cls": "", "cells": cells})
    return rows


def _signed(value: float | None) -> str:
    return MISSING if value is None else ("+" if value > 0 else "") + metric_text(value)


def batch_chart(report: dict[str, Any], *, width: int = 640, height: int = 240) -> dict[str, Any]:
    """SVG geometry of the decision metric per upload batch, one line per variant."""
    metric = report["metric"]
    left, right, top, bottom = 60, 110, 14, 36  # the legend sits in the right margin
    plot_w, plot_h = width - left - right, height - top - bottom
    points = {
        v["name"]: {
            b["batch"]: ((b["metrics"].get(metric) or {}).get("value"), b["labelled"])
            for b in v["batches"]
        }
        for v in report["variants"]
    }
    seen: dict[Any, None] = {}
    for v in report["variants"]:
        seen.update(dict.fromkeys(b["batch"] for b in v["batches"]))
    batches = sorted(seen, key=batch_order)
    values = [y for p in points.values() for y, _ in p.values() if y is not None]
    chart: dict[str, Any] = {"width": width, "height": height, "metric": metric, "series": []}
    chart.update(xticks=[], yticks=[], legend=[], plot=[left, top, left + plot_w, top + plot_h])
    if not values:
        chart["empty"] = f"no {metric} per upload batch yet"
        return chart
    chart["empty"] = None
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or (abs(high) * 0.1 or 0.5)
    low, high = low - pad, high + pad

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if len(batches) == 1 else i * plot_w / (len(batches) - 1))

    def y_of(v: float) -> float:
        return top + plot_h * (high - v) / (high - low)

    step = max(1, -(-len(batches) // 10))
    for i, batch in enumerate(batches):
        if i % step == 0:
            chart["xticks"].append({"x": round(x_of(i), 1), "label": label_text(batch)})
    for k in range(5):
        v = low + (high - low) * k / 4
        chart["yticks"].append({"y": round(y_of(v), 1), "label": f"{v:.3g}"})
    for n, (name, by_batch) in enumerate(points.items()):
        color = PALETTE[n % len(PALETTE)]
        path, dots, pen = [], [], "M"
        for i, batch in enumerate(batches):
            value, labelled = by_batch.get(batch, (None, 0))
            if value is None:
                pen = "M"
                continue
            x, y = round(x_of(i), 1), round(y_of(value), 1)
            path.append(f"{pen}{x},{y}")
            pen = "L"
            shown = f"{metric} {metric_text(value)} ({labelled:,} rows)"
            title = f"{name}, batch {label_text(batch)}: {shown}"
            dots.append({"x": x, "y": y, "title": title})
        chart["series"].append({"name": name, "color": color, "path": " ".join(path), "dots": dots})
        chart["legend"].append({"name": name, "color": color, "y": top + 8 + 18 * n})
    return chart


# -- render ---------------------------------------------------------------------------------
@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("tabloop.serve", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )


def render_dashboard(data: dict[str, Any], *, refresh: int, data_url: str, nonce: str) -> str:
    """The page for ``data``: numbers drawn now, refreshed by script every ``refresh`` s."""
    template = _environment().get_template("dashboard.html")
    settings = {"refresh": refresh, "url": data_url}  # |tojson escapes < > & ' for <script>
    return template.render(
        view=dashboard_view(data), refresh=refresh, nonce=nonce, settings=settings
    )


def _headers(nonce: str) -> dict[str, str]:
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
