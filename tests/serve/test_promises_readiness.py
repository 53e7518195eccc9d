"""README: ``/health/ready`` (and MLflow's ``/ping``) answer 503 with the reason while the
prediction log's database is away, and 200 again once it is back. The database is a real
PostgreSQL server of the test's own, stopped and started under the running service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tabloop.serve import create_app

WAIT_S = 120  # the longest a probe may take to follow the database; never reached when healthy


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """tests/store/conftest.py's server of the test's own (a fixture there, so made here)."""
    from tests.store.conftest import running_own_postgres

    yield from running_own_postgres()


def wait_for(http: TestClient, status: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while http.get("/health/ready").status_code != status:
        if time.monotonic() > deadline:
            pytest.fail(f"/health/ready never answered {status} within {WAIT_S} s")
        time.sleep(0.2)


@pytest.mark.slow
def test_ready_and_ping_are_503_with_the_reason_while_the_log_is_away(make_config, own_postgres):
    config = make_config(store_url=own_postgres.url)
    with TestClient(create_app(config)) as http:
        assert http.get("/health/ready").status_code == 200
        assert http.get("/ping").status_code == 200

        own_postgres.stop()
        try:
            wait_for(http, 503)
            ready = http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["status"] == "not ready"
            assert any("log database unreachable" in p for p in ready.json()["problems"])
            ping = http.get("/ping")
            assert ping.status_code == 503
            assert ping.json()["error"] == "not_ready"
            assert "log database unreachable" in ping.json()["message"]
        finally:
            own_postgres.start()

        wait_for(http, 200)
        assert http.get("/health/ready").json()["problems"] == []
        assert http.get("/ping").json() == {"status": "ready"}
