"""A report page as plain data (sections of text, tables and charts) and its HTML renderer.

Every report (profile, evaluation, monitoring, retraining) builds a :class:`Page`;
:func:`render_page` turns it into one self-contained HTML file: CSS inline, plotly.js
embedded once, chart specs as one JSON list. Nothing is fetched at view time, so reports
open offline. The JSON twin (``save_report``) is what machines read, not the page.

Why the page carries plotly.js gzipped: the full plotly.js is 4.8 MB, which made every report
about 4.9 MB for some 60 KB of data. The charts use only cartesian traces (bar, scatter,
heatmap, box), so the page embeds plotly's own cartesian bundle (``vendor/``, see its NOTICE):
1.5 MB minified, still over the 1 MB a report may weigh, and 0.5 MB gzipped. The page holds
it gzipped and base64-encoded (0.66 MB) and the browser inflates it with its built-in
``DecompressionStream`` (every browser since 2023) before drawing; the chart specs travel
the same way (a 150-column profile's correlation matrices: 0.6 MB of JSON, 0.17 MB packed).
Its smaller basic bundle (scatter, bar, pie: 1.2 MB) has no heatmap or box; SVG drawn by
hand (as the live dashboard does) would be lighter still but loses hover and means writing
a charting library.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Tone = Literal["info", "warn", "bad", "ok"]


@dataclass
class Text:
    text: str
    tone: Tone | None = None


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str | None = None


@dataclass
class Chart:
    """A plotly figure as a dict: ``{"data": [...], "layout": {...}}``."""

    figure: dict[str, Any]
    wide: bool = False


@dataclass
class Section:
    title: str
    blocks: list[Text | Table | Chart] = field(default_factory=list)
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = "".join(ch if ch.isalnum() else "-" for ch in self.title.lower())


@dataclass
class Page:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)


#: The plotly.js bundle embedded in every report (package data in ``report/vendor/``).
PLOTLY_BUNDLE = "plotly-cartesian.min.js"


def _vendor(name: str) -> bytes:
    return resources.files("tabloop.report").joinpath("vendor", name).read_bytes()


def _pack(raw: bytes, level: int = 6) -> str:
    """``raw`` gzipped and base64-encoded, as the page's ``inflate`` reads it. ``mtime=0``:
    the same input gives the same bytes, so two renders of a page are equal."""
    return base64.b64encode(gzip.compress(raw, compresslevel=level, mtime=0)).decode("ascii")


@cache
def _plotly_packed() -> str:
    return _pack(_vendor(PLOTLY_BUNDLE), level=9)


def save_report(out_dir: str | Path, stem: str, *, json_text: str, html: str) -> dict[str, Path]:
    """Write ``<stem>.json`` and ``<stem>.html`` (the report and its JSON twin) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / f"{stem}.html", "json": out / f"{stem}.json"}
    paths["json"].write_text(json_text, encoding="utf-8")
    paths["html"].write_text(html, encoding="utf-8")
    return paths


def render_page(page: Page) -> str:
    """Render ``page`` to a self-contained HTML document."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tabloop.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    charts: list[dict[str, Any]] = []

    def chart_id(figure: dict[str, Any]) -> str:
        charts.append(figure)
        return f"chart-{len(charts) - 1}"

    env.globals["chart_id"] = chart_id
    env.filters["cell"] = _cell
    body = env.get_template("page.html").render(
        page=page,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        kind=lambda block: type(block).__name__.lower(),
    )
    # Chart specs go in one script, packed like plotly.js (numbers compress 3-4 times: a
    # profile of 400 columns keeps under 1 MB); base64 cannot close the tag. The
    # placeholders are HTML comments, which autoescaped text in the body cannot forge.
    specs = json.dumps(_significant(charts), default=str, separators=(",", ":"))
    specs = _pack(specs.encode("utf-8"))
    body = body.replace("<!--TABLOOP:PLOTLY-->", _plotly_packed(), 1)
    return body.replace("<!--TABLOOP:CHARTS-->", specs, 1)


def _significant(value: Any, digits: int = 6) -> Any:
    """``value`` with every float to ``digits`` significant digits, more than any chart
    shows: bin edges such as -5.667350000000001 cost bytes and say nothing more."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _significant(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_significant(v, digits) for v in value]
    return value


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell: floats to ``digits`` places, None as an en dash."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
