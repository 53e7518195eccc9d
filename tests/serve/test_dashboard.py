"""``GET /dashboard``: the live A/B page, in process (TestClient) and in a real headless
Chromium against a real Uvicorn server; its numbers are checked against scikit-learn."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import mean_squared_error, precision_score

from tabloop.serve import ab_report, create_app
from tabloop.serve._dashboard import dashboard_view, metric_text, render_dashboard
from tests.serve.conftest import AB, TARGET
from tests.serve.test_app import rows_of
from tests.servers import live_server

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = (
    f"Debian's chromium is missing ({CHROMIUM}): run `make test`, which installs it with "
    "apt-get (or `apt-get install chromium` as root)."
)
KEY = "r" * 24


def upload(post: Any, predictions: list[dict], rows: list[dict], truth: dict, at: range) -> None:
    items = [
        {
            "prediction_id": predictions[i]["prediction_id"],
            "value": int(truth[rows[i]["passenger"]]),
        }
        for i in at
    ]
    answer = post("/outcomes", json={"outcomes": items})
    assert answer.status_code == 200, answer.text


def expected(
    predictions: list[dict], rows: list[dict], truth: dict, name: str, labelled: int
) -> tuple[str, str]:
    """Variant ``name``'s labelled count and precision (sklearn) as the page writes them,
    the first ``labelled`` rows having outcomes."""
    done = [i for i, p in enumerate(predictions[:labelled]) if p["variant"] == name]
    y = [int(truth[rows[i]["passenger"]]) for i in done]
    pred = [predictions[i]["prediction"] for i in done]
    return f"{len(done):,}", f"{precision_score(y, pred, zero_division=0):.3f}"


def metric_cell(page: str, name: str, column: str) -> str:
    """The text of the metrics table's cell ``column`` in the row of variant ``name``."""
    table = re.search(r'<table data-table="metrics">.*?</table>', page, re.S).group(0)
    row = re.search(rf'<tr data-row="{re.escape(name)}">(.*?)</tr>', table, re.S).group(1)
    cell = re.search(rf'<td data-col="{column}"[^>]*><span class="v">(.*?)</span>', row)
    return html_lib.unescape(cell.group(1))


@pytest.fixture
def scenario(registered: dict[str, Any]) -> dict[str, Any]:
    df = registered["df"]
    rows = rows_of(df, 600)
    truth = dict(zip(df["passenger"], df[TARGET], strict=True))
    return {"rows": rows, "truth": truth}


def test_dashboard_shows_labelled_counts_and_precision_equal_to_sklearn(make_config, scenario):
    rows, truth = scenario["rows"], scenario["truth"]
    with TestClient(create_app(make_config(**AB))) as http:
        predictions = http.post("/predict", json={"records": rows}).json()["predictions"]
        upload(http.post, predictions, rows, truth, range(0, 250))
        upload(http.post, predictions, rows, truth, range(250, 500))  # rows 500+ unlabelled
        page = http.get("/dashboard")
        data = http.get("/dashboard/data").json()
        report = http.get("/report").json()
        still = http.get("/dashboard", params={"refresh": 0, "period": "all"})
        negative = http.get("/dashboard", params={"refresh": -1})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    for name in ("A", "B"):
        count, precision = expected(predictions, rows, truth, name, 500)
        assert metric_cell(html, name, "labelled") == count
        assert metric_cell(html, name, "precision") == precision
        assert f'<g data-series="{name}">' in html  # its line in the batch chart
    # offline: no URL at all, nothing loaded by src/href, everything inline
    assert not re.search(r"https?:", html), re.findall(r".{40}https?:.{40}", html)
    # no favicon request, and one same-origin link: the service's monitoring report
    assert re.findall(r"""\b(?:src|href)\s*=\S*""", html) == [
        'href="data:,">',
        'href="monitor?format=html">monitoring',
    ]
    # the JSON twin: the report is /report's, the recent rows are the newest predictions
    assert data["report"] == report
    assert len(data["recent"]) == 20
    index = {p["prediction_id"]: i for i, p in enumerate(predictions)}  # all of one instant
    assert [r["labelled"] for r in data["recent"]] == [
        index[r["prediction_id"]] < 500 for r in data["recent"]
    ]
    assert data["coverage"] == {"predictions": 600, "labelled": 500, "coverage": 500 / 600}
    assert [v["name"] for v in data["variants"]] == ["A", "B"]
    assert data["view"]["tables"]["metrics"]["rows"][0]["key"] == "A"
    # refresh=0 turns the polling off; a negative interval is refused
    assert still.status_code == 200 and '{"refresh": 0' in still.text
    assert 'http-equiv="refresh"' not in still.text
    assert negative.status_code == 422


def test_values_from_models_and_logs_are_escaped():
    nasty = "<img src=x onerror=alert(1)>"
    log = pd.DataFrame(
        {
            "variant": ["A", nasty] * 15,
            "prediction": ["yes", "no"] * 15,
            "outcome": ["no", "no", "yes"] * 10,
            "outcome_batch": pd.array([1] * 30, dtype="Int64"),
        }
    )
    report = ab_report(log, task="binary", classes=["no", "yes"], n_boot=50)
    data = {
        "title": "<b>project</b>",
        "report": {**report.to_dict(), "period": 1},
        "recent": [
            {
                "prediction_id": '"><script>alert(3)</script>',
                "created_at": "2025-01-01T00:00:00+00:00",
                "variant": nasty,
                "model_version": "1",
                "prediction": "<script>alert(4)</script>",
                "score": None,
                "labelled": False,
                "outcome": None,
            }
        ],
        "coverage": {"predictions": 30, "labelled": 30, "coverage": 1.0},
        "variants": [],
        "log_backlog": 0,
        "generated_at": "2025-01-01T00:00:00+00:00",
    }
    page = render_dashboard(data, refresh=5, data_url="dashboard/data?period=</script>", nonce="n")
    assert nasty not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>project" not in page
    assert not re.search(r"<script>alert", page)
    # exactly the page's two script elements, and the settings cannot close theirs
    assert len(re.findall(r"<script\b", page)) == 2
    assert page.count("</script>") == 2


def test_the_page_shows_b_minus_a_entities_and_each_batch_with_interval_and_baseline():
    rng = np.random.default_rng(0)
    n = 240
    customer = [f"c{i % 60}" for i in range(n)]  # 60 customers, 4 predictions each
    variant = ["A" if int(c[1:]) % 2 else "B" for c in customer]
    y = rng.normal(100, 10, n)
    error = np.where(np.array(variant) == "B", 12.0, 4.0) * rng.normal(0, 1, n)
    log = pd.DataFrame(
        {
            "variant": variant,
            "prediction": y + error,
            "outcome": y,
            "outcome_batch": pd.array([1 + (i // 60) % 2 for i in range(n)], dtype="Int64"),
            "customer": customer,
        }
    )
    report = ab_report(log, task="regression", cluster_by="customer", n_boot=200)
    data = {
        "title": "spend",
        "report": {**report.to_dict(), "period": 1},
        "recent": [],
        "coverage": {"predictions": n, "labelled": n, "coverage": 1.0},
        "variants": [],
        "log_backlog": 0,
        "generated_at": "2025-01-01T00:00:00+00:00",
    }
    view = dashboard_view(data)
    (comparison,) = report.comparisons
    assert comparison.better == "A" and comparison.difference > 0  # B's MSE is higher
    table = view["tables"]["comparisons"]
    assert [c["label"] for c in table["columns"]][3] == "variant \u2212 control"
    cells = table["rows"][0]["cells"]
    assert cells["difference"]["v"].startswith("+")  # the JSON's sign, B − A
    assert "(B \u2212 A = +" in cells["verdict"]["v"]
    metrics = view["tables"]["metrics"]
    assert "entities (customer)" in [c["label"] for c in metrics["columns"]]
    assert metrics["rows"][0]["cells"]["entities"]["v"] == "30"
    batches = view["tables"]["batches"]["rows"]
    assert [r["key"] for r in batches] == ["A/1", "A/2", "B/1", "B/2"]
    for row, (name, batch) in zip(batches, [("A", 1), ("A", 2), ("B", 1), ("B", 2)], strict=True):
        part = log[(log["variant"] == name) & (log["outcome_batch"] == batch)]
        mse = mean_squared_error(part["outcome"], part["prediction"])
        base = mean_squared_error(part["outcome"], np.full(len(part), log["outcome"].mean()))
        assert row["cells"]["value"]["v"] == metric_text(mse)
        low, high = map(float, row["cells"]["value"]["sub"].replace(",", "").split(" to "))
        assert low < mse < high
        assert row["cells"]["baseline"]["v"] == metric_text(base)
        assert row["cells"]["entities"]["v"] == str(part["customer"].nunique())
    page = render_dashboard(data, refresh=0, data_url="dashboard/data", nonce="n")
    assert '<table data-table="batches">' in page and "resample entities (customer)" in page


def test_dashboard_needs_a_key_when_the_service_has_keys(make_config):
    keys = {"viewer": {"key": KEY, "roles": ["feedback"]}}
    with TestClient(create_app(make_config(keys=keys))) as http:
        closed = [http.get(p).status_code for p in ("/dashboard", "/dashboard/data")]
        wrong = http.get("/dashboard", headers={"X-API-Key": "w" * 24}).status_code
        page = http.get("/dashboard", headers={"X-API-Key": KEY})
        data = http.get("/dashboard/data", headers={"Authorization": f"Bearer {KEY}"})
    assert closed == [401, 401] and wrong == 401
    assert page.status_code == 200 and data.status_code == 200
    assert KEY not in page.text  # the page never carries the key


# -- a real browser against a real server ---------------------------------------------------
@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(NO_CHROMIUM, pytrace=False)
    return CHROMIUM


@pytest.mark.slow
def test_browser_shows_the_numbers_and_updates_itself_without_reload(
    make_config, scenario, chromium
):
    from playwright.sync_api import expect, sync_playwright

    rows, truth = scenario["rows"], scenario["truth"]
    with live_server(create_app(make_config(**AB))) as base, httpx.Client(base_url=base) as http:
        predictions = http.post("/predict", json={"records": rows}).json()["predictions"]
        upload(http.post, predictions, rows, truth, range(0, 200))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                fetched: list[str] = []
                problems: list[str] = []
                page.on("request", lambda r: fetched.append(r.url))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else 0)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(f"{base}/dashboard?refresh=1")

                def cell(name: str, column: str) -> Any:
                    return page.locator(
                        f'table[data-table="metrics"] tr[data-row="{name}"] '
                        f'td[data-col="{column}"] .v'
                    )

                for name in ("A", "B"):
                    count, precision = expected(predictions, rows, truth, name, 200)
                    expect(cell(name, "labelled")).to_have_text(count)
                    expect(cell(name, "precision")).to_have_text(precision)
                    expect(
                        page.locator(f'#batch-chart g[data-series="{name}"] circle')
                    ).to_have_count(1)
                page.evaluate("window.sameDocument = true")

                upload(http.post, predictions, rows, truth, range(200, 450))
                for name in ("A", "B"):
                    count, precision = expected(predictions, rows, truth, name, 450)
                    expect(cell(name, "labelled")).to_have_text(count, timeout=20_000)
                    expect(cell(name, "precision")).to_have_text(precision)
                    expect(
                        page.locator(f'#batch-chart g[data-series="{name}"] circle')
                    ).to_have_count(2)
                assert page.evaluate("window.sameDocument") is True  # updated, not reloaded
                expect(page.locator("#status")).to_have_text("updates every 1 s")
                assert any(u.startswith(f"{base}/dashboard/data") for u in fetched)
                assert all(u.startswith(f"{base}/") for u in fetched), fetched
                assert problems == []  # no script error, no blocked (external) load

                # with scripts off the first load shows the same numbers
                still = browser.new_context(java_script_enabled=False).new_page()
                still.goto(f"{base}/dashboard")
                count, precision = expected(predictions, rows, truth, "A", 450)
                row = still.locator('table[data-table="metrics"] tr[data-row="A"]')
                expect(row.locator('td[data-col="labelled"] .v')).to_have_text(count)
                expect(row.locator('td[data-col="precision"] .v')).to_have_text(precision)
            finally:
                browser.close()
