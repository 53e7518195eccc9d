"""Turn the profile's plain data into a report page."""

from __future__ import annotations

from typing import Any

from tabloop.report import _charts as charts
from tabloop.report._page import Chart, Page, Section, Table, Text, render_page

#: The most columns a correlation heatmap draws (its cells grow with their square).
HEATMAP_COLUMNS = 100
_TONE = {"leakage": "bad", "pure_segment": "bad", "target_missing": "bad"}


def render_profile(data: dict[str, Any]) -> str:
    """HTML for a profile (``Profile.data``)."""
    return render_page(build_profile_page(data))


def build_profile_page(data: dict[str, Any]) -> Page:
    shape = data["shape"]
    target = data.get("target")
    subtitle = f"{shape['rows']:,} rows × {shape['columns']} columns"
    if target:
        subtitle += f" · target {target['name']!r} ({target['task']})"
    if data["sample"]["sampled"]:
        subtitle += f" · statistics marked (sample) use {data['sample']['rows']:,} rows"
    page = Page(title=data["title"], subtitle=subtitle)
    page.sections.append(_overview(data))
    if target:
        page.sections.append(_target(target))
    page.sections.append(_missing(data))
    if data.get("predictive_power"):
        page.sections.append(_power(data))
    if data.get("text_power"):
        page.sections.append(_text_power(data["text_power"]))
    page.sections.append(_correlations(data["correlations"]))
    page.sections.append(_columns(data["columns"]))
    if data.get("groups"):
        page.sections.append(_groups(data["groups"]))
    return page


def _overview(data: dict[str, Any]) -> Section:
    s = Section("Overview")
    warnings = sorted(data["warnings"], key=lambda w: 0 if w["kind"] in _TONE else 1)
    if not warnings:
        s.blocks.append(Text("No warnings.", tone="ok"))
    for w in warnings:
        s.blocks.append(Text(w["message"], tone=_TONE.get(w["kind"], "warn")))
    dup = data["duplicates"]
    s.blocks.append(
        Table(
            ["column", "kind", "dtype", "missing", "missing %", "distinct"],
            [
                [
                    c["name"],
                    c["kind"],
                    c["dtype"],
                    c["missing_count"],
                    c["missing_pct"],
                    c["n_unique"],
                ]
                for c in data["columns"]
            ],
            caption=f"Columns · duplicate rows: {dup['rows']:,} "
            f"({dup['rows_ignoring_ids']:,} ignoring "
            f"id columns) · constant: {', '.join(data['constant_columns']) or 'none'} · "
            f"id-like: {', '.join(data['id_like_columns']) or 'none'}",
        )
    )
    return s


def _target(target: dict[str, Any]) -> Section:
    s = Section(f"Target: {target['name']}")
    if target["missing"]["count"]:
        s.blocks.append(
            Text(
                f"{target['missing']['count']} row(s) have no target value; first rows: "
                f"{', '.join(str(r) for r in target['missing']['rows'][:20])}.",
                tone="bad",
            )
        )
    if "balance" in target:
        rows = target["balance"]
        s.blocks.append(
            Chart(
                charts.bar(
                    [r["value"] for r in rows],
                    [r["count"] for r in rows],
                    title="Class balance",
                    y_title="rows",
                )
            )
        )
        s.blocks.append(
            Table(["class", "rows", "share"], [[r["value"], r["count"], r["share"]] for r in rows])
        )
    else:
        summary = target.get("summary", {})
        s.blocks.append(Table(list(summary), [list(summary.values())]))
    return s


def _missing(data: dict[str, Any]) -> Section:
    s = Section("Missing values")
    rows = [m for m in data["missing"] if m["count"]]
    if not rows:
        s.blocks.append(Text("No missing values.", tone="ok"))
        return s
    s.blocks.append(
        Chart(
            charts.bar(
                [m["column"] for m in rows],
                [m["pct"] for m in rows],
                title="Missing values per column",
                y_title="% of rows",
            )
        )
    )
    table_rows = []
    for m in rows:
        rel = m.get("relation_to_target") or {}
        table_rows.append(
            [
                m["column"],
                m["count"],
                m["pct"],
                rel.get("test"),
                rel.get("p_value"),
                "yes" if rel.get("related") else ("no" if rel else None),
                rel.get("positive_rate_when_missing", rel.get("target_mean_when_missing")),
                rel.get("positive_rate_when_present", rel.get("target_mean_when_present")),
            ]
        )
    s.blocks.append(
        Table(
            [
                "column",
                "missing",
                "%",
                "test",
                "p-value",
                "related to target",
                "target when missing",
                "target when present",
            ],
            table_rows,
            caption="Missing-value table; 'target' is the positive rate (classification) or mean",
        )
    )
    return s


def _power(data: dict[str, Any]) -> Section:
    s = Section("Single-feature power and leakage")
    power = data["predictive_power"]
    metric = "ROC-AUC" if power[0]["metric"] == "roc_auc" else "R²"
    cutoff = data["settings"]["leakage_cutoff"]
    s.blocks.append(
        Text(
            f"Each column alone, scored out of fold ({metric}). Columns at or above the cut-off "
            f"{cutoff} are flagged as possible leakage.",
            tone="info",
        )
    )
    s.blocks.append(
        Chart(
            charts.bar(
                [p["column"] for p in power],
                [p["score"] for p in power],
                title=f"{metric} of each column alone",
                horizontal=True,
                reference=cutoff,
            ),
            wide=len(power) > 12,
        )
    )
    segments = data.get("pure_segments") or []
    if segments:
        s.blocks.append(
            Table(
                ["column", "value", "rows", "target value", "share", "overall share"],
                [
                    [
                        g["column"],
                        g["value"],
                        g["rows"],
                        g["target_value"],
                        g["share"],
                        g["overall_share"],
                    ]
                    for g in segments
                ],
                caption="Pure segments: values whose target is almost constant",
            )
        )
    return s


def _text_power(power: list[dict[str, Any]]) -> Section:
    s = Section("Free text")
    metric = "ROC-AUC" if power[0]["metric"] == "roc_auc" else "R²"
    rows = power[0]["rows"]
    s.blocks.append(
        Text(
            f"How well the words of each free-text column alone predict the target: "
            f"{power[0]['method']}, on {rows:,} labelled rows ({metric}; 0.5 is chance for "
            "ROC-AUC, 0 for R²). Training reads these columns as TF-IDF + SVD numbers "
            "(prepare.text).",
            tone="info",
        )
    )
    s.blocks.append(
        Table(
            ["column", metric, "rows", "method"],
            [
                [
                    p["column"],
                    "no word in two rows" if p["score"] is None else p["score"],
                    p["rows"],
                    p["method"],
                ]
                for p in power
            ],
            caption="Each text column alone, scored out of fold",
        )
    )
    return s


def _correlations(corr: dict[str, Any]) -> Section:
    s = Section("Correlations")
    titles = {
        "pearson": "Pearson (numeric)",
        "spearman": "Spearman (numeric)",
        "cramers_v": "Cramér's V (categorical)",
    }
    for key, title in titles.items():
        if key in corr:
            columns, values = strongest_block(corr[key]["columns"], corr[key]["values"])
            if len(columns) < len(corr[key]["columns"]):
                shown = f"{len(columns)} of {len(corr[key]['columns'])} columns"
                title += f", {shown}"
                s.blocks.append(
                    Text(
                        f"{titles[key]} shows the {shown} with the strongest correlation to "
                        "another column; profile.json holds every value."
                    )
                )
            zmin = 0 if key == "cramers_v" else -1
            s.blocks.append(Chart(charts.heatmap(columns, values, title=title, zmin=zmin)))
    pairs = corr["high_pairs"]
    if pairs:
        s.blocks.append(
            Table(
                ["column", "column", "method", "value"],
                [[p["a"], p["b"], p["method"], p["value"]] for p in pairs],
                caption=f"Highly correlated pairs (|value| ≥ {corr['threshold']})",
            )
        )
    else:
        s.blocks.append(Text(f"No pair reaches |{corr['threshold']}|.", tone="ok"))
    return s


def strongest_block(
    columns: list[str], values: list[list[float | None]], limit: int = HEATMAP_COLUMNS
) -> tuple[list[str], list[list[float | None]]]:
    """The ``limit`` columns whose largest absolute correlation with another column is
    highest (in their original order), and the matrix restricted to them: a heatmap of
    every pair grows with the square of the columns, and the page must stay light."""
    if len(columns) <= limit:
        return columns, values

    def strongest(i: int) -> float:
        return max((abs(v) for j, v in enumerate(values[i]) if j != i and v is not None), default=0)

    keep = sorted(sorted(range(len(columns)), key=lambda i: (-strongest(i), i))[:limit])
    return [columns[i] for i in keep], [[values[i][j] for j in keep] for i in keep]


def _columns(columns: list[dict[str, Any]]) -> Section:
    s = Section("Distributions")
    for c in columns:
        dist = c.get("distribution")
        if not dist:
            continue
        # a title does not wrap: a long name is shortened there and whole on the axis
        title = f"{charts.short_label(c['name'])} ({c['kind']}, {c['missing_pct']}% missing)"
        if dist["type"] == "histogram":
            fig = charts.histogram(dist["edges"], dist["counts"], title=title, x_title=c["name"])
        else:
            fig = charts.bar(
                dist["values"], dist["counts"], title=title, x_title=c["name"], y_title="rows"
            )
        s.blocks.append(Chart(fig))
    summaries = [c for c in columns if c.get("summary") and c["kind"] == "numeric"]
    if summaries:
        keys = list(summaries[0]["summary"])
        s.blocks.append(
            Table(
                ["column", *keys],
                [[c["name"], *[c["summary"].get(k) for k in keys]] for c in summaries],
                caption="Numeric summaries",
            )
        )
    return s


def _groups(groups: list[dict[str, Any]]) -> Section:
    s = Section(f"By group: {', '.join(sorted({g['by'] for g in groups}))}")
    for g in groups:
        title = f"{charts.short_label(g['column'])} by {charts.short_label(g['by'])}"
        if "shares" in g:
            series = {grp: shares for grp, shares in g["shares"].items()}
            # one bar group per category, one colour per group value
            s.blocks.append(
                Chart(
                    charts.grouped_bar(
                        g["categories"], series, title=title, y_title="share of group"
                    )
                )
            )
        else:
            s.blocks.append(
                Chart(charts.overlaid_histograms(g["edges"], g["histograms"], title=title))
            )
    return s
