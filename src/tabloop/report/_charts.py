"""Plotly figure specs as plain dicts (rendered by plotly.js in the page).

Building dicts rather than ``plotly.graph_objects`` keeps report generation fast: no
figure validation per chart, no plotly import until the page embeds its JavaScript.
"""

from __future__ import annotations

from typing import Any

Figure = dict[str, Any]
PALETTE = ["#2f6fdb", "#e07b39", "#3a9d5d", "#c84f7e", "#7a5cc7", "#8c8c8c", "#d4b13a", "#2fb5c9"]


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0, "font": {"size": 14}}, "colorway": PALETTE, **extra}


def bar(
    labels: list[Any],
    values: list[float],
    *,
    title: str,
    x_title: str = "",
    y_title: str = "",
    horizontal: bool = False,
    reference: float | None = None,
) -> Figure:
    """A bar chart; ``reference`` draws a dashed line (e.g. a cut-off) across the bars."""
    labels = [str(v) for v in labels]
    trace: dict[str, Any] = {"type": "bar", "marker": {"color": PALETTE[0]}}
    if horizontal:
        trace.update(x=values, y=labels, orientation="h")
    else:
        trace.update(x=labels, y=values)
    layout = _layout(title, xaxis={"title": {"text": x_title}}, yaxis={"title": {"text": y_title}})
    layout["yaxis" if horizontal else "xaxis"]["type"] = "category"  # "0"/"1" are labels
    if horizontal:
        layout["yaxis"]["autorange"] = "reversed"
        layout["margin"] = {"l": 160}
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
    data = [
        {"type": "bar", "name": str(name), "x": [str(c) for c in categories], "y": values}
        for name, values in series.items()
    ]
    return {
        "data": data,
        "layout": _layout(
            title,
            barmode="stack" if stacked else "group",
            xaxis={"type": "category"},
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
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in values]
    trace = {
        "type": "heatmap",
        "x": columns,
        "y": columns,
        "z": values,
        "zmin": zmin,
        "zmax": zmax,
        "colorscale": "RdBu" if zmin < 0 else "Blues",
        "reversescale": True,  # RdBu: +1 blue, -1 red; Blues: 1 dark
        "text": text,
        "texttemplate": "%{text}" if len(columns) <= 15 else "",
        "hovertemplate": "%{y} × %{x}: %{z:.3f}<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(title, yaxis={"autorange": "reversed"}, margin={"l": 140, "b": 120}),
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
    """Points with a y = x reference line (predicted vs actual)."""
    low, high = min([*x, *y], default=0), max([*x, *y], default=1)
    return {
        "data": [
            {
                "type": "scattergl",
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
