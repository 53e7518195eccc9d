"""Every report kind is light (≤ 1 MB), self-contained, and draws its charts offline.

Each report is made by the real pipeline (profile, a registered traffic-stops model's
evaluation, the monitor over a real SQLite log, a retraining), then opened in headless
Chromium with the network cut: every chart container must hold drawn marks, with no page
error and no request beyond the file itself.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tabloop.config import HIGHER_IS_BETTER
from tabloop.report import Chart, Page, Section, render_page
from tabloop.report._charts import LABEL_CHARS, bar, line_panels, metric_panels, short_label
from tests.stops import fill_log, stops_config

MAX_BYTES = 1_000_000
KINDS = ("profile", "evaluation", "monitor", "retrain")
CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = (
    f"Debian's chromium is missing ({CHROMIUM}): run `make test`, which installs it with "
    "apt-get (or `apt-get install chromium` as root)."
)
#: What plotly draws for the marks of a trace: bars and points are paths, heatmaps images.
MARKS = "g.trace path, g.hm image, g.points path"


@pytest.fixture(scope="module")
def reports(stops_model: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``{kind: path of its HTML}`` for each report kind, made by the real pipeline."""
    from tabloop.data import profile
    from tabloop.evaluate import evaluate
    from tabloop.examples import traffic_stops, treatment_outcomes
    from tabloop.monitor import monitor
    from tabloop.retrain import retrain

    out = tmp_path_factory.mktemp("reports")
    paths = {}
    df = treatment_outcomes(n=2_000)
    paths["profile"] = profile(df, target="unsuccessful_outcome", by="gender").save(
        out / "profile"
    )["html"]

    # the session model's evaluation, with permutation importance (and its intervals)
    result = stops_model["result"]
    config = result.config.model_copy(
        update={"evaluate": result.config.evaluate.model_copy(update={"importance": True})}
    )
    evaluation = evaluate(dataclasses.replace(result, config=config))
    paths["evaluation"] = evaluation.save(out / "evaluation")["html"]

    folder = out / "project"
    (folder / "data").mkdir(parents=True)
    stops_model["df"].to_csv(folder / "data" / "stops.csv", index=False)
    shutil.copy(Path(stops_model["uri"].removeprefix("sqlite:///")), folder / "mlflow.db")
    project = stops_config(
        f"sqlite:///{folder / 'mlflow.db'}",
        folder,
        monitor={
            "bootstrap": 200,
            "fairness": {"protected": ["race"], "segment": "department", "min_group_size": 20},
        },
        retrain={"filter": "searched == True", "holdout": 0.3},
    )
    production = traffic_stops(3000, production=True)
    fill_log(
        project.serve.store_url,
        result.model,
        production,
        labels=production["contraband"],
    )
    paths["monitor"] = monitor(project, chunk="2w").save(out / "monitor")["html"]
    retrain(project, out_dir=out / "retrain")
    paths["retrain"] = out / "retrain" / "retrain.html"
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_each_report_is_at_most_1_mb_and_loads_nothing_from_outside(reports, kind):
    html = reports[kind].read_text(encoding="utf-8")
    assert len(html.encode()) <= MAX_BYTES, f"{kind}.html weighs {len(html.encode()):,} bytes"
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\s(src|href)\s*=""", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    # the one script it carries is plotly's cartesian bundle, byte for byte, gzipped
    blob = re.search(r'id="tabloop-plotly"[^>]*>([^<]*)</script>', html).group(1)
    bundle = resources.files("tabloop.report").joinpath("vendor", "plotly-cartesian.min.js")
    assert gzip.decompress(base64.b64decode(blob)) == bundle.read_bytes()


def drawn_charts(path: Path) -> list[dict[str, Any]]:
    """Open ``path`` in Chromium with the network off; per chart: marks, error bars, axes
    and whether its tick labels lie inside it. Fails on a page error or any request."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():  # a failure, not a skip: a missing browser hides bugs
        pytest.fail(NO_CHROMIUM, pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
            page = context.new_page()
            page.set_default_timeout(300_000)  # a guard against a hang only
            problems: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else 0)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            charts = page.locator(".block-chart")
            found = []
            for i in range(charts.count()):
                chart = charts.nth(i)
                chart.scroll_into_view_if_needed()  # charts are drawn as they come into view
                chart.locator("svg.main-svg").first.wait_for(timeout=300_000)
                found.append(
                    chart.evaluate(
                        """(el, marks) => {
                          const box = el.getBoundingClientRect();
                          const ticks = [...el.querySelectorAll("g.xtick text, g.ytick text")]
                            .map(t => t.getBoundingClientRect())
                            .filter(r => r.width > 0);
                          return {
                            marks: el.querySelectorAll(marks).length,
                            errorbars: el.querySelectorAll("g.errorbar path").length,
                            subplots: el.querySelectorAll("g.cartesianlayer > g.subplot").length,
                            ticks_inside: ticks.every(r => r.left >= box.left - 1
                              && r.right <= box.right + 1),
                            titles_inside: [...el.querySelectorAll(".gtitle, .g-xtitle text")]
                              .map(t => t.getBoundingClientRect())
                              .every(r => r.left >= box.left - 1 && r.right <= box.right + 1),
                            ticktext: [...el.querySelectorAll("g.ytick text")]
                              .map(t => t.textContent),
                            title: (el.querySelector(".gtitle") || {}).textContent || "",
                          };
                        }""",
                        MARKS,
                    )
                )
            assert problems == [], problems
            assert requests == [path.as_uri()], requests
            return found
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_each_report_draws_every_chart_offline(reports, kind):
    charts = drawn_charts(reports[kind])
    assert charts, f"{kind}.html has no chart"
    empty = [c["title"] for c in charts if c["marks"] == 0]
    assert empty == [], f"charts without marks in {kind}.html: {empty}"
    clipped = [c["title"] for c in charts if not (c["ticks_inside"] and c["titles_inside"])]
    assert clipped == [], f"tick labels outside their chart in {kind}.html: {clipped}"
    if kind == "evaluation":  # permutation importance shows its intervals
        importance = next(c for c in charts if c["title"].startswith("Permutation importance"))
        assert importance["errorbars"] > 0
    if kind == "retrain":  # one axis per metric: never log loss beside ROC-AUC
        panels = next(c for c in charts if c["title"].startswith("Held-out metrics"))
        assert panels["subplots"] >= 2
    if kind == "monitor":  # the same for the performance per chunk
        panels = next(c for c in charts if c["title"].startswith("Performance per chunk"))
        assert panels["subplots"] >= 2


LONG = "engagement_minutes_in_the_first_four_weeks_after_sign_up_log"


def test_long_labels_are_shortened_on_the_axis_and_whole_on_hover():
    assert short_label(LONG) == "engagement_minutes_…ign_up_log"
    assert len(short_label(LONG)) == LABEL_CHARS
    assert short_label("age") == "age"
    figure = bar([LONG, "age"], [0.2, 0.1], title="t", horizontal=True)
    axis = figure["layout"]["yaxis"]
    assert axis["automargin"] is True
    assert axis["tickvals"] == [LONG, "age"]  # the data keeps the whole name (hover shows it)
    assert axis["ticktext"] == ["engagement_minutes_…ign_up_log", "age"]
    assert figure["data"][0]["y"] == [LONG, "age"]


def test_importance_bars_carry_their_interval_as_error_bars():
    figure = bar(
        ["a", "b"], [0.05, 0.01], title="t", horizontal=True, interval=([0.03, -0.02], [0.08, 0.02])
    )
    error = figure["data"][0]["error_x"]
    assert error["array"] == pytest.approx([0.03, 0.01])
    assert error["arrayminus"] == pytest.approx([0.02, 0.03])
    assert error["symmetric"] is False


def test_retrain_panels_never_share_an_axis_across_directions():
    values = {
        name: {"champion": (0.5, 0.4, 0.6), "challenger": (0.6, None, None)}
        for name in ("log_loss", "roc_auc", "brier", "f1")
    }
    figure = metric_panels(values, title="t", higher_is_better=HIGHER_IS_BETTER)
    axis_of = {}
    for trace in figure["data"]:
        metric = trace["hovertemplate"].split(",")[0]
        axis_of.setdefault(metric, set()).add(trace["yaxis"])
    assert all(len(axes) == 1 for axes in axis_of.values())  # both models on one axis
    assert len({next(iter(a)) for a in axis_of.values()}) == 4  # one axis per metric
    heads = [a["text"] for a in figure["layout"]["annotations"]]
    # higher-is-better panels first, each headed by its direction
    assert heads == [
        "<b>roc_auc</b><br>higher is better",
        "<b>f1</b><br>higher is better",
        "<b>log_loss</b><br>lower is better",
        "<b>brier</b><br>lower is better",
    ]
    champion = [t for t in figure["data"] if t["name"] == "champion"]
    assert all("error_y" in t for t in champion)
    assert [t["showlegend"] for t in champion] == [True, False, False, False]


def test_chunk_panels_give_each_metric_its_axis_and_each_series_one_style():
    x = ["week 1", "week 2"]
    values = {
        name: {"realised": (x, [1.0, 2.0]), "estimated": (x, [1.5, 2.5])}
        for name in ("mse", "r2", "mae")
    }
    figure = line_panels(values, title="t", higher_is_better=HIGHER_IS_BETTER)
    heads = [a["text"].split("<br>") for a in figure["layout"]["annotations"]]
    assert heads == [
        ["<b>r2</b>", "higher is better"],
        ["<b>mse</b>", "lower is better"],
        ["<b>mae</b>", "lower is better"],
    ]
    axes = [(t["name"], t["yaxis"]) for t in figure["data"]]
    assert axes == [
        ("realised", "y"),
        ("estimated", "y"),
        ("realised", "y2"),
        ("estimated", "y2"),
        ("realised", "y3"),
        ("estimated", "y3"),
    ]
    styles = {(t["name"], t["line"]["color"], t["line"]["dash"]) for t in figure["data"]}
    assert len(styles) == 2


@pytest.mark.slow
def test_long_feature_names_are_not_clipped_in_a_browser(tmp_path):
    from tabloop.data import profile
    from tabloop.examples import treatment_outcomes

    names = [LONG, "age", "diary_stress_avg_times_course_weight_for_chronic_pain"]
    page = Page(
        title="long names",
        sections=[
            Section(
                "s",
                [
                    Chart(bar(names, [0.3, 0.2, 0.1], title="horizontal", horizontal=True)),
                    Chart(bar(names, [0.3, 0.2, 0.1], title="vertical")),
                ],
            )
        ],
    )
    path = tmp_path / "long.html"
    path.write_text(render_page(page), encoding="utf-8")
    horizontal, vertical = drawn_charts(path)
    assert horizontal["ticks_inside"] and vertical["ticks_inside"]
    assert horizontal["ticktext"] == [short_label(n) for n in names]
    assert horizontal["marks"] == vertical["marks"] == 3

    # a profile whose columns have long names: every title and tick stays in its chart
    df = treatment_outcomes(n=500).rename(
        columns={"engagement_min": LONG, "course": f"course_{LONG}", "gender": f"gender_{LONG}"}
    )
    path = profile(df, target="unsuccessful_outcome", by=f"gender_{LONG}").save(tmp_path)["html"]
    charts = drawn_charts(path)
    clipped = [c["title"] for c in charts if not (c["ticks_inside"] and c["titles_inside"])]
    assert clipped == []
    assert any(c["title"].startswith(short_label(LONG) + " (numeric") for c in charts)


def test_the_vendored_bundle_is_the_one_its_notice_names():
    import hashlib

    vendor = resources.files("tabloop.report").joinpath("vendor")
    bundle = vendor.joinpath("plotly-cartesian.min.js").read_bytes()
    notice = vendor.joinpath("NOTICE").read_text(encoding="utf-8")
    version = re.search(rb"plotly\.js \(cartesian - minified\) v([\d.]+)", bundle[:200]).group(1)
    assert f"plotly.js-cartesian-dist-min {version.decode()} (npm)" in notice
    assert hashlib.sha256(bundle).hexdigest() in notice
    assert "MIT License" in vendor.joinpath("LICENSE.plotly.txt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_profile_of_300_numeric_columns_stays_under_1_mb():
    import numpy as np
    import pandas as pd

    from tabloop.data import profile
    from tabloop.report import HEATMAP_COLUMNS

    rng = np.random.default_rng(0)
    values = rng.normal(size=(1000, 300))
    # 60 planted pairs, each column correlated with its partner, among 180 unrelated columns
    for i in range(0, 120, 2):
        values[:, i + 1] = values[:, i] + rng.normal(scale=0.5 + i / 100, size=1000)
    order = rng.permutation(300)  # the planted columns spread across the table
    df = pd.DataFrame(values[:, order], columns=[f"feature_{i}" for i in range(300)])
    df["y"] = rng.integers(0, 2, len(df))
    html = profile(df, target="y").to_html()
    assert len(html.encode()) <= MAX_BYTES
    specs = json.loads(
        gzip.decompress(
            base64.b64decode(re.search(r'id="tabloop-charts"[^>]*>([^<]*)<', html).group(1))
        )
    )
    heatmaps = {
        s["layout"]["title"]["text"]: s["data"][0]
        for s in specs
        if s["data"][0]["type"] == "heatmap"
    }
    pearson = next(h for title, h in heatmaps.items() if title.startswith("Pearson"))
    # the heatmap draws the columns with the strongest correlation to another column, in
    # the table's order, and the matrix restricted to them
    r = np.corrcoef(df.drop(columns="y").to_numpy(), rowvar=False)
    np.fill_diagonal(r, 0)
    strongest = np.abs(r).max(axis=0)
    expected = sorted(np.argsort(-strongest, kind="stable")[:HEATMAP_COLUMNS])
    assert pearson["x"] == [f"feature_{i}" for i in expected]
    assert np.allclose(pearson["z"], np.corrcoef(df.iloc[:, expected], rowvar=False), atol=1e-4)
    assert f"{HEATMAP_COLUMNS} of 300 columns" in html


def test_chart_numbers_keep_six_significant_digits():
    figure = bar(["a", "b"], [1 / 3, -5.667350000000001], title="t")
    html = render_page(Page(title="p", sections=[Section("s", blocks=[Chart(figure)])]))
    packed = re.search(r'id="tabloop-charts"[^>]*>([^<]*)<', html).group(1)
    (spec,) = json.loads(gzip.decompress(base64.b64decode(packed)))
    assert spec["data"][0]["y"] == [0.333333, -5.66735]
