"""``/openapi.json`` of a real server tells the truth: its request schema and examples are
built from the served models, and each documented example is answered 200."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest

from tabloop.serve import create_app
from tests.serve.conftest import AB
from tests.servers import live_server

pytestmark = pytest.mark.slow
INFER = ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")


def body_example(doc: dict[str, Any], path: str) -> Any:
    return doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]


def path_example(doc: dict[str, Any], path: str, name: str) -> Any:
    parameters = doc["paths"][path]["post"]["parameters"]
    return next((p["example"] for p in parameters if p["name"] == name), None)


def row_validator(doc: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(doc["components"]["schemas"]["Row"])


@pytest.mark.parametrize("serve", [{}, {**AB, "sticky_by": "passenger"}], ids=["one", "ab"])
def test_every_documented_example_is_answered_200(make_config, serve):
    with live_server(create_app(make_config(**serve))) as base, httpx.Client(base_url=base) as http:
        doc = http.get("/openapi.json").json()
        predict = body_example(doc, "/predict")
        assert http.post("/predict", json=predict).status_code == 200
        variants = [v["name"] for v in http.get("/variants").json()["variants"]]
        assert path_example(doc, "/predict/{variant}", "variant") == variants[0]
        for variant in variants:  # the example suits each variant, whatever the split
            answer = http.post(f"/predict/{variant}", json=body_example(doc, "/predict/{variant}"))
            assert answer.status_code == 200, (variant, answer.text)
        answer = http.post("/invocations", json=body_example(doc, "/invocations"))
        assert answer.status_code == 200, answer.text
        for path in INFER:
            url = path.format(
                name=path_example(doc, path, "name"), version=path_example(doc, path, "version")
            )
            answer = http.post(url, json=body_example(doc, path))
            assert answer.status_code == 200, (url, answer.text)
    assert row_validator(doc).is_valid(predict["records"][0])


def test_row_schema_is_the_models_columns_with_their_types_and_categories(make_config, registered):
    with live_server(create_app(make_config(**AB))) as base, httpx.Client(base_url=base) as http:
        doc = http.get("/openapi.json").json()
        row = doc["components"]["schemas"]["Row"]
        example = body_example(doc, "/predict")["records"][0]
        unknown = http.post("/predict", json={"records": [{**example, "colour": "red"}]})
        wrong = http.post("/predict", json={"records": [{**example, "age": "forty"}]})
        fractional = http.post("/predict", json={"records": [{**example, "sibsp": 41.5}]})
        missing = http.post("/predict", json={"records": [{**example, "age": None}]})
    features = [c for c in registered["df"].columns if c not in ("survived", "passenger")]
    assert list(row["properties"]) == [*features, "passenger"]
    assert row["required"] == features  # the id is optional; every model column is needed
    assert row["additionalProperties"] is False
    assert unknown.status_code == 422  # as documented: a column beyond the schema is refused
    assert not row_validator(doc).is_valid({**example, "colour": "red"})
    assert wrong.status_code == 422 and not row_validator(doc).is_valid({**example, "age": "x"})
    df = registered["df"]
    gender = row["properties"]["gender"]
    # version 1 refuses unseen categories: the documented values are exactly the trained ones
    assert sorted(v for v in gender["enum"] if v is not None) == sorted(df["gender"].unique())
    # sibsp trained as whole numbers: documented as any number, as the service takes 41.5
    assert row["properties"]["sibsp"]["type"] == ["number", "null"]
    assert "whole numbers in training" in row["properties"]["sibsp"]["description"]
    assert row_validator(doc).is_valid({**example, "sibsp": 41.5})
    assert fractional.status_code == 200, fractional.text
    # age: a float, never missing in training; one row's missing value is still answered
    assert row["properties"]["age"]["type"] == ["number", "null"]
    assert row_validator(doc).is_valid({**example, "age": None})
    assert missing.status_code == 200, missing.text
    assert row["properties"]["class"]["enum"] == [*sorted(df["class"].unique()), None]
    assert doc["components"]["schemas"]["PredictRequest"]["examples"] == [
        body_example(doc, "/predict")
    ]


def spend_project(tmp_path: Any, **features: Any) -> tuple[Any, Any]:
    """A regression project whose columns a guessed example gets wrong: categories that
    look like numbers ("01" must stay text), digit codes, true/false, dates, missing values;
    its config and data."""
    import numpy as np
    import pandas as pd

    from tabloop.config import config_from_dict

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        {
            "store": rng.choice(["01", "02", "10"], n),
            "tier": rng.choice([1, 2, 3], n).astype(str),
            "member": rng.choice([True, False], n),
            "opened": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "visits": rng.poisson(4, n).astype(float),
        }
    )
    df["spend"] = (
        5 * df["visits"] + 10 * (df["store"] == "01") + 20 * df["member"] + rng.normal(0, 1, n)
    )
    df.loc[::7, "visits"] = np.nan
    raw = {
        "name": "spend",
        "data": {"train": "(memory)", "target": "spend"},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
        "prepare": {"unseen_categories": "error"},
        "features": {"categorical": ["store", "tier"], **features},  # codes, not quantities
        "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        "serve": {"store_url": f"sqlite:///{tmp_path / 'log.db'}"},
    }
    config = config_from_dict(raw)
    config._root = tmp_path
    return config, df


def test_example_of_a_regression_model_with_codes_flags_dates_and_gaps_is_answered_200(
    tmp_path,
):
    from tabloop.registry import register
    from tabloop.train import train

    config, df = spend_project(tmp_path)
    register(train(df, config=config), config=config)
    with live_server(create_app(config)) as base, httpx.Client(base_url=base) as http:
        doc = http.get("/openapi.json").json()
        predict = body_example(doc, "/predict")
        answer = http.post("/predict", json=predict)
        invocations = http.post("/invocations", json=body_example(doc, "/invocations"))
        other = {**predict["records"][0], "store": 10, "tier": "3"}  # the enum's other forms
        also = http.post("/predict", json={"records": [other]})
        gap = http.post("/predict", json={"records": [{**other, "store": None}]})
    assert answer.status_code == 200, (predict, answer.text)
    assert also.status_code == 200, also.text
    assert gap.status_code == 200, gap.text  # a missing category is not an unseen one
    assert invocations.status_code == 200, invocations.text
    row = predict["records"][0]
    properties = doc["components"]["schemas"]["Row"]["properties"]
    assert row["store"] in ("01", "02", "10")  # text that looks like a number stays text
    # categories are compared by key: 10 and "10" are one category, "01" is not 1
    assert properties["store"]["enum"] == ["01", "02", 10, "10", None]
    assert properties["tier"]["enum"] == [1, "1", 2, "2", 3, "3", None]
    assert properties["member"]["type"] == ["boolean", "null"]
    assert row_validator(doc).is_valid(row)
    assert "null" in properties["visits"]["type"]  # missing in training: null is allowed


def test_the_document_follows_a_reload_that_swaps_the_model(tmp_path):
    from tabloop.registry import promote, register
    from tabloop.train import train

    config, df = spend_project(tmp_path)
    register(train(df, config=config), config=config)
    with live_server(create_app(config)) as base, httpx.Client(base_url=base) as http:
        before = http.get("/openapi.json").json()
        smaller, _ = spend_project(tmp_path, drop=["tier", "opened"])
        register(train(df, config=smaller), config=smaller)  # version 2, the challenger
        promote(2, config)
        assert http.post("/admin/reload").json()["changed"]
        after = http.get("/openapi.json").json()
        answer = http.post("/predict", json=body_example(after, "/predict"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["model_version"] == "2"
    assert "tier" in before["components"]["schemas"]["Row"]["required"]
    assert after["components"]["schemas"]["Row"]["required"] == ["store", "member", "visits"]
    assert "tier" not in body_example(after, "/predict")["records"][0]
