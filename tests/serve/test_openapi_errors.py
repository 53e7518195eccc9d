"""The OpenAPI document passes an OpenAPI 3.1 validator, and what it documents is what a real
server answers: each bad request's status is documented for its route and its body
validates against the documented schema (the error body, the report, the v2 answers)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis

from tabloop.serve import create_app
from tests.serve.conftest import AB
from tests.serve.test_app import rows_of
from tests.servers import live_server

pytestmark = pytest.mark.slow

PREDICT, FEEDBACK, ADMIN = "p" * 24, "f" * 24, "a" * 24
KEYS = {
    "frontend": {"key": PREDICT, "roles": ["predict"]},
    "labels": {"key": FEEDBACK, "roles": ["feedback"]},
    "ops": {"key": ADMIN, "roles": ["admin"]},
}


def documented(doc: dict[str, Any], method: str, path: str, answer: httpx.Response) -> None:
    """``answer``'s status is documented for the route and its JSON body fits the schema."""
    responses = doc["paths"][path][method]["responses"]
    status = str(answer.status_code)
    assert status in responses, f"{method} {path} answered {status}, documents {list(responses)}"
    schema = responses[status]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(answer.json())]
    assert errors == [], (method, path, status, answer.text[:300])


@pytest.fixture(scope="module")
def served(registered, tmp_path_factory):
    """A real server with keys, an A/B split and a small body cap; its document."""
    from tests.serve.conftest import project_config

    folder = tmp_path_factory.mktemp("openapi")
    config = project_config(
        registered["uri"],
        folder,
        **AB,
        keys=KEYS,
        max_body_mb=0.05,
        store_url=f"sqlite:///{folder / 'log.db'}",
    )
    with live_server(create_app(config)) as base, httpx.Client(base_url=base) as http:
        yield http, http.get("/openapi.json").json(), base


def test_the_document_is_valid_openapi_and_declares_the_key_schemes(served):
    http, doc, base = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    schema.validate()  # the OpenAPI 3.1 meta-schema, by schemathesis
    broken = copy.deepcopy(doc)
    broken["paths"]["/predict"]["post"]["responses"] = "none"
    with pytest.raises(jsonschema_rs.ValidationError):  # the validator does catch a fault
        schemathesis.openapi.from_dict(broken).validate()
    schemes = doc["components"]["securitySchemes"]  # as the guard reads a key
    assert set(schemes) == {"bearer", "apiKey"}
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    paths = doc["paths"]
    assert paths["/predict"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "'predict'" in paths["/predict"]["post"]["description"]
    assert {"401", "403"} <= set(paths["/outcomes"]["post"]["responses"])
    assert "403" not in paths["/report"]["get"]["responses"]  # any valid key reads it
    assert "security" not in paths["/health/ready"]["get"]  # probes need no key
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_bad_requests_get_the_documented_status_and_error_body(served, registered):
    http, doc, _ = served
    rows = rows_of(registered["df"], 3)
    as_predict = {"X-API-Key": PREDICT}
    as_admin = {"Authorization": f"Bearer {ADMIN}"}
    cases = [
        ("post", "/predict", 401, http.post("/predict", json={"records": rows})),
        (
            "post",
            "/predict",
            403,
            http.post("/predict", json={"records": rows}, headers={"X-API-Key": FEEDBACK}),
        ),
        (
            "post",
            "/predict",
            415,
            http.post(
                "/predict", content=b"age=3", headers={**as_predict, "content-type": "text/plain"}
            ),
        ),
        (
            "post",
            "/predict",
            413,
            http.post("/predict", json={"records": rows * 400}, headers=as_predict),
        ),
        (
            "post",
            "/predict",
            400,
            http.post(
                "/predict", content=b"{", headers={**as_predict, "content-type": "application/json"}
            ),
        ),
        (
            "post",
            "/predict",
            422,
            http.post(
                "/predict", json={"records": [{**rows[0], "age": "forty"}]}, headers=as_predict
            ),
        ),
        (
            "post",
            "/predict/{variant}",
            404,
            http.post("/predict/Z", json={"records": rows}, headers=as_predict),
        ),
        ("get", "/report", 404, http.get("/report", params={"period": 99}, headers=as_admin)),
        ("get", "/report", 422, http.get("/report", params={"period": "soon"}, headers=as_admin)),
        ("get", "/outcomes", 404, http.get("/outcomes", params={"period": 99}, headers=as_admin)),
        (
            "get",
            "/dashboard/data",
            404,
            http.get("/dashboard/data", params={"period": 99}, headers=as_admin),
        ),
        ("get", "/dashboard", 404, http.get("/dashboard", params={"period": 99}, headers=as_admin)),
        ("get", "/monitor", 404, http.get("/monitor", params={"variant": "Z"}, headers=as_admin)),
        (
            "post",
            "/outcomes",
            404,
            http.post(
                "/outcomes",
                json={"outcomes": [{"prediction_id": "nope", "value": 1}]},
                headers=as_admin,
            ),
        ),
        (
            "post",
            "/invocations",
            415,
            http.post(
                "/invocations", content=b"x", headers={**as_predict, "content-type": "text/plain"}
            ),
        ),
        ("get", "/v2/models/{name}", 404, http.get("/v2/models/nope", headers=as_admin)),
        (
            "post",
            "/v2/models/{name}/infer",
            404,
            http.post("/v2/models/nope/infer", json={"inputs": []}, headers=as_predict),
        ),
    ]
    for method, path, status, answer in cases:
        assert answer.status_code == status, (method, path, answer.text)
        documented(doc, method, path, answer)
    # the v2 error body keeps OIP's shape: the message in "error", the code in "code"
    assert cases[-1][3].json()["code"] == "unknown_model"


def test_answers_match_their_documented_models(served, registered):
    http, doc, _ = served
    as_admin = {"X-API-Key": ADMIN}
    rows = rows_of(registered["df"], 40)
    predicted = http.post("/predict", json={"records": rows}, headers=as_admin)
    documented(doc, "post", "/predict", predicted)
    ids = [p["prediction_id"] for p in predicted.json()["predictions"]]
    first = {"outcomes": [{"prediction_id": ids[0], "value": 1}]}
    documented(doc, "post", "/outcomes", http.post("/outcomes", json=first, headers=as_admin))
    conflict = {"outcomes": [{"prediction_id": ids[0], "value": 0}]}
    refused = http.post("/outcomes", json=conflict, headers=as_admin)
    assert refused.status_code == 409
    documented(doc, "post", "/outcomes", refused)
    label = {"outcomes": [{"prediction_id": i, "value": k % 2} for k, i in enumerate(ids[1:])]}
    assert http.post("/outcomes", json=label, headers=as_admin).status_code == 200
    for method, path, url in [
        ("get", "/report", "/report"),
        ("get", "/outcomes", "/outcomes"),
        ("get", "/variants", "/variants"),
        ("get", "/health/ready", "/health/ready"),
        ("get", "/monitor", "/monitor"),
        ("get", "/v2", "/v2"),
        ("get", "/v2/health/ready", "/v2/health/ready"),
        ("get", "/v2/models/{name}", "/v2/models/titanic"),
        ("get", "/v2/models/{name}/ready", "/v2/models/A/ready"),
    ]:
        answer = http.get(url, headers=as_admin)
        assert answer.status_code == 200, (url, answer.text)
        documented(doc, method, path, answer)
    example = doc["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]
    infer = http.post(
        "/v2/models/titanic/infer", json=example["application/json"]["example"], headers=as_admin
    )
    assert infer.status_code == 200, infer.text
    documented(doc, "post", "/v2/models/{name}/infer", infer)
