"""Turn a monitoring report (``MonitorReport.to_dict()``) into a page."""

from __future__ import annotations

from typing import Any

from tabloop.config import HIGHER_IS_BETTER
from tabloop.report import _charts as charts
from tabloop.report._evaluation_page import _fairness as fairness_section
from tabloop.report._page import Chart, Page, Section, Table, Text, render_page
from tabloop.report._page import fmt as _fmt

#: Distributions drawn at most (drifted columns first).
MAX_DISTRIBUTIONS = 8
_STATUS_TONE = {"pass": "ok", "fail": "bad", "unknown": "warn"}


def render_monitor(data: dict[str, Any]) -> str:
    return render_page(build_monitor_page(data))


def build_monitor_page(data: dict[str, Any]) -> Page:
    window = data["window"]
    subtitle = (
        f"{data['task']} · model {data['model']['uri']} · {window['rows']:,} production rows, "
        f"{window['labelled']:,} labelled · {data['source']}"
    )
    page = Page(title=f"Monitoring: {data['project']}", subtitle=subtitle)
    page.sections.append(_summary(data))
    page.sections.append(_performance(data))
    if data.get("estimated"):
        page.sections.append(_estimated(data["estimated"]))
    page.sections.append(_drift(data["drift"]))
    fairness = data.get("fairness")
    if fairness:
        section = fairness_section(fairness["model"])
        section.title = "Fairness in production (model)"
        section.anchor = "fairness-model"
        page.sections.append(section)
        page.sections.append(_fairness_histograms(fairness))
    if data.get("chunks"):
        page.sections.append(_over_time(data))
    return page


def _interval(entry: dict[str, Any]) -> str:
    low, high = entry.get("ci_low", entry.get("low")), entry.get("ci_high", entry.get("high"))
    return "–" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def _summary(data: dict[str, Any]) -> Section:
    s = Section("Summary")
    window = data["window"]
    verdict = "every requirement holds" if data["passed"] else "a requirement FAILED"
    s.blocks.append(Text(f"Verdict: {verdict}.", tone="ok" if data["passed"] else "bad"))
    span = f"{window['first'] or '?'} → {window['last'] or '?'}"
    s.blocks.append(
        Text(
            f"Window {span}: {window['rows']:,} predictions, {window['labelled']:,} with an "
            f"outcome ({window['labelled_share']:.0%}); model versions in the rows: "
            f"{', '.join(window['model_versions']) or '–'}."
        )
    )
    rows = [
        [
            r["expression"],
            _fmt(r.get("value")),
            _interval(r),
            r["status"].upper() if r["status"] == "fail" else r["status"],
            "yes" if r.get("certain") else "no",
            r.get("message", ""),
        ]
        for r in data["requirements"]
    ]
    if rows:
        s.blocks.append(
            Table(
                ["requirement", "value", "95% CI", "status", "whole CI agrees", "note"],
                rows,
                caption="Requirements on the whole window (unknown: the figure does not exist yet)",
            )
        )
    alert = data.get("alert")
    if alert:
        tone = "ok" if alert.get("sent") or alert.get("skipped") else "warn"
        text = (
            "sent"
            if alert.get("sent")
            else f"not sent again ({alert['skipped']})"
            if alert.get("skipped")
            else f"NOT delivered ({alert.get('error')})"
        )
        s.blocks.append(Text(f"Alert to {alert['url']}: {text}.", tone=tone))
    for note in data.get("notes", []):
        s.blocks.append(Text(note, tone="warn"))
    return s


def _performance(data: dict[str, Any]) -> Section:
    s = Section("Production performance")
    perf = data["performance"]
    if not perf["metrics"]:
        s.blocks.append(Text("No outcomes in this window yet.", tone="warn"))
        return s
    rows = [
        [
            r["metric"],
            _fmt(r["test"]),
            _interval({"ci_low": r["test_ci_low"], "ci_high": r["test_ci_high"]}),
            _fmt(r["production"]),
            _interval(r),
            "–" if r["change"] is None else f"{r['change']:+.4f}",
        ]
        for r in perf["comparison"]
    ]
    s.blocks.append(
        Table(
            ["metric", "test", "test 95% CI", "production", "production 95% CI", "change"],
            rows,
            caption=f"{perf['labelled']:,} labelled production rows vs the test split"
            + (
                f"; {perf['unknown_labels']} outcomes are not a class of the model, left out"
                if perf.get("unknown_labels")
                else ""
            ),
        )
    )
    if perf.get("roc_curve"):
        roc = perf["roc_curve"]
        s.blocks.append(
            Chart(
                charts.lines(
                    {"production": (roc["fpr"], roc["tpr"])},
                    title="ROC (production, labelled rows)",
                    x_title="false positive rate",
                    y_title="true positive rate",
                    diagonal=True,
                )
            )
        )
    matrix = perf.get("confusion_matrix")
    if matrix:
        labels = [str(v) for v in matrix["labels"]]
        top = max((max(row) for row in matrix["matrix"]), default=1) or 1
        figure = charts.heatmap(
            labels, matrix["matrix"], title="Confusion matrix (production)", zmin=0, zmax=top
        )
        figure["data"][0]["text"] = [[str(v) for v in row] for row in matrix["matrix"]]
        figure["data"][0]["texttemplate"] = "%{text}"
        figure["layout"]["xaxis"] = {"title": {"text": "predicted"}, "type": "category"}
        figure["layout"]["yaxis"].update(title={"text": "actual"}, type="category")
        s.blocks.append(Chart(figure))
    segments = perf.get("segments")
    if segments and segments["rows"]:
        names = list(segments["rows"][0]["metrics"]) or []
        for row in segments["rows"]:
            for name in row["metrics"]:
                if name not in names:
                    names.append(name)
        table = [
            [
                r["segment"],
                f"{r['rows']:,}",
                f"{r['labelled']:,}",
                *[
                    f"{_fmt((r['metrics'].get(n) or {}).get('value'), 3)} "
                    f"{_interval(r['metrics'].get(n) or {})}"
                    for n in names
                ],
            ]
            for r in segments["rows"]
        ]
        s.blocks.append(
            Table(
                [segments["column"], "rows", "labelled", *names],
                table,
                caption=f"Production performance by {segments['column']} (95% CIs)",
            )
        )
    return s


def _estimated(est: dict[str, Any]) -> Section:
    s = Section("Estimated performance (before outcomes)")
    s.blocks.append(
        Text(
            "Estimated from the model's own probabilities (confidence-based, like NannyML's "
            "CBPE): valid while the model stays calibrated. The interval is where the realised "
            "value should fall if it does."
        )
    )
    if est.get("warning"):
        s.blocks.append(Text(est["warning"], tone="warn"))
    metrics = est["estimated"]["metrics"]
    labelled = est.get("labelled") or {}
    realised = (labelled.get("realised") or {}).get("metrics", {})
    same_rows = (labelled.get("estimated") or {}).get("metrics", {})
    rows = [
        [
            name,
            _fmt(entry.get("value")),
            _interval(entry),
            _fmt((same_rows.get(name) or {}).get("value")),
            _fmt(realised.get(name)),
        ]
        for name, entry in metrics.items()
    ]
    s.blocks.append(
        Table(
            [
                "metric",
                f"estimated (all {est['n']:,} rows)",
                "interval",
                "estimated (labelled rows)",
                "realised (labelled rows)",
            ],
            rows,
        )
    )
    return s


def _drift(drift: dict[str, Any]) -> Section:
    s = Section("Population drift")
    cols = drift["columns"]
    drifted = drift["drifted_columns"]
    share = drift.get("share_drifted")
    s.blocks.append(
        Text(
            f"{len(drifted)} of {len(cols)} columns drifted"
            + (f" ({share:.0%})" if share is not None else "")
            + (f": {', '.join(drifted)}." if drifted else ".")
            + " A column drifts when its effect size reaches the threshold and the change is "
            "detectable (p after Benjamini-Hochberg below alpha): p-values alone flag "
            "everything on large samples.",
            tone="warn" if drifted else "ok",
        )
    )
    if drift.get("absent"):
        s.blocks.append(
            Text(
                "In the reference but not in production: " + ", ".join(drift["absent"]),
                tone="warn",
            )
        )
    rows = [
        [
            c["column"],
            c["kind"],
            f"{c['effect_name']} {_fmt(c['effect'], 3)}",
            _fmt(c["threshold"], 2),
            f"{c['test']} {_fmt(c['statistic'], 3)}",
            _p(c["p_value"]),
            _p(c["p_adjusted"]),
            _fmt(c["psi"], 3),
            f"{_pct(c['missing_reference'])} → {_pct(c['missing_current'])}",
            c.get("n_new_categories") or "",
            ("DRIFT (missing)" if c.get("missing_drifted") else "DRIFT") if c["drifted"] else "",
        ]
        for c in sorted(cols, key=lambda c: (not c["drifted"], -(c["effect"] or 0)))
    ]
    s.blocks.append(
        Table(
            [
                "column",
                "kind",
                "effect",
                "threshold",
                "test",
                "p",
                "p (BH)",
                "PSI",
                "missing",
                "new values",
                "verdict",
            ],
            rows,
        )
    )
    sketch = drift.get("sketch")
    if sketch and any(not (c.get("sketch") or {}).get("exact", True) for c in cols):
        s.blocks.append(Text(f"{sketch['note']}."))
    multi = drift.get("multivariate")
    if multi:
        auc = multi.get("auc")
        sample = f" It was {multi['sample']}." if multi.get("sample") else ""
        s.blocks.append(
            Text(
                f"Multivariate: a classifier tells reference from production rows with "
                f"cross-validated ROC-AUC {_fmt(auc, 3)} (0.5 = indistinguishable).{sample}",
                tone="warn" if auc is not None and auc >= 0.6 else None,
            )
        )
        importance = multi.get("importance") or []
        if importance:
            top = importance[:15]
            s.blocks.append(
                Chart(
                    charts.bar(
                        [r["column"] for r in top],
                        [r["importance"] for r in top],
                        title="Columns that separate production from reference",
                        horizontal=True,
                    )
                )
            )
    shown = sorted(cols, key=lambda c: (not c["drifted"], -(c["effect"] or 0)))
    for c in shown[:MAX_DISTRIBUTIONS]:
        if c.get("histogram"):
            h = c["histogram"]
            s.blocks.append(
                Chart(_shares_chart(h["edges"], h["reference"], h["current"], c["column"]))
            )
    charted = {c["column"] for c in shown[:MAX_DISTRIBUTIONS]}
    order = {c["column"]: i for i, c in enumerate(shown)}
    population = sorted(drift.get("population", {}).items(), key=lambda kv: order.get(kv[0], 0))
    # every categorical column gets its "test vs production" table; the first ones a chart
    for name, table in population:
        values = [str(r["value"]) for r in table]
        if name in charted:
            s.blocks.append(
                Chart(
                    charts.grouped_bar(
                        values,
                        {
                            "reference": [r.get("reference_share") for r in table],
                            "production": [r.get("current_share") for r in table],
                        },
                        title=f"{charts.short_label(name)}: share of rows, reference vs production",
                        y_title="share",
                    )
                )
            )
        s.blocks.append(
            Table(
                ["value", "reference", "production", "new"],
                [
                    [
                        str(r["value"]),
                        _pct(r.get("reference_share")),
                        _pct(r.get("current_share")),
                        "yes" if r.get("new") else "",
                    ]
                    for r in table
                ],
                caption=f"Population of {name}: test vs production",
            )
        )
    return s


def _shares_chart(
    edges: list[float], reference: list[float], current: list[float], column: str
) -> dict[str, Any]:
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return charts.lines(
        {"reference": (centers, reference), "production": (centers, current)},
        title=f"{charts.short_label(column)}: distribution, reference vs production",
        x_title=column,
        y_title="share of rows",
    )


def _fairness_histograms(fairness: dict[str, Any]) -> Section:
    s = Section("Fairness gaps: model and human baseline")
    hists = fairness.get("histograms") or {}
    series: dict[str, list[int]] = {}
    edges: list[float] | None = None
    for name in ("model", "human"):
        h = hists.get(name)
        if h:
            edges = edges or h["edges"]
            series[name] = h["counts"]
    if edges and series:
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        figure = charts.grouped_bar(
            [f"{c:.3f}" for c in centers],
            {k: list(map(float, v)) for k, v in series.items()},
            title="Gaps between protected groups, per segment",
            y_title="segments",
        )
        s.blocks.append(Chart(figure))
    human = fairness.get("human")
    if human:
        s.blocks.append(
            Text(
                f"Human decision baseline: verdict {human['verdict']} ({human['metric']} gap "
                f"vs max {human['max_gap']}); model: {fairness['model']['verdict']}.",
                tone="info",
            )
        )
        gaps = human.get("gaps") or []
        if gaps:
            keys = ["grouping", "segment", "gap", "ci_low", "ci_high", "verdict"]
            s.blocks.append(
                Table(
                    keys,
                    [[_fmt(g.get(k)) for k in keys] for g in gaps],
                    caption="Human decision: largest gap per grouping and segment",
                )
            )
    if fairness.get("human_note"):
        s.blocks.append(Text(fairness["human_note"], tone="warn"))
    return s


def _over_time(data: dict[str, Any]) -> Section:
    s = Section("Over time")
    chunks = data["chunks"]
    judged = [c for c in chunks if c["judged"]]
    labels = [c["chunk"] for c in judged]
    s.blocks.append(
        Text(
            f"{len(chunks)} chunks of {data['window']['chunk']}; {len(chunks) - len(judged)} "
            "with too few rows are listed but not judged."
        )
    )
    if judged:
        s.blocks.append(
            Chart(
                charts.lines(
                    {"share of drifted columns": (labels, [c["share_drifted"] for c in judged])},
                    title="Drift per chunk",
                    markers=True,
                ),
                wide=True,
            )
        )
        names = list(judged[0]["metrics"]) or list(judged[0].get("estimated") or {})
        panels: dict[str, dict[str, tuple[list[Any], list[Any]]]] = {}
        for name in names[:3]:
            panels[name] = {
                "realised": (
                    labels,
                    [(c["metrics"].get(name) or {}).get("value") for c in judged],
                )
            }
            if judged[0].get("estimated"):
                panels[name]["estimated"] = (
                    labels,
                    [((c.get("estimated") or {}).get(name) or {}).get("value") for c in judged],
                )
        if panels:
            s.blocks.append(
                Chart(
                    charts.line_panels(
                        panels,
                        title="Performance per chunk, one axis per metric",
                        higher_is_better=HIGHER_IS_BETTER,
                    ),
                    wide=True,
                )
            )
    rows = [
        [
            c["chunk"],
            c["rows"],
            c["labelled"],
            _fmt(c["share_drifted"], 2),
            ", ".join(c["drifted_columns"]),
            ", ".join(f"{r['expression']}: {r['status']}" for r in c["requirements"]),
            "" if c["judged"] else "too few rows",
        ]
        for c in chunks
    ]
    s.blocks.append(
        Table(["chunk", "rows", "labelled", "drifted share", "drifted", "requirements", ""], rows)
    )
    return s


def _p(value: Any) -> str:
    if value is None:
        return "–"
    return "<1e-4" if value < 1e-4 else f"{value:.4f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.1%}"
