import json
import re
import shutil
import subprocess

import pytest

from tabloop.data import profile
from tabloop.examples import treatment_outcomes
from tabloop.report import Chart, Page, Section, Table, Text, render_page


def test_profile_html_is_self_contained_and_embeds_its_charts(tmp_path):
    df = treatment_outcomes(n=1_000)
    html = profile(df, target="unsuccessful_outcome", by="gender").to_html()
    from plotly.offline import get_plotlyjs

    # plotly.js is inlined (its own strings mention plotly.com and map tiles, never loaded);
    # the rest of the page refers to nothing outside itself
    assert get_plotlyjs() in html
    page = html.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    # plotly.js is inlined once, and the chart specs parse as JSON
    assert html.count("Plotly.newPlot") == 1
    specs = json.loads(re.search(r'id="tabloop-charts">(.*?)</script>', html, re.S).group(1))
    n_divs = len(re.findall(r'class="block-chart', html))
    assert len(specs) == n_divs > 20
    assert all("data" in s and "layout" in s for s in specs)
    for section in (
        "Overview",
        "Missing values",
        "Correlations",
        "Distributions",
        "By group: gender",
    ):
        assert f">{section}</h2>" in html


def test_text_from_the_data_is_escaped_and_cannot_forge_markers():
    page = Page(
        title="<script>alert(1)</script>",
        sections=[
            Section(
                "s",
                [
                    Text("<!--TABLOOP:CHARTS--> & <b>bold</b>"),
                    Table(["col"], [["</script><script>x()</script>"]]),
                    Chart({"data": [{"type": "bar", "x": ["</script>"], "y": [1]}], "layout": {}}),
                ],
            )
        ],
    )
    html = render_page(page)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "</script><script>x()" not in html
    specs = json.loads(re.search(r'id="tabloop-charts">(.*?)</script>', html, re.S).group(1))
    assert specs[0]["data"][0]["x"] == ["</script>"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = (
    "Debian's chromium is missing: run `make test`, which installs it with apt-get "
    "(or `apt-get install chromium` as root)."
)


@pytest.mark.slow
def test_profile_renders_its_charts_in_a_browser_with_no_network(tmp_path):
    if CHROMIUM is None:  # a failure, not a skip: a missing browser must not hide a bug
        pytest.fail(NO_CHROMIUM, pytrace=False)
    df = treatment_outcomes(n=1_000)
    path = profile(df, target="unsuccessful_outcome").save(tmp_path)["html"]
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--window-size=1400,3000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    drawn = dom.count('class="main-svg"')
    assert drawn >= 4, result.stderr[-2000:]  # the charts in the first screens were drawn offline
