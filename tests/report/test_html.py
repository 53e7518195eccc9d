import base64
import gzip
import json
import re

from tabloop.data import profile
from tabloop.examples import treatment_outcomes
from tabloop.report import Chart, Page, Section, Table, Text, render_page


def chart_specs(html: str) -> list[dict]:
    """The page's chart specs: a JSON list, gzipped and base64-encoded like plotly.js."""
    packed = re.search(r'id="tabloop-charts"[^>]*>([^<]*)</script>', html).group(1)
    return json.loads(gzip.decompress(base64.b64decode(packed)))


def test_profile_html_is_self_contained_and_embeds_its_charts(tmp_path):
    df = treatment_outcomes(n=1_000)
    html = profile(df, target="unsuccessful_outcome", by="gender").to_html()

    # plotly.js is inlined once, gzipped and base64-encoded: nothing else is loaded
    assert len(html.encode()) <= 1_000_000
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert html.count('id="tabloop-plotly"') == html.count("Plotly.newPlot") == 1
    specs = chart_specs(html)
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
    specs = chart_specs(html)
    assert specs[0]["data"][0]["x"] == ["</script>"]
