"""The documented answers declare exactly the keys the service sends: each response model
validates a real answer, and the keys it declares are the answer's keys at every depth
where it names them, so a key added to a report (``to_dict()``) or to a route's answer
and not to its model fails here. A declared key with a default may be left out."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tabloop.evaluate import ab_report, segment_shares
from tabloop.serve import create_app
from tabloop.serve._responses import ABReport, MonitorReport, SegmentReport
from tests.evaluate.test_ab import binary_log, regression_log
from tests.serve.conftest import AB
from tests.serve.test_app import rows_of


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema``, its ``$ref`` followed inside ``root``."""
    while "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def fits(schema: dict[str, Any], value: Any, root: dict[str, Any]) -> bool:
    definitions = {k: root[k] for k in ("$defs", "components") if k in root}
    return jsonschema_rs.validator_for({**schema, **definitions}).is_valid(value)


def key_differences(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str) -> list[str]:
    """Where ``value``'s keys differ from those ``schema`` declares, at every depth;
    ``root`` holds what ``$ref`` points to (a model's ``$defs``, the document's
    ``components``). Of a union, the branch ``value`` fits is followed."""
    schema = resolve(schema, root)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        fitting = [b for b in branches if fits(b, value, root)]
        assert fitting, f"{at}: fits none of {branches}"
        return key_differences(fitting[0], value, root, at)
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        declared, required = set(schema["properties"]), set(schema.get("required", ()))
        found += [f"{at}.{k}: sent, not declared" for k in sorted(set(value) - declared)]
        found += [f"{at}.{k}: declared, not sent" for k in sorted(required - set(value))]
        for k in sorted(set(value) & declared):
            found += key_differences(schema["properties"][k], value[k], root, f"{at}.{k}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for k, v in value.items():
            found += key_differences(schema["additionalProperties"], v, root, f"{at}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            found += key_differences(schema["items"], v, root, f"{at}[{i}]")
    return found


def model_differences(model: Any, value: Any) -> list[str]:
    """``model`` validates ``value`` and the keys it declares are ``value``'s."""
    model.model_validate(value)
    schema = model.model_json_schema()
    return key_differences(schema, value, schema, model.__name__)


def real_reports() -> dict[str, tuple[Any, dict[str, Any]]]:
    """Reports of logs as the service stores them, by entity or by row, as ``/report``
    sends them (with the period)."""
    binary = binary_log(200)
    binary["customer"] = [f"c{i % 150}" for i in range(len(binary))]
    regression = ab_report(regression_log(100), task="regression", n_boot=50).to_dict()
    by_entity = ab_report(binary, task="binary", cluster_by="customer", n_boot=50).to_dict()
    segments = segment_shares(binary.assign(prediction=binary.index % 3)).to_dict()
    return {
        "regression": (ABReport, {**regression, "period": 1}),
        "binary by entity": (ABReport, {**by_entity, "period": "all"}),
        "segments": (SegmentReport, {**segments, "period": 2}),
    }


@pytest.mark.parametrize("kind", ["regression", "binary by entity", "segments"])
def test_report_models_declare_exactly_the_keys_of_the_reports(kind):
    model, report = real_reports()[kind]
    assert model_differences(model, report) == []
    grown = copy.deepcopy(report)  # the check fails on a key the model lacks
    grown["new_figure"] = 1.0
    assert model_differences(model, grown) == [f"{model.__name__}.new_figure: sent, not declared"]
    del grown["new_figure"], grown["verdict"]
    with pytest.raises(ValidationError, match="verdict"):
        model_differences(model, grown)


def test_a_key_missing_from_a_variant_or_a_comparison_of_the_ab_model_is_found():
    _, report = real_reports()["binary by entity"]
    assert report["cluster_by"] == "customer" and report["comparisons"]
    grown = copy.deepcopy(report)
    grown["variants"][1]["new_count"] = 3
    grown["comparisons"][0]["p_value_adjusted"] = 0.1
    assert model_differences(ABReport, grown) == [
        "ABReport.comparisons[0].p_value_adjusted: sent, not declared",
        "ABReport.variants[1].new_count: sent, not declared",
    ]


@pytest.mark.slow
def test_every_documented_answer_of_a_real_service_has_the_declared_keys(make_config, registered):
    """Predictions, outcomes, the A/B report by entity, the monitor report, readiness and
    the Open Inference Protocol answers of one service, against its own document."""
    config = make_config(**AB, sticky_by="passenger")
    with TestClient(create_app(config)) as http:
        doc = http.get("/openapi.json").json()
        rows = rows_of(registered["df"], 60)
        predicted = http.post("/predict", json={"records": rows})
        ids = [p["prediction_id"] for p in predicted.json()["predictions"]]
        labels = {"outcomes": [{"prediction_id": i, "value": k % 2} for k, i in enumerate(ids)]}
        answers = [
            ("post", "/predict", predicted),
            ("post", "/outcomes", http.post("/outcomes", json=labels)),
            ("post", "/invocations", http.post("/invocations", json={"dataframe_records": rows})),
        ]
        for path, url in [
            ("/report", "/report"),
            ("/outcomes", "/outcomes?limit=5"),
            ("/variants", "/variants"),
            ("/health/ready", "/health/ready"),
            ("/monitor", "/monitor"),
            ("/v2", "/v2"),
            ("/v2/health/live", "/v2/health/live"),
            ("/v2/health/ready", "/v2/health/ready"),
            ("/v2/models/{name}", "/v2/models/titanic"),
            ("/v2/models/{name}/ready", "/v2/models/A/ready"),
        ]:
            answers.append(("get", path, http.get(url)))
        infer = doc["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]
        example = infer["application/json"]["example"]
        answers.append(
            ("post", "/v2/models/{name}/infer", http.post("/v2/models/titanic/infer", json=example))
        )
    differences = []
    for method, path, answer in answers:
        assert answer.status_code == 200, (path, answer.text[:300])
        schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        body = answer.json()
        assert fits(schema["schema"], body, doc), (method, path)
        differences += key_differences(schema["schema"], body, doc, f"{method} {path}")
    assert differences == []
    sent = {path: answer.json() for _, path, answer in answers}
    assert sent["/report"]["cluster_by"] == "passenger" and sent["/report"]["comparisons"]
    assert model_differences(ABReport, sent["/report"]) == []
    assert model_differences(MonitorReport, sent["/monitor"]) == []
