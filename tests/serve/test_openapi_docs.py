"""``/docs`` (Swagger UI) works offline: its scripts and styles come from the service
itself, checked in process and in a real headless Chromium whose every request outside the
server is aborted. ``/redoc`` is off (ReDoc fetches its logo from a CDN)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tabloop.serve import create_app
from tests.serve.test_dashboard import chromium  # noqa: F401  (fixture)
from tests.servers import live_server

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_docs_page_loads_its_files_from_the_service_and_redoc_is_off(make_config):
    with TestClient(create_app(make_config())) as http:
        assert http.get("/redoc").status_code == 404
        html = http.get("/docs")
        assert html.status_code == 200, html.text
        assets = ASSET.findall(html.text)
        assert assets, html.text
        for url in assets:
            assert url.startswith("/docs/static/"), url  # no CDN, no other host
            answer = http.get(url)
            assert answer.status_code == 200, url
            assert len(answer.content) > 1000, url


def _open_offline(browser: Any, base: str, path: str) -> tuple[Any, list[str], list[str]]:
    """A page at ``base + path`` whose requests elsewhere are aborted and recorded."""
    page = browser.new_page()
    page.set_default_timeout(300_000)  # a guard against a hang, not a limit on a busy machine
    outside: list[str] = []
    problems: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(f"{base}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}{path}")
    return page, outside, problems


@pytest.mark.slow
def test_swagger_ui_renders_the_operations_with_the_network_off(
    make_config,
    chromium,  # noqa: F811
):
    from playwright.sync_api import expect, sync_playwright

    with live_server(create_app(make_config())) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page, outside, problems = _open_offline(browser, base, "/docs")
            expect(page.locator(".opblock-summary-path[data-path='/predict']")).to_have_count(
                1, timeout=300_000
            )
            assert page.locator(".opblock").count() >= 20  # every operation is listed
            assert outside == [] and problems == []

            # "Try it out" on POST /predict sends the documented example: the model answers
            operation = page.locator("#operations-predict-predict_predict_post")
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            status = operation.locator(".live-responses-table .response .response-col_status")
            expect(status.first).to_have_text("200", timeout=300_000)
            expect(operation.locator(".live-responses-table")).to_contain_text("prediction_id")
            assert outside == [] and problems == []
        finally:
            browser.close()
