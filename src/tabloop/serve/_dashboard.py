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
service's report holds segment shares, drawn by :func:`_segments_view` in the same tables.

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
from tabloop.serve._security import ANY_ROLE, needs

if TYPE_CHECKING:
    import jinja2

    from tabloop.serve._state import ServeState
    from tabloop.store import Period

#: Latest predictions shown.
RECENT = 20


def add_dashboard_routes(app: FastAPI, state: ServeState) -> None:
    """Add ``GET /dashboard`` (HTML) and ``GET /dashboard/data`` (JSON) to ``app``."""

    @app.get("/dashboard", tags=["report"], response_class=HTMLResponse)
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

    @app.get("/dashboard/data", tags=["report"])
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
def metric_text(value: float | None) -> str:
    """A metric as the page shows it: 3 decimals (``0.812``), thousands without decimals."""
    if value is None:
        return MISSING
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 1e-3:
        return f"{value:,.3f}"
    return f"{value:.2e}"


def _count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1%}"


def _label(value: Any) -> str:
    if value is None:
        return MISSING
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _p_text(c: dict[str, Any], n_boot: int) -> str:
    p = c["p_value"]
    if p is None:
        return MISSING
    if c["method"] == "bootstrap" and p <= 1 / n_boot:
        return f"≤ {p:.2g}"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _ci(low: float | None, high: float | None) -> str | None:
    return None if low is None or high is None else f"{metric_text(low)} to {metric_text(high)}"


def _table(columns: list[tuple[str, str, bool]], rows: list[dict[str, Any]], empty: str) -> dict:
    """``columns``: (key, label, numeric); a row: ``{"key", "cls", "cells": {key: cell}}``."""
    cols = [{"key": k, "label": label, "num": num} for k, label, num in columns]
    return {"columns": cols, "rows": rows, "empty": empty}


def _cell(text: str, sub: str | None = None) -> dict[str, str | None]:
    return {"v": text, "sub": sub}


def dashboard_view(data: dict[str, Any]) -> dict[str, Any]:
    """What the page shows, as strings and SVG geometry; drawn by the template and the script."""
    report = data["report"]
    if report.get("task") == "clustering":
        return _segments_view(data)
    names = [v["name"] for v in report["variants"]]
    served = {v["name"]: v for v in data["variants"]}
    stats = {v["name"]: v for v in report["variants"]}
    variants = []
    for name in [*names, *(n for n in served if n not in stats)]:
        s, v = stats.get(name, {}), served.get(name, {})
        cells = {
            "variant": _cell(name),
            "version": _cell(str(v.get("model_version", MISSING)), v.get("resolved")),
            "share": _cell(_share(v.get("share")) if v else "not served"),
            "predictions": _cell(_count(s.get("predictions", 0))),
            "labelled": _cell(_count(s.get("labelled", 0))),
            "coverage": _cell(_share(s.get("coverage"))),
        }
        variants.append({"key": name, "cls": "", "cells": cells})
    metric_names = list(report["variants"][0]["metrics"]) if report["variants"] else []
    metric_cols = [(m, m, True) for m in metric_names]
    by = report.get("cluster_by")
    counted = [("labelled", "labelled", True)]
    counted += [("entities", f"entities ({by})", True)] if by else []
    metrics = []
    for s in report["variants"]:
        cells = {"variant": _cell(s["name"]), "labelled": _cell(_count(s["labelled"]))}
        base = {"variant": _cell("baseline", f"constant, on {s['name']}'s rows")}
        base["labelled"] = _cell(_count(s["labelled"]))
        if by:
            cells["entities"] = base["entities"] = _cell(_count(s["entities"]))
        for m in metric_names:
            value = s["metrics"][m]
            cells[m] = _cell(metric_text(value["value"]), _ci(value["ci_low"], value["ci_high"]))
            base[m] = _cell(metric_text(s["baseline"].get(m)))
        metrics.append({"key": s["name"], "cls": "", "cells": cells})
        metrics.append({"key": f"{s['name']}/baseline", "cls": "baseline", "cells": base})
    comparisons = []
    for c in report["comparisons"]:
        cells = {
            "pair": _cell(f"{c['variant']} vs {c['control']}"),
            "control_value": _cell(metric_text(c["control_value"])),
            "variant_value": _cell(metric_text(c["variant_value"])),
            "difference": _cell(_signed(c["difference"])),
            "ci": _cell(_ci(c["ci_low"], c["ci_high"]) or MISSING),
            "p_value": _cell(_p_text(c, report["n_boot"])),
            "verdict": _cell(c["verdict"]),
        }
        tone = "ok" if c["better"] == c["variant"] else ("bad" if c["better"] else "")
        comparisons.append({"key": c["variant"], "cls": tone, "cells": cells})
    recent = [
        {
            "key": r["prediction_id"],
            "cls": "labelled" if r["labelled"] else "unlabelled",
            "cells": {
                "time": _cell(_time(r["created_at"])),
                "variant": _cell(r["variant"]),
                "version": _cell(str(r["model_version"])),
                "prediction": _cell(_label(r["prediction"])),
                "score": _cell(metric_text(r["score"])),
                "outcome": _cell(_label(r["outcome"]) if r["labelled"] else "not yet"),
            },
        }
        for r in data["recent"]
    ]
    level = f"{100 * report['confidence']:g}% CI"
    cover = data["coverage"]
    better = any(c["better"] for c in report["comparisons"])
    return {
        "fields": {
            "title": f"tabloop: {data['title']}",
            "period": str(report["period"]),
            "metric": report["metric"],
            "direction": "higher is better" if report["higher_is_better"] else "lower is better",
            "verdict": report["verdict"],
            "baseline": report["baseline"]["description"],
            "resampling": f"Intervals resample {report['resampling']}.",
            "coverage": f"{_count(cover['labelled'])} of {_count(cover['predictions'])} "
            f"predictions labelled ({_share(cover['coverage'])})",
            "backlog": _count(data["log_backlog"]),
            "updated": _time(data["generated_at"]),
        },
        "verdict_tone": "ok" if better else "info",
        "tables": {
            "variants": _table(
                [
                    ("variant", "variant", False),
                    ("version", "model version", False),
                    ("share", "traffic", True),
                    ("predictions", "predictions", True),
                    ("labelled", "labelled", True),
                    ("coverage", "coverage", True),
                ],
                variants,
                "no variants",
            ),
            "metrics": _table(
                [("variant", "variant", False), *counted, *metric_cols],
                metrics,
                "no predictions yet",
            ),
            "batches": _table(
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
            "comparisons": _table(
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
            "recent": _table(
                [
                    ("time", "time (UTC)", False),
                    ("variant", "variant", False),
                    ("version", "version", False),
                    ("prediction", "prediction", False),
                    ("score", "score", True),
                    ("outcome", "outcome", False),
                ],
                recent,
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
            interval = _ci(figure.get("ci_low"), figure.get("ci_high"))
            cells = {
                "variant": _cell(v["name"]),
                "batch": _cell(_label(b["batch"])),
                "labelled": _cell(_count(b["labelled"])),
                "entities": _cell(_count(b.get("entities"))),
                "value": _cell(metric_text(figure.get("value")), interval),
                "baseline": _cell(metric_text(b["baseline"].get(metric))),
            }
            rows.append({"key": f"{v['name']}/{b['batch']}", "cls": "", "cells": cells})
    return rows


def _segments_view(data: dict[str, Any]) -> dict[str, Any]:
    """The page of a clustering service: variants, and the segment shares of each."""
    report = data["report"]
    served = {v["name"]: v for v in data["variants"]}
    segments = report["segments"]
    variants, shares = [], []
    for s in report["variants"]:
        v = served.get(s["name"], {})
        cells = {
            "variant": _cell(s["name"]),
            "version": _cell(str(v.get("model_version", MISSING)), v.get("resolved")),
            "share": _cell(_share(v.get("share")) if v else "not served"),
            "predictions": _cell(_count(s["predictions"])),
        }
        variants.append({"key": s["name"], "cls": "", "cells": cells})
        row = {"variant": _cell(s["name"]), "predictions": _cell(_count(s["predictions"]))}
        for k, seg in enumerate(s["segments"]):
            row[f"s{k}"] = _cell(_share(seg["share"]), f"{seg['count']:,}")
        shares.append({"key": s["name"], "cls": "", "cells": row})
    recent = [
        {
            "key": r["prediction_id"],
            "cls": "",
            "cells": {
                "time": _cell(_time(r["created_at"])),
                "variant": _cell(r["variant"]),
                "version": _cell(str(r["model_version"])),
                "prediction": _cell(_label(r["prediction"])),
            },
        }
        for r in data["recent"]
    ]
    chart: dict[str, Any] = {"width": 640, "height": 240, "metric": "", "series": []}
    chart.update(xticks=[], yticks=[], legend=[], plot=[60, 14, 530, 204])
    chart["empty"] = "a clustering service has no outcomes to chart"
    return {
        "fields": {
            "title": f"tabloop: {data['title']}",
            "period": str(report["period"]),
            "metric": "segment shares",
            "direction": "no outcomes to score",
            "verdict": report["verdict"],
            "baseline": "none: a clustering service has no outcomes",
            "resampling": "",
            "coverage": f"{_count(data['coverage']['predictions'])} predictions",
            "backlog": _count(data["log_backlog"]),
            "updated": _time(data["generated_at"]),
        },
        "verdict_tone": "info",
        "tables": {
            "variants": _table(
                [
                    ("variant", "variant", False),
                    ("version", "model version", False),
                    ("share", "traffic", True),
                    ("predictions", "predictions", True),
                ],
                variants,
                "no variants",
            ),
            "metrics": _table(
                [
                    ("variant", "variant", False),
                    ("predictions", "predictions", True),
                    *((f"s{k}", f"segment {_label(seg)}", True) for k, seg in enumerate(segments)),
                ],
                shares,
                "no predictions yet",
            ),
            "comparisons": _table([("pair", "comparison", False)], [], "segments are not compared"),
            "batches": _table([("variant", "variant", False)], [], "no outcomes"),
            "recent": _table(
                [
                    ("time", "time (UTC)", False),
                    ("variant", "variant", False),
                    ("version", "version", False),
                    ("prediction", "segment", False),
                ],
                recent,
                "no predictions yet",
            ),
        },
        "chart": chart,
    }


def _signed(value: float | None) -> str:
    return MISSING if value is None else ("+" if value > 0 else "") + metric_text(value)


def _time(iso: str | None) -> str:
    return MISSING if iso is None else datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")


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
            chart["xticks"].append({"x": round(x_of(i), 1), "label": _label(batch)})
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
            title = (
                f"{name}, batch {_label(batch)}: {metric} {metric_text(value)} ({labelled:,} rows)"
            )
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
