"""MLflow's scoring protocol and the Open Inference Protocol v2 spoken to by their own clients:
bodies built with MLflow's serialisers (answers compared with MLflow's own scoring server
code), and Triton's ``tritonclient`` against a real Uvicorn server. Every answer is checked
against the registered model called directly, and against the log and the A/B report."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tabloop import __version__
from tabloop.registry import load_model
from tabloop.serve import create_app
from tests.serve.conftest import AB, TARGET, project_config
from tests.servers import live_server


@pytest.fixture
def client(make_config):
    def open_client(**serve: Any) -> TestClient:
        return TestClient(create_app(make_config(**serve)))

    return open_client


@pytest.fixture(scope="module")
def models(registered: dict[str, Any]) -> dict[str, Any]:
    config = project_config(registered["uri"])
    return {v: load_model(f"models:/titanic/{v}", config=config)[0] for v in ("1", "2")}


def frame_of(registered: dict[str, Any], n: int, start: int = 0) -> pd.DataFrame:
    return registered["df"].drop(columns=TARGET).iloc[start : start + n].reset_index(drop=True)


# -- MLflow scoring protocol -----------------------------------------------------------------
def mlflow_bodies(df: pd.DataFrame) -> dict[str, str]:
    """Request bodies as MLflow's own client-side helpers write them."""
    from mlflow.models.utils import convert_input_example_to_serving_input as serving_input
    from mlflow.utils.proto_json_utils import dump_input_data

    records = df.to_dict(orient="records")
    with warnings.catch_warnings():  # MLflow's helpers use pandas APIs pandas 3 deprecates
        warnings.simplefilter("ignore")
        return {
            "dataframe_split": serving_input(df),
            "dataframe_split+params": dump_input_data(df, params={"threshold": 0.3}),
            "dataframe_records": json.dumps({"dataframe_records": records}, default=str),
            "inputs records": serving_input(records),
            "inputs columns": serving_input({c: df[c].to_numpy() for c in df.columns}),
            "instances": dump_input_data(records, inputs_key="instances"),
        }


def mlflow_server_answer(uri: str, body: str) -> list[dict[str, Any]]:
    """What ``mlflow models serve`` answers: MLflow's scoring server code on the pyfunc."""
    import mlflow
    from mlflow.pyfunc import scoring_server

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with warnings.catch_warnings():  # MLflow's own deprecations, not ours to fix
            warnings.simplefilter("ignore")
            model = mlflow.pyfunc.load_model("models:/titanic/1")
            answer = scoring_server.invocations(body, "application/json", model, None)
    finally:
        mlflow.set_tracking_uri(previous)
    assert answer.status == 200, answer.response
    return json.loads(answer.response)["predictions"]


def test_mlflow_bodies_get_mlflows_answer_plus_ids_and_are_logged(client, registered, models):
    df = frame_of(registered, 6)
    df.loc[1, "age"] = np.nan  # MLflow's serialisers write a missing value as NaN
    expected = models["1"].predict_proba(df)[:, 1]
    bodies = mlflow_bodies(df)
    reference = mlflow_server_answer(registered["uri"], bodies["dataframe_split"])
    with client() as http:
        for shape, body in bodies.items():
            answer = http.post("/invocations", content=body, headers=AS_JSON)
            assert answer.status_code == 200, (shape, answer.text)
            assert answer.headers["x-model-variant"] == "champion", shape
            assert answer.headers["x-request-id"], shape
            got = answer.json()["predictions"]
            np.testing.assert_allclose([r["probability"] for r in got], expected, rtol=1e-12)
            ours = [{k: v for k, v in r.items() if k not in _IDS} for r in got]
            for mine, theirs in zip(ours, reference, strict=True):
                assert list(mine) == list(theirs), shape  # same columns, same order
                assert mine == _close_to(theirs), shape
            assert {r["model_version"] for r in got} == {"1"}
            http.app.state.serve.writer.flush()
            log = http.app.state.serve.store.predictions().set_index("prediction_id")
            log = log.loc[[r["prediction_id"] for r in got]]
            assert set(log["variant"]) == {"champion"}
            assert list(log["entity_id"]) == list(df["passenger"])
        report = http.get("/report").json()
    assert report["variants"][0]["predictions"] == 6 * len(bodies)


_IDS = ("prediction_id", "variant", "model_version")
JSON = "application/json"
AS_JSON = {"content-type": JSON}


def _close_to(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with NaN as None (JSON's null) and floats compared to 1e-12."""
    close = {k: pytest.approx(v, rel=1e-12) for k, v in record.items() if isinstance(v, float)}
    return {**record, **close, **{k: None for k, v in record.items() if v != v}}  # NaN != NaN


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_csv_and_parquet_bodies(client, registered, models, kind):
    df = frame_of(registered, 5, start=100)
    if kind == "csv":
        body, media = df.to_csv(index=False).encode(), "text/csv; charset=utf-8"
    else:
        body, media = df.to_parquet(index=False), "application/vnd.apache.parquet"
    with client() as http:
        answer = http.post("/invocations", content=body, headers={"content-type": media})
    assert answer.status_code == 200, answer.text
    got = answer.json()["predictions"]
    np.testing.assert_allclose(
        [r["probability"] for r in got], models["1"].predict_proba(df)[:, 1], rtol=1e-12
    )
    assert [r["prediction"] for r in got] == list(models["1"].predict(df))


def test_invocations_follow_the_traffic_split_and_count_in_metrics(client, registered, models):
    df = frame_of(registered, 300)
    body = {"dataframe_split": json.loads(df.to_json(orient="split", index=False))}
    with client(**AB) as http:
        answer = http.post("/invocations", json=body)
        text = http.get("/metrics").text
    got = answer.json()["predictions"]
    assert "x-model-variant" not in answer.headers  # rows went to both variants
    for variant, version in (("A", "1"), ("B", "2")):
        rows = [i for i, r in enumerate(got) if r["variant"] == variant]
        assert rows and {got[i]["model_version"] for i in rows} == {version}
        expected = models[version].predict_proba(df.iloc[rows])[:, 1]
        np.testing.assert_allclose([got[i]["probability"] for i in rows], expected, rtol=1e-12)
        sample = f'tabloop_predictions_total{{model_version="{version}",variant="{variant}"}}'
        assert f"{sample} {float(len(rows))}" in text
    assert 'route="/invocations",status="200"} 1.0' in text


def test_ping_health_and_version(client):
    """/version reads MLflow's own version: the base install has the mlflow-skinny
    distribution only, so asking for the distribution "mlflow" would answer 500."""
    import mlflow

    with client() as http:
        assert http.get("/ping").status_code == 200
        assert http.get("/health").json() == {"status": "ready"}
        answer = http.get("/version").json()
    assert answer == {"tabloop": __version__, "mlflow": mlflow.__version__}


# -- bad input -------------------------------------------------------------------------------
@pytest.fixture
def http(client, registered):
    with client(**AB) as open_client:
        yield open_client
        ok = open_client.post("/invocations", json={"dataframe_records": rows(registered, 1)})
        assert ok.status_code == 200  # whatever came before, the service still answers


def rows(registered: dict[str, Any], n: int) -> list[dict[str, Any]]:
    return json.loads(frame_of(registered, n).to_json(orient="records"))


def tensors(registered: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The rows as OIP tensors in JSON, one per column."""
    df = frame_of(registered, n)
    types = {c: "FP64" if pd.api.types.is_numeric_dtype(df[c]) else "BYTES" for c in df.columns}
    return [dict(name=c, shape=[n], datatype=types[c], data=df[c].tolist()) for c in df.columns]


def test_invalid_json(http):
    for path in ("/invocations", "/v2/models/titanic/infer"):
        answer = http.post(path, content=b'{"inputs": [', headers=AS_JSON)
        assert answer.status_code == 400, path
        assert "not valid JSON" in answer.json()["message"] and "line 1" in answer.json()["message"]
    assert answer.json()["error"] == answer.json()["message"]  # OIP: the message in "error"


def test_wrong_content_type_is_415_naming_the_types(http, registered):
    answer = http.post("/invocations", content=b"age=3", headers={"content-type": "text/plain"})
    body = answer.json()
    assert answer.status_code == 415 and body["error"] == "unsupported_media_type"
    assert "'text/plain'" in body["message"]
    assert "text/csv" in body["message"] and body["error_code"] == "BAD_REQUEST"
    odd = http.post(
        "/invocations", content=b"{}", headers={"content-type": f"{JSON}; format=pandas-split"}
    )
    assert odd.status_code == 415 and "format=pandas-split" in odd.json()["message"]


def test_table_shapes_are_checked_naming_the_field(http, registered):
    both = {"dataframe_records": rows(registered, 1), "instances": rows(registered, 1)}
    answer = http.post("/invocations", json=both)
    assert answer.status_code == 422 and "exactly one of" in answer.json()["message"]
    typo = http.post("/invocations", json={"dataframe_record": rows(registered, 1)})
    assert typo.status_code == 422 and "dataframe_record" in typo.json()["message"]
    columns = {"age": [30, 40], "fare": [7.5]}
    uneven = http.post("/invocations", json={"inputs": columns})
    assert uneven.status_code == 422 and uneven.json()["field"] == "inputs.fare"
    infinity = http.post(
        "/invocations", content=b'{"inputs": [{"age": Infinity}]}', headers=AS_JSON
    )
    assert infinity.status_code == 400 and "Infinity" in infinity.json()["message"]


def test_mismatched_input_lengths(http, registered):
    inputs = tensors(registered, 3)
    inputs[1] = {**inputs[1], "shape": [2], "data": inputs[1]["data"][:2]}
    answer = http.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert answer.status_code == 422
    assert "different lengths" in answer.json()["message"]
    assert f"{inputs[1]['name']!r} has 2" in answer.json()["message"]
    bad_shape = [{**inputs[0], "shape": [5]}, *inputs[1:]]
    answer = http.post("/v2/models/titanic/infer", json={"inputs": bad_shape})
    assert answer.status_code == 422 and answer.json()["field"] == "inputs.0.shape"


@pytest.mark.parametrize("length", [b"\xb9", b"12x", b"99999"])  # b"\xb9" is latin-1 '¹'
def test_a_bad_binary_header_length_is_400(http, registered, length):
    body = json.dumps({"inputs": tensors(registered, 2)}).encode()
    answer = http.post(
        "/v2/models/titanic/infer",
        content=body,
        headers={"content-type": "application/json", "inference-header-content-length": length},
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Inference-Header-Content-Length is")


def test_unknown_column_is_named(http, registered):
    inputs = tensors(registered, 2)
    inputs.append({"name": "fares", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]})
    answer = http.post("/v2/models/A/infer", json={"inputs": inputs})
    body = answer.json()
    assert answer.status_code == 422 and body["field"] == "fares"
    assert "Did you mean 'fare'" in body["message"]
    assert body["code"] == "schema_error" and body["error"] == body["message"]


def test_string_data_in_an_fp64_input(http, registered):
    inputs = tensors(registered, 2)
    age = next(i for i, t in enumerate(inputs) if t["name"] == "age")
    inputs[age]["data"] = [30.0, "forty"]
    answer = http.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert answer.status_code == 422
    assert answer.json()["field"] == f"inputs.{age}.data"
    assert "'age': FP64 but data[1] is 'forty'" in answer.json()["message"]
    inputs[age] = {**inputs[age], "datatype": "BYTES", "data": ["30", "40"]}
    as_text = http.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert as_text.status_code == 422 and "column is numeric" in as_text.json()["message"]


def test_unknown_model_name(http, registered):
    answer = http.post("/v2/models/nope/infer", json={"inputs": tensors(registered, 1)})
    body = answer.json()
    assert answer.status_code == 404 and body["code"] == "unknown_model"
    assert body["error"] == body["message"]  # OIP's error key holds the message
    assert all(s in body["message"] for s in ("'nope'", "'titanic'", "A, B"))
    assert http.get("/v2/models/nope").status_code == 404
    assert http.get("/v2/models/titanic/versions/9/ready").status_code == 404
    assert http.get("/v2/models/A/versions/2").status_code == 404  # A serves version 1


def test_empty_inputs_list(http):
    answer = http.post("/v2/models/titanic/infer", json={"inputs": []})
    assert answer.status_code == 422 and answer.json()["field"] == "inputs"
    assert "'inputs' is empty" in answer.json()["message"]
    empty = http.post("/invocations", json={"dataframe_records": []})
    assert empty.status_code == 422 and empty.json()["field"] == "dataframe_records"


# -- Open Inference Protocol with Triton's client against a real server ----------------------
@pytest.fixture(scope="module")
def server(registered: dict[str, Any], tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("oip")
    app = create_app(
        project_config(registered["uri"], folder, **AB, store_url=f"sqlite:///{folder / 'log.db'}")
    )
    with live_server(app) as base:  # the lifespan (log writer) has run
        yield {"url": base.removeprefix("http://"), "state": app.state.serve}


@pytest.fixture
def triton(server):
    from tritonclient.http import InferenceServerClient

    client = InferenceServerClient(url=server["url"])
    yield client
    client.close()


def triton_inputs(df: pd.DataFrame, *, binary: bool) -> list[Any]:
    from tritonclient.http import InferInput

    out = []
    for column in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[column])
        values = df[column].to_numpy(np.float64 if numeric else np.object_)
        tensor = InferInput(column, [len(df)], "FP64" if numeric else "BYTES")
        out.append(tensor.set_data_from_numpy(values, binary_data=binary))
    return out


def test_triton_client_health_readiness_and_metadata(triton, models):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("titanic") and triton.is_model_ready("B")
    assert triton.is_model_ready("titanic", "2") and not triton.is_model_ready("titanic", "7")
    assert not triton.is_model_ready("nope")
    meta = triton.get_model_metadata("titanic")
    assert (meta["name"], meta["versions"], meta["platform"]) == ("titanic", ["1", "2"], "tabloop")
    kinds = {c.name: c.kind for c in models["1"].schema}
    inputs = {t["name"]: t for t in meta["inputs"]}
    for name, kind in kinds.items():
        assert inputs[name]["datatype"] == ("FP64" if kind == "numeric" else "BYTES"), name
        assert inputs[name]["shape"] == [-1]
    assert inputs["passenger"]["parameters"] == {"optional": True}  # the id column
    outputs = {t["name"]: t for t in meta["outputs"]}
    assert outputs["prediction"]["datatype"] == "INT64"  # survived is 0/1
    assert outputs["probability"] == {"name": "probability", "datatype": "FP64", "shape": [-1]}
    assert outputs["probabilities"]["shape"] == [-1, 2]
    assert outputs["probabilities"]["parameters"]["classes"] == ["0", "1"]
    assert triton.get_model_metadata("A", "1")["versions"] == ["1"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_triton_infer_matches_the_model_and_is_logged_per_variant(
    triton, server, registered, models, binary
):
    df = frame_of(registered, 40, start=200 + 40 * binary)
    result = triton.infer("titanic", triton_inputs(df, binary=binary), request_id="r-1")
    response = result.get_response()
    assert response["id"] == "r-1" and response["model_name"] == "titanic"
    params = response["parameters"]
    probability, prediction = result.as_numpy("probability"), result.as_numpy("prediction")
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (40, 2)
    np.testing.assert_allclose(probabilities[:, 1], probability, rtol=1e-12)
    for variant, version in (("A", "1"), ("B", "2")):
        rows = [i for i, v in enumerate(params["variants"]) if v == variant]
        assert rows, "40 rows at 50/50 all went to one variant"
        expected = models[version].predict_proba(df.iloc[rows])
        np.testing.assert_allclose(probabilities[rows], expected, rtol=1e-9, atol=1e-12)
        assert list(prediction[rows]) == list(models[version].predict(df.iloc[rows]))
        assert {params["model_versions"][i] for i in rows} == {version}
    server["state"].writer.flush()
    log = server["state"].store.predictions().set_index("prediction_id")
    log = log.loc[params["prediction_ids"]]
    assert list(log["variant"]) == params["variants"]
    assert list(log["entity_id"]) == list(df["passenger"])
    np.testing.assert_allclose(log["score"].to_numpy(float), probability, rtol=1e-12)


def test_triton_infer_with_a_version_and_chosen_outputs(triton, server, registered, models):
    from tritonclient.http import InferRequestedOutput

    df = frame_of(registered, 5, start=300)
    before = {v["name"]: v["predictions"] for v in report_of(server)["variants"]}
    result = triton.infer(
        "titanic",
        triton_inputs(df, binary=True),
        model_version="2",
        outputs=[InferRequestedOutput("probability", binary_data=False)],
    )
    response = result.get_response()
    assert response["model_version"] == "2"
    assert [o["name"] for o in response["outputs"]] == ["probability"]
    assert set(response["parameters"]["variants"]) == {"B"}
    np.testing.assert_allclose(
        result.as_numpy("probability"), models["2"].predict_proba(df)[:, 1], rtol=1e-9
    )
    after = {v["name"]: v["predictions"] for v in report_of(server)["variants"]}
    assert (after["A"] - before["A"], after["B"] - before["B"]) == (0, 5)  # in the A/B report


def report_of(server: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"http://{server['url']}/report", timeout=30).json()


def test_triton_client_sees_the_error_message(triton, registered):
    from tritonclient.utils import InferenceServerException

    row = frame_of(registered, 1)
    with pytest.raises(InferenceServerException, match="No model 'nope'"):
        triton.infer("nope", triton_inputs(row, binary=True))
    with pytest.raises(InferenceServerException, match="'fare'.*is missing"):
        triton.infer("titanic", triton_inputs(row.drop(columns="fare"), binary=True))
