"""Plotly figure specs as plain dicts (rendered by plotly.js in the page).

Building dicts rather than ``plotly.graph_objects`` keeps report generation fast: no
figure validation per chart, and no plotly Python package at all. Only cartesian trace
types are used (bar, scatter, heatmap, box): the page embeds plotly's cartesian bundle.

Axes grow their margins to fit their tick labels (``automargin``); a category label longer
than :data:`LABEL_CHARS` is shortened in the middle on the axis and stays whole on hover,
so a long feature name is neither clipped nor allowed to squeeze the plot away.
"""

from __future__ import annotations

from typing import Any

Figure = dict[str, Any]
PALETTE = ["#2f6fdb", "#e07b39", "#3a9d5d", "#c84f7e", "#7a5cc7", "#8c8c8c", "#d4b13a", "#2fb5c9"]
#: Longest category tick label drawn whole; longer ones keep their start and end around "…".
LABEL_CHARS = 30


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout = {"title": {"text": title, "x": 0, "font": {"size": 14}}, "colorway": PALETTE, **extra}
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"automargin": True, **(layout.get(axis) or {})}
    return layout


def short_label(label: str, limit: int = LABEL_CHARS) -> str:
    """``label`` cut in the middle to ``limit`` characters (names differ at either end).

    >>> short_label("diary_stress_average_over_the_last_four_weeks")
    'diary_stress_averag…four_weeks'
    """
    if len(label) <= limit:
        return label
    head = (limit - 1) * 2 // 3
    return label[:head] + "…" + label[len(label) - (limit - 1 - head) :]


def category_axis(labels: list[str], **extra: Any) -> dict[str, Any]:
    """A category axis for ``labels``, long ones shortened on the ticks (hover keeps them)."""
    axis: dict[str, Any] = {"type": "category", "automargin": True, **extra}
    if any(len(label) > LABEL_CHARS for label in labels):
        axis.update(tickmode="array", tickvals=labels, ticktext=[short_label(v) for v in labels])
    return axis


def bar(
    labels: list[Any],
    values: list[float],
    *,
    title: str,
    x_title: str = "",
    y_title: str = "",
    horizontal: bool = False,
    reference: float | None = None,
    interval: tuple[list[float], list[float]] | None = None,
) -> Figure:
    """A bar chart; ``reference`` draws a dashed line (e.g. a cut-off) across the bars;
    ``interval`` = ``(lows, highs)`` draws each bar's interval as an error bar."""
    labels = [str(v) for v in labels]
    trace: dict[str, Any] = {"type": "bar", "marker": {"color": PALETTE[0]}}
    if horizontal:
        trace.update(x=values, y=labels, orientation="h")
    else:
        trace.update(x=labels, y=values)
    if interval is not None:
        low, high = interval
        trace["error_x" if horizontal else "error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": [h - v for v, h in zip(values, high, strict=True)],
            "arrayminus": [v - lo for v, lo in zip(values, low, strict=True)],
            "color": "#1d2430",
            "thickness": 1.2,
        }
        trace["customdata"] = [[lo, h] for lo, h in zip(low, high, strict=True)]
        value = "%{x:.4g}" if horizontal else "%{y:.4g}"
        name = "%{y}" if horizontal else "%{x}"
        trace["hovertemplate"] = (
            f"{name}: {value} [%{{customdata[0]:.4g}}, %{{customdata[1]:.4g}}]<extra></extra>"
        )
    value_axis = {"title": {"text": x_title if horizontal else y_title}}
    label_axis = category_axis(  # "0"/"1" are labels
        labels, title={"text": y_title if horizontal else x_title}
    )
    if horizontal:
        label_axis["autorange"] = "reversed"
        layout = _layout(title, xaxis=value_axis, yaxis=label_axis)
    else:
        layout = _layout(title, xaxis=label_axis, yaxis=value_axis)
    if reference is not None:
        axis = "x" if horizontal else "y"
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x" if horizontal else "paper",
                "yref": "paper" if horizontal else "y",
                f"{axis}0": reference,
                f"{axis}1": reference,
                **({"y0": 0, "y1": 1} if horizontal else {"x0": 0, "x1": 1}),
                "line": {"dash": "dash", "color": "#b3261e"},
            }
        ]
    return {"data": [trace], "layout": layout}


def histogram(edges: list[float], counts: list[int], *, title: str, x_title: str = "") -> Figure:
    """Bars over precomputed bin edges (the profile stores counts, not raw values)."""
    centers = [
        (a + b) / 2 if isinstance(a, int | float) else a
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    widths = (
        [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        if isinstance(edges[0], int | float)
        else None
    )
    trace: dict[str, Any] = {
        "type": "bar",
        "x": centers,
        "y": counts,
        "marker": {"color": PALETTE[0]},
    }
    if widths:
        trace["width"] = widths
    return {
        "data": [trace],
        "layout": _layout(
            title,
            bargap=0.02,
            xaxis={"title": {"text": x_title}},
            yaxis={"title": {"text": "rows"}},
        ),
    }


def grouped_bar(
    categories: list[Any],
    series: dict[str, list[float]],
    *,
    title: str,
    y_title: str = "",
    stacked: bool = False,
) -> Figure:
    labels = [str(c) for c in categories]
    data = [
        {"type": "bar", "name": str(name), "x": labels, "y": values}
        for name, values in series.items()
    ]
    return {
        "data": data,
        "layout": _layout(
            title,
            barmode="stack" if stacked else "group",
            xaxis=category_axis(labels),
            yaxis={"title": {"text": y_title}},
        ),
    }


def overlaid_histograms(
    edges: list[float], series: dict[str, list[int]], *, title: str, x_title: str = ""
) -> Figure:
    """One outline per group, each normalised to shares so groups of any size compare."""
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    data = []
    for name, counts in series.items():
        total = sum(counts) or 1
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hvh"},
                "name": str(name),
                "x": centers,
                "y": [c / total for c in counts],
            }
        )
    return {
        "data": data,
        "layout": _layout(
            title, xaxis={"title": {"text": x_title}}, yaxis={"title": {"text": "share of group"}}
        ),
    }


def heatmap(
    columns: list[str],
    values: list[list[float | None]],
    *,
    title: str,
    zmin: float = -1,
    zmax: float = 1,
) -> Figure:
    trace: dict[str, Any] = {
        "type": "heatmap",
        "x": columns,
        "y": columns,
        "z": values,
        "zmin": zmin,
        "zmax": zmax,
        "colorscale": "RdBu" if zmin < 0 else "Blues",
        "reversescale": True,  # RdBu: +1 blue, -1 red; Blues: 1 dark
        "hovertemplate": "%{y} × %{x}: %{z:.3f}<extra></extra>",
    }
    if len(columns) <= 15:  # values written in the cells; beyond, on hover only
        trace["text"] = [["" if v is None else f"{v:.2f}" for v in row] for row in values]
        trace["texttemplate"] = "%{text}"
    return {
        "data": [trace],
        "layout": _layout(
            title,
            xaxis=category_axis(columns),
            yaxis=category_axis(columns, autorange="reversed"),
        ),
    }


def lines(
    series: dict[str, tuple[list[float], list[float]]],
    *,
    title: str,
    x_title: str = "",
    y_title: str = "",
    diagonal: bool = False,
    band: dict[str, tuple[list[float], list[float]]] | None = None,
    markers: bool = False,
) -> Figure:
    """Line traces ``name: (x, y)``; ``band`` shades ``name: (low, high)`` around a line;
    ``diagonal`` draws the y = x reference (ROC chance line, perfect calibration)."""
    data: list[dict[str, Any]] = []
    for i, (name, (x, y)) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        if band and name in band:
            low, high = band[name]
            data.append(
                {
                    "type": "scatter",
                    "x": [*x, *x[::-1]],
                    "y": [*high, *low[::-1]],
                    "fill": "toself",
                    "line": {"width": 0},
                    "opacity": 0.2,
                    "fillcolor": color,
                    "hoverinfo": "skip",
                    "showlegend": False,
                }
            )
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if markers else "lines",
                "name": str(name),
                "x": x,
                "y": y,
                "line": {"color": color},
            }
        )
    layout = _layout(title, xaxis={"title": {"text": x_title}}, yaxis={"title": {"text": y_title}})
    if diagonal:
        layout["shapes"] = [
            {
                "type": "line",
                "x0": 0,
                "y0": 0,
                "x1": 1,
                "y1": 1,
                "line": {"dash": "dot", "color": "#8c8c8c"},
            }
        ]
    return {"data": data, "layout": layout}


def scatter(x: list[float], y: list[float], *, title: str, x_title: str, y_title: str) -> Figure:
    """Points with a y = x reference line (predicted vs actual); SVG markers (the
    cartesian bundle has no WebGL), fine for the few thousand points a report samples."""
    low, high = min([*x, *y], default=0), max([*x, *y], default=1)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": x,
                "y": y,
                "marker": {"size": 4, "opacity": 0.5, "color": PALETTE[0]},
            }
        ],
        "layout": _layout(
            title,
            xaxis={"title": {"text": x_title}},
            yaxis={"title": {"text": y_title}},
            shapes=[
                {
                    "type": "line",
                    "x0": low,
                    "y0": low,
                    "x1": high,
                    "y1": high,
                    "line": {"dash": "dot", "color": "#8c8c8c"},
                }
            ],
        ),
    }


def box(series: dict[str, list[float]], *, title: str, y_title: str = "") -> Figure:
    """One box (with its points) per name, e.g. cross-validation scores per model."""
    data = [
        {"type": "box", "name": str(k), "y": v, "boxpoints": "all", "jitter": 0.3}
        for k, v in series.items()
    ]
    return {
        "data": data,
        "layout": _layout(title, yaxis={"title": {"text": y_title}}, showlegend=False),
    }


def _panels(
    names: list[str], higher_is_better: dict[str, bool], title: str, columns: int
) -> tuple[list[str], dict[str, Any]]:
    """A grid layout with one subplot per metric, headed by its name and direction; returns
    each metric's axis suffix ("", "2", ...) in order."""
    columns = max(1, min(columns, len(names)))
    rows = -(-len(names) // columns)
    layout = _layout(title, showlegend=True, annotations=[])
    suffixes = []
    for i, name in enumerate(names):
        row, col = divmod(i, columns)
        suffix = "" if i == 0 else str(i + 1)
        suffixes.append(suffix)
        x_domain = [col / columns + 0.03, (col + 1) / columns - 0.03]
        top = 1 - row / rows - 0.16 / rows
        layout[f"xaxis{suffix}"] = {"domain": x_domain, "anchor": f"y{suffix}", "automargin": True}
        layout[f"yaxis{suffix}"] = {
            "domain": [1 - (row + 1) / rows + 0.04, top],
            "anchor": f"x{suffix}",
            "automargin": True,
        }
        better = higher_is_better.get(name)
        direction = "" if better is None else ("higher is better" if better else "lower is better")
        layout["annotations"].append(
            {
                "text": f"<b>{short_label(name, 20)}</b><br>{direction}",
                "x": sum(x_domain) / 2,
                "y": top,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    return suffixes, layout


def _by_direction(names: list[str], higher_is_better: dict[str, bool]) -> list[str]:
    return sorted(names, key=lambda n: not higher_is_better.get(n, True))  # stable


def metric_panels(
    metrics: dict[str, dict[str, tuple[float, float | None, float | None]]],
    *,
    title: str,
    higher_is_better: dict[str, bool],
    columns: int = 5,
) -> Figure:
    """One small bar panel per metric, ``{metric: {series: (value, ci_low, ci_high)}}``.

    Each metric gets its own axis, headed by its direction, and those where higher is
    better come first: a log loss never shares an axis (nor a scale) with a ROC-AUC, nor an
    MSE with an MAE. A series keeps its colour in every panel (one legend entry).
    """
    names = _by_direction(list(metrics), higher_is_better)
    series = list(dict.fromkeys(s for n in names for s in metrics[n]))
    suffixes, layout = _panels(names, higher_is_better, title, columns)
    layout["bargap"] = 0.25
    data: list[dict[str, Any]] = []
    for i, (name, suffix) in enumerate(zip(names, suffixes, strict=True)):
        layout[f"xaxis{suffix}"].update(type="category", showticklabels=False)
        for j, label in enumerate(series):
            if label not in metrics[name]:
                continue
            value, low, high = metrics[name][label]
            trace: dict[str, Any] = {
                "type": "bar",
                "name": label,
                "legendgroup": label,
                "showlegend": i == 0,
                "x": [label],
                "y": [value],
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "marker": {"color": PALETTE[j % len(PALETTE)]},
                "hovertemplate": f"{name}, {label}: %{{y:.4g}}<extra></extra>",
            }
            if low is not None and high is not None:
                trace["error_y"] = {
                    "type": "data",
                    "symmetric": False,
                    "array": [high - value],
                    "arrayminus": [value - low],
                    "color": "#1d2430",
                    "thickness": 1.2,
                }
                trace["hovertemplate"] = (
                    f"{name}, {label}: %{{y:.4g}} [{low:.4g}, {high:.4g}]<extra></extra>"
                )
            data.append(trace)
    return {"data": data, "layout": layout}


def line_panels(
    metrics: dict[str, dict[str, tuple[list[Any], list[float | None]]]],
    *,
    title: str,
    higher_is_better: dict[str, bool],
    columns: int = 3,
) -> Figure:
    """One small line panel per metric, ``{metric: {series: (x, y)}}`` (e.g. realised and
    estimated per chunk): as :func:`metric_panels`, no two metrics share an axis. A series
    keeps its colour and dash in every panel (the first solid, the next dashed)."""
    names = _by_direction(list(metrics), higher_is_better)
    series = list(dict.fromkeys(s for n in names for s in metrics[n]))
    suffixes, layout = _panels(names, higher_is_better, title, columns)
    data: list[dict[str, Any]] = []
    for i, (name, suffix) in enumerate(zip(names, suffixes, strict=True)):
        for j, label in enumerate(series):
            if label not in metrics[name]:
                continue
            x, y = metrics[name][label]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": label,
                    "legendgroup": label,
                    "showlegend": i == 0,
                    "x": x,
                    "y": y,
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                    "line": {
                        "color": PALETTE[j % len(PALETTE)],
                        "dash": "solid" if j == 0 else "dash",
                    },
                    "hovertemplate": f"{name}, {label}, %{{x}}: %{{y:.4g}}<extra></extra>",
                }
            )
    return {"data": data, "layout": layout}
