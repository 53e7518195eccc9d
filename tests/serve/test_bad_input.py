"""Every kind of bad request gets a 4xx JSON body naming the field and the problem, and the
service keeps serving afterwards."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tabloop.exceptions import ConfigError, StoreOutdatedError
from tabloop.serve import create_app
from tests.serve.conftest import AB
from tests.serve.test_app import rows_of


@pytest.fixture
def http(make_config, registered):
    with TestClient(create_app(make_config(**AB, max_rows=5, max_body_mb=0.05))) as client:
        yield client
        # whatever came before, a good request still works
        ok = client.post("/predict", json={"records": rows_of(registered["df"], 1)})
        assert ok.status_code == 200


def post(http: TestClient, path: str, body: Any = None, **kw: Any) -> Any:
    return http.post(path, json=body, **kw) if body is not None else http.post(path, **kw)


def test_invalid_json(http):
    answer = post(
        http, "/predict", content=b'{"records": [', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_json"
    assert "line 1" in answer.json()["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused(http, registered, literal):
    row = rows_of(registered["df"], 1)[0]
    text = (
        '{"records": [{'
        + ", ".join(
            f'"{k}": {literal if k == "fare" else __import__("json").dumps(v)}'
            for k, v in row.items()
        )
        + "}]}"
    )
    answer = post(
        http, "/predict", content=text.encode(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert literal.lstrip("-") in answer.json()["message"] and "null" in answer.json()["message"]


def test_missing_column_is_named(http, registered):
    row = rows_of(registered["df"], 1)[0]
    del row["age"]
    answer = post(http, "/predict", {"records": [row]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "schema_error" and body["field"] == "age"
    assert "'age'" in body["message"] and "missing" in body["message"]


def test_extra_column_is_named_with_a_suggestion(http, registered):
    row = rows_of(registered["df"], 1)[0]
    row["fares"] = 3
    answer = post(http, "/predict", {"records": [row]})
    assert answer.status_code == 422
    assert answer.json()["field"] == "fares"
    assert "Did you mean 'fare'" in answer.json()["message"]


def test_training_columns_a_model_does_not_read_are_accepted_and_logged(http, registered):
    row = rows_of(registered["df"], 1)[0]  # carries parch, which version 2 was trained without
    answer = post(http, "/predict/B", {"records": [row]})
    assert answer.status_code == 200
    state = http.app.state.serve
    state.writer.flush()
    logged = state.store.predictions()
    assert logged["inputs"].iloc[-1]["parch"] == row["parch"]
    assert "parch" not in state.variants["B"].model.inputs


def test_string_in_numeric_column_names_column_row_and_value(http, registered):
    rows = rows_of(registered["df"], 3)
    rows[2]["age"] = "forty"
    answer = post(http, "/predict", {"records": rows})
    assert answer.status_code == 422
    problem = answer.json()["problems"][0]
    assert (problem["field"], problem["problem"], problem["row"], problem["value"]) == (
        "age",
        "wrong_type",
        2,
        "forty",
    )


def test_unseen_category_follows_each_models_policy(http, registered):
    row = rows_of(registered["df"], 1)[0]
    row["embarked"] = "Atlantis"
    refused = post(http, "/predict/A", {"records": [row]})  # version 1: unseen_categories: error
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["problem"] == "unseen_category"
    assert "Atlantis" in refused.json()["message"]
    accepted = post(http, "/predict/B", {"records": [row]})  # version 2: ignore
    assert accepted.status_code == 200


def test_empty_records(http):
    answer = post(http, "/predict", {"records": []})
    assert answer.status_code == 422 and answer.json()["field"] == "records"


def test_too_many_rows_says_the_limit(http, registered):
    answer = post(http, "/predict", {"records": rows_of(registered["df"], 50)})  # 10x max_rows
    assert answer.status_code == 413
    assert "50 rows" in answer.json()["message"] and "serve.max_rows" in answer.json()["message"]


def test_body_over_the_size_limit(http, registered):
    big = {"records": [{**rows_of(registered["df"], 1)[0], "note": "x" * 60_000}]}  # > 0.05 MB
    answer = post(http, "/predict", big)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large" and "52,428 bytes" in answer.json()["message"]


def test_unknown_variant(http, registered):
    answer = post(http, "/predict/C", {"records": rows_of(registered["df"], 1)})
    assert answer.status_code == 404
    assert "'C'" in answer.json()["message"] and "A, B" in answer.json()["message"]


def test_two_table_shapes_at_once(http, registered):
    rows = rows_of(registered["df"], 1)
    answer = post(http, "/predict", {"records": rows, "dataframe_records": rows})
    assert answer.status_code == 422 and "one of" in answer.json()["message"]


def test_wrong_body_type(http):
    answer = post(http, "/predict", {"records": "age=3"})
    assert answer.status_code == 422 and answer.json()["field"] == "records"


def test_outcome_for_unknown_prediction_and_bad_shapes(http):
    unknown = post(http, "/outcomes", {"outcomes": [{"prediction_id": "missing", "value": 1}]})
    assert unknown.status_code == 404 and unknown.json()["problems"] == [
        {"field": "missing", "problem": "unknown"}
    ]
    both = post(http, "/outcomes", {"outcomes": [{"prediction_id": "x", "id": "p1", "value": 1}]})
    assert both.status_code == 422 and "exactly one" in both.json()["message"]
    mixed = post(
        http,
        "/outcomes",
        {"outcomes": [{"prediction_id": "x", "value": 1}, {"id": "p1", "value": 1}]},
    )
    assert mixed.status_code == 422 and mixed.json()["error"] == "mixed_keys"


@pytest.mark.parametrize("path", ["/report", "/dashboard", "/dashboard/data"])
@pytest.mark.parametrize("period", ["¹", "٣"])  # str.isdigit() is True, int() refuses '¹'
def test_a_period_in_non_ascii_digits_is_422(http, path, period):
    answer = http.get(path, params={"period": period})
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("period must be a number")


def test_bad_period(http):
    answer = http.get("/report", params={"period": "last"})
    assert answer.status_code == 422 and "'last'" in answer.json()["message"]


def test_unknown_path_is_a_json_404(http):
    answer = http.get("/nowhere")
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_outdated_log_refuses_to_start_naming_the_command(make_config, tmp_path):
    import sqlalchemy as sa

    from tabloop.store._migrate import upgrade  # the store's own Alembic settings

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        upgrade(connection, "0001")  # a log made by the first release
    engine.dispose()
    with pytest.raises(StoreOutdatedError, match="tabloop store upgrade"):
        create_app(make_config(store_url=url))


def test_context_column_that_is_a_feature_is_refused(make_config):
    with pytest.raises(ConfigError, match="serve.context: column 'age'"):
        create_app(make_config(context=["age"]))


def test_traffic_naming_an_unknown_variant_is_a_config_error(make_config):
    with pytest.raises(ConfigError, match="traffic names variant 'C'"):
        make_config(variants=AB["variants"], traffic={"A": 1, "C": 1})


def _raw(http: TestClient, path: str, text: str, content_type: str = "application/json") -> Any:
    return http.post(path, content=text.encode(), headers={"content-type": content_type})


def _records_with(row: dict[str, Any], column: str, literal: str) -> str:
    """A records body whose ``column`` holds ``literal`` as written (JSON text)."""
    values = [f'"{k}": {literal if k == column else json.dumps(v)}' for k, v in row.items()]
    return '{"records": [{' + ", ".join(values) + "}]}"


@pytest.mark.parametrize("literal", ["1e309", "-1e309", "9" * 400, "-" + "9" * 30])
def test_numbers_that_overflow_are_422_naming_the_field_on_every_shape(http, registered, literal):
    row = rows_of(registered["df"], 1)[0]
    answer = _raw(http, "/predict", _records_with(row, "fare", literal))
    assert (answer.status_code, answer.json()["field"]) == (422, "records.0.fare")
    assert "64" in answer.json()["message"]

    columns = list(row)
    data = [literal if c == "fare" else json.dumps(row[c]) for c in columns]
    table = f'{{"columns": {json.dumps(columns)}, "data": [[{", ".join(data)}]]}}'
    split = f'{{"dataframe_split": {table}}}'
    answer = _raw(http, "/predict", split)
    where = f"dataframe_split.data.0.{columns.index('fare')}"
    assert (answer.status_code, answer.json()["field"]) == (422, where)
    answer = _raw(http, "/invocations", split)
    assert (answer.status_code, answer.json()["field"]) == (422, where)
    assert http.get("/outcomes", params={"period": "all"}).json()["total"] == 0


def test_an_integer_longer_than_python_reads_is_422(http, registered):
    row = rows_of(registered["df"], 1)[0]
    answer = _raw(http, "/predict", _records_with(row, "fare", "9" * 5000))
    assert answer.status_code == 422 and "4,300 digits" in answer.json()["message"]


def test_an_infinite_value_in_a_csv_body_is_422_naming_the_column(http, registered):
    frame = registered["df"].drop(columns="survived").head(2).assign(fare=["1e309", "3.5"])
    answer = _raw(http, "/invocations", frame.to_csv(index=False), "text/csv")
    assert answer.status_code == 422 and answer.json()["field"] == "fare"
    assert "finite number" in answer.json()["message"] and "row 0" in answer.json()["message"]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\ud83d"])
def test_a_lone_surrogate_is_422_and_never_logged(http, registered, escape):
    row = rows_of(registered["df"], 1)[0]
    answer = _raw(http, "/predict", _records_with(row, "gender", f'"{escape}"'))
    assert (answer.status_code, answer.json()["field"]) == (422, "records.0.gender")
    assert "Unicode" in answer.json()["message"]
    pair = _raw(http, "/predict", _records_with(row, "passenger", '"p\\ud83d\\ude00"'))
    assert pair.status_code == 200  # a valid pair (an emoji) is fine in a free-text column


def test_a_chunk_too_large_for_any_window_is_one_chunk_or_a_422(http, registered):
    answer = post(http, "/predict", {"records": rows_of(registered["df"], 5)})
    assert answer.status_code == 200
    # the 50/50 split may send all five rows to one arm: monitor the arm that has them
    variant = answer.json()["predictions"][0]["variant"]
    rows = http.get("/monitor", params={"chunk": "99999999999999999999", "variant": variant})
    assert rows.status_code == 200, rows.text
    span = http.get("/monitor", params={"chunk": "99999999999999999999d"})
    assert span.status_code == 422 and "292 years" in span.json()["message"]


def test_no_stored_row_can_make_monitoring_fail(http, registered):
    from tests.store.test_store import _overwrite_inputs

    answers = post(http, "/predict", {"records": rows_of(registered["df"], 5)}).json()
    ids = [a["prediction_id"] for a in answers["predictions"]]
    store = http.app.state.serve.store
    http.app.state.serve.writer.flush()
    _overwrite_inputs(store, ids[0], '{"gender": "\\ud800", "age": 30}')
    _overwrite_inputs(store, ids[1], '{"gender": "cut')
    report = http.get("/monitor")
    assert report.status_code == 200, report.text
    assert http.get("/monitor", params={"format": "html"}).status_code == 200


def test_a_number_that_overflows_once_scaled_is_422_naming_the_column(http, registered):
    """Found by the fuzz test: the largest float in parch (standard deviation below 1)
    overflows in the linear model's scaling; it was a 500."""
    row = {**rows_of(registered["df"], 1)[0], "parch": sys.float_info.max}
    for rows in ([row], [row, rows_of(registered["df"], 1)[0]]):  # the request path, a batch
        answer = post(http, "/predict/A", {"records": rows})
        assert answer.status_code == 422, answer.text
        assert answer.json()["message"].startswith("Column 'parch' holds 1.7976931348623157e+308")
    assert post(http, "/predict/B", {"records": [row]}).status_code == 200  # B has no parch
