"""The OpenAPI spec fuzzed with schemathesis: whatever a client sends, no 5xx.

Schemathesis generates requests from ``/openapi.json`` (valid and invalid bodies, odd query
values, wrong types) against the real app in process. The only check is the one the service
promises: a bad request is a 4xx with a JSON body, never a server error.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tabloop.serve import create_app
from tests.serve.conftest import AB

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(registered: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.serve.conftest import project_config

    folder = tmp_path_factory.mktemp("fuzz")
    config = project_config(
        registered["uri"], folder, **AB, store_url=f"sqlite:///{folder / 'log.db'}"
    )
    application = create_app(config)
    with TestClient(application):  # runs the lifespan: the log writer is up for the session
        yield application


def test_no_request_gets_a_server_error(app: Any) -> None:
    # schemathesis' pytest plugin does not run under this pytest; drive its Hypothesis
    # strategies directly, one operation at a time
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /predict", "POST /outcomes", "GET /report"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body, dict) and body.get("message"), response.text

        check()
