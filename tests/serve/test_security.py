"""API keys and roles, the bind guard, and keys kept out of logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tabloop.exceptions import ConfigError
from tabloop.serve import create_app
from tabloop.serve._security import check_bind, load_keys
from tabloop.store import Store
from tests.serve.test_app import rows_of

PREDICT_KEY = "p" * 24
FEEDBACK_KEY = "f" * 24
ADMIN_KEY = "a" * 24
KEYS = {
    "frontend": {"env": "TEST_TABLOOP_PREDICT_KEY", "roles": ["predict"]},
    "labels": {"key": FEEDBACK_KEY, "roles": ["feedback"]},
    "ops": {"key": ADMIN_KEY, "roles": ["admin"]},
}


@pytest.fixture
def http(make_config, monkeypatch):
    monkeypatch.setenv("TEST_TABLOOP_PREDICT_KEY", PREDICT_KEY)
    with TestClient(create_app(make_config(keys=KEYS))) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_key_and_wrong_key_are_401(http, registered):
    body = {"records": rows_of(registered["df"], 1)}
    missing = http.post("/predict", json=body)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = http.post("/predict", json=body, headers=bearer("x" * 24))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["message"]


def test_roles_decide_what_a_key_may_call(http, registered, caplog):
    caplog.set_level(logging.INFO, logger="tabloop")
    body = {"records": rows_of(registered["df"], 1)}
    answer = http.post("/predict", json=body, headers={"X-API-Key": PREDICT_KEY})
    assert answer.status_code == 200
    pid = answer.json()["predictions"][0]["prediction_id"]
    outcome = {"outcomes": [{"prediction_id": pid, "value": 1}]}

    refused = http.post("/outcomes", json=outcome, headers=bearer(PREDICT_KEY))
    assert refused.status_code == 403
    assert "'frontend'" in refused.json()["message"] and "'feedback'" in refused.json()["message"]
    assert http.post("/outcomes", json=outcome, headers=bearer(FEEDBACK_KEY)).status_code == 200
    assert http.post("/predict", json=body, headers=bearer(FEEDBACK_KEY)).status_code == 403
    assert http.post("/admin/reset", headers=bearer(FEEDBACK_KEY)).status_code == 403
    assert http.post("/admin/reset", headers=bearer(ADMIN_KEY)).status_code == 200
    assert http.post("/predict", json=body, headers=bearer(ADMIN_KEY)).status_code == 200
    assert http.get("/report", headers=bearer(PREDICT_KEY)).status_code == 200  # any valid key
    assert http.get("/report").status_code == 401
    assert http.get("/health/live").status_code == 200  # probes need no key
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "403" in logged
    for key in (PREDICT_KEY, FEEDBACK_KEY, ADMIN_KEY):
        assert key not in logged


def test_a_key_variable_that_is_not_set_fails_at_start(make_config, monkeypatch):
    monkeypatch.delenv("TEST_TABLOOP_PREDICT_KEY", raising=False)
    with pytest.raises(ConfigError, match="TEST_TABLOOP_PREDICT_KEY"):
        create_app(make_config(keys=KEYS))


def test_short_key_is_a_config_error(make_config):
    with pytest.raises(ConfigError, match="16"):
        make_config(keys={"x": {"key": "short", "roles": ["predict"]}})


def test_open_service_only_on_loopback(make_config):
    config = make_config()
    keys = load_keys(config)
    assert "127.0.0.1 only" in check_bind("127.0.0.1", keys, insecure=False)
    assert check_bind("::1", keys, insecure=False) is not None
    with pytest.raises(ConfigError, match="--insecure"):
        check_bind("0.0.0.0", keys, insecure=False)
    assert "WARNING" in check_bind("0.0.0.0", keys, insecure=True)
    assert check_bind("0.0.0.0", [object()], insecure=False) is None  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/predict", {"content": b'{"records": [', "headers": {"content-type": "x"}}),
        ("post", "/predict", {"content": b"age=3", "headers": {"content-type": "text/plain"}}),
        ("post", "/outcomes", {"json": {"outcomes": "not a list"}}),
        ("post", "/invocations", {"content": b"{", "headers": {"content-type": "text/csv"}}),
        ("post", "/v2/models/titanic/infer", {"content": b"[1, 2"}),
        ("get", "/report", {"params": {"period": "not-a-period"}}),
        ("get", "/outcomes", {"params": {"limit": "-4"}}),
        ("get", "/monitor", {"params": {"chunk": "99999999999999999999"}}),
        ("get", "/dashboard", {"params": {"refresh": "soon"}}),
    ],
)
def test_the_key_is_checked_before_the_body_or_query_is_read(http, method, path, kwargs):
    answer = getattr(http, method)(path, **kwargs)
    body = answer.json()
    code = body["code"] if path.startswith("/v2") else body["error"]  # OIP's error shape
    assert (answer.status_code, code) == (401, "unauthorized")


def test_a_body_that_is_not_json_is_415_once_the_key_is_valid(http, registered):
    answer = http.post(
        "/predict",
        content=b"sex=male",
        headers={"content-type": "text/plain", **bearer(PREDICT_KEY)},
    )
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"
    assert "'text/plain'" in answer.json()["message"]
    body = {"records": rows_of(registered["df"], 1)}
    typed = http.post(
        "/predict",
        json=body,
        headers={"content-type": "application/json; charset=utf-8", **bearer(PREDICT_KEY)},
    )
    assert typed.status_code == 200


def test_readiness_names_the_database_only_to_a_caller_with_a_key(
    make_config, monkeypatch, tmp_path
):
    monkeypatch.setenv("TEST_TABLOOP_PREDICT_KEY", PREDICT_KEY)
    url = "postgresql+psycopg://tabloop:s3cret@127.0.0.1:1/secretdb"
    config = make_config(keys=KEYS)
    with TestClient(create_app(config)) as client:
        client.app.state.serve.store = Store(url)  # the log's database goes away
        for path in ("/health/ready", "/ping", "/v2/health/ready"):
            anonymous = client.get(path)
            assert anonymous.status_code == 503
            assert "unreachable" in anonymous.text
            assert "127.0.0.1" not in anonymous.text and "secretdb" not in anonymous.text
            keyed = client.get(path, headers=bearer(FEEDBACK_KEY))
            assert keyed.status_code == 503 and "127.0.0.1:1/secretdb" in keyed.text
            assert "s3cret" not in keyed.text
