"""Turn a retraining report (``RetrainResult.data``) into a page."""

from __future__ import annotations

from typing import Any

from tabloop.config import HIGHER_IS_BETTER
from tabloop.report import _charts as charts
from tabloop.report._page import Chart, Page, Section, Table, Text, render_page
from tabloop.report._page import fmt as _fmt_number

_COUNTS = {
    "original": "original rows",
    "original_kept": "original rows kept by retrain.filter",
    "production_labelled": "labelled production rows",
    "production_train": "production rows trained on",
    "holdout": "held-out production rows (the newest)",
    "duplicates_dropped": "rows dropped as older versions of the same id",
    "original_after_holdout_start": "original rows dated after the hold-out start, dropped",
    "train": "rows the challenger was trained on",
}


def render_retrain(data: dict[str, Any]) -> str:
    return render_page(build_retrain_page(data))


def build_retrain_page(data: dict[str, Any]) -> Page:
    decision = data["decision"]
    page = Page(
        title=f"Retraining: {data['project']}",
        subtitle=f"champion {data['champion']} · "
        f"challenger {data['challenger'] or '(not yet registered)'}",
    )
    s = Section("Decision")
    useful = decision.get("beats_dummy", True)
    tone = "ok" if decision["promoted"] else ("info" if decision["better"] and useful else "warn")
    verdict = "promoted" if decision["promoted"] else "not promoted"
    s.blocks.append(Text(f"Challenger {verdict}: {decision['reason']}.", tone=tone))
    for note in [*data.get("warnings", []), *data.get("notes", [])]:
        s.blocks.append(Text(note, tone="warn"))
    page.sections.append(s)

    counts = data["data"]
    s = Section("Data that went in")
    rows = [[label, counts.get(key)] for key, label in _COUNTS.items() if key in counts]
    if counts.get("filter"):
        rows.insert(1, ["retrain.filter", counts["filter"]])
    if counts.get("holdout_from"):
        rows.append(["hold-out window starts", counts["holdout_from"]])
    rows.append(["compared on", counts.get("compared_on")])
    s.blocks.append(Table(["", "value"], rows))
    page.sections.append(s)

    comp = data["comparison"]
    diff = comp["difference"]
    s = Section("Champion vs challenger on the same rows")
    s.blocks.append(
        Text(
            f"{comp['metric']}: champion {diff['value_a']:.4f}, challenger {diff['value_b']:.4f}, "
            f"difference {diff['difference']:+.4f} "
            + (
                f"(paired 95% CI [{diff['ci_low']:+.4f}, {diff['ci_high']:+.4f}], "
                f"p = {diff['p_value']:.4f})"
                if diff["ci_low"] is not None
                else "(no interval)"
            )
            + f" on {comp['rows']:,} rows."
        )
    )
    champion, challenger = comp["metrics"]["champion"], comp["metrics"]["challenger"]
    names = [n for n in challenger if n in champion]
    s.blocks.append(
        Table(
            ["metric", "champion", "challenger"],
            [[n, _fmt(champion[n]), _fmt(challenger[n])] for n in names],
        )
    )
    shown = {
        n: {
            side: (entry["value"], entry.get("ci_low"), entry.get("ci_high"))
            for side, entry in (("champion", champion[n]), ("challenger", challenger[n]))
        }
        for n in names
        if champion[n]["value"] is not None and challenger[n]["value"] is not None
    }
    if shown:
        s.blocks.append(
            Chart(
                charts.metric_panels(
                    shown,
                    title="Held-out metrics (95% CI), one axis per metric",
                    higher_is_better=HIGHER_IS_BETTER,
                ),
                wide=True,
            )
        )
    page.sections.append(s)

    s = Section("Requirements and fairness (challenger)")
    tones = {"pass": "ok", "fail": "bad", "unknown": "warn"}
    for r in comp["requirements"]:
        value = "–" if r.get("value") is None else f"{r['value']:.4f}"
        note = f" ({r['message']})" if r.get("message") else ""
        s.blocks.append(
            Text(f"{r['expression']}: {value} — {r['status']}{note}", tone=tones[r["status"]])
        )
    fairness = comp.get("fairness")
    if fairness:
        rows = []
        for name in ("champion", "challenger"):
            audit = fairness[name]
            for gap in audit["gaps"]:
                rows.append(
                    [name, gap["grouping"], gap["segment"], _fmt_number(gap["gap"]), gap["verdict"]]
                )
        s.blocks.append(
            Table(["model", "grouping", "segment", "gap", "verdict"], rows, caption="Fairness")
        )
    if not comp["requirements"] and not fairness:
        s.blocks.append(Text("No requirements or fairness audit configured."))
    page.sections.append(s)
    return page


def _fmt(entry: dict[str, Any]) -> str:
    value, low, high = entry.get("value"), entry.get("ci_low"), entry.get("ci_high")
    if value is None:
        return "–"
    return f"{value:.4f}" + ("" if low is None else f" [{low:.3f}, {high:.3f}]")
