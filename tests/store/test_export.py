"""export_log on a real log (SQLite, and PostgreSQL where it runs): Parquet by day, typed
columns read back with pyarrow and compared with values computed from the records."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tabloop.exceptions import StoreError
from tabloop.store import PredictionRecord, Store, export_log
from tests.store.conftest import T0

DAY0 = datetime(2026, 12, 1, tzinfo=UTC)
CODES: list[Any] = [3, "x7", 2.5, None, True, {"a": 1}]


def records() -> list[PredictionRecord]:
    """17 predictions over four UTC days (one day empty), five of them at one instant."""
    hours = [1, 5, 23.5, 24.5, 30, 30, 30, 30, 30, 47.9, 72, 72.5, 80, 90, 95.9, 95.99, 2.25]
    out = []
    for i, hour in enumerate(hours):
        inputs: dict[str, Any] = {
            "age": 20 + i,
            "plan": ["basic", "pro"][i % 2],
            "member": i % 3 == 0,
            "code": CODES[i % len(CODES)],
            "prediction": "shadow",  # named like a log column: never exported as a field
        }
        if i % 4:
            inputs["income"] = 1000.25 * i
        if i == 5:
            inputs["big"] = 123456789012345678901  # beyond int64: text, every digit kept
        elif i % 5 == 0:
            inputs["big"] = i
        out.append(
            PredictionRecord(
                prediction_id=f"q{i:03d}",
                created_at=DAY0 + timedelta(hours=hour),
                variant="AB"[i % 2],
                model_name="churn",
                model_version="7",
                entity_id=f"e{i}",
                request_id=None,
                inputs=inputs,
                # 'age' is also an input (the input's value is kept); 'day' names the partition
                context={"channel": "web" if i % 2 else "app", "age": -1, "day": "monday"},
                prediction="yes" if i % 3 else "no",
                score=i / 20,
                probabilities=None,
                latency_ms=1.0 + i,
            )
        )
    return out


OUTCOMES = {"q001": "yes", "q004": "no", "q009": "yes", "q016": "no"}


@pytest.fixture
def filled(store: Store) -> Store:
    store.insert_predictions(records())
    result = store.record_outcomes(list(OUTCOMES.items()))
    assert result.stored == len(OUTCOMES)
    return store


def read_back(folder: Path) -> pa.Table:
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    return table.sort_by("prediction_id")


def as_text(value: Any) -> str | None:
    """The export's text of a value in a column of mixed kinds, computed independently."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def test_export_writes_one_folder_per_day_with_typed_columns(filled, tmp_path):
    result = export_log(filled, tmp_path / "out", page_rows=3)
    recs = records()
    days = Counter(r.created_at.date().isoformat() for r in recs)
    assert result.rows == len(recs) and result.days == dict(sorted(days.items()))
    folders = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert folders == [f"day={day}" for day in sorted(days)]
    for day, rows in days.items():
        files = list((tmp_path / "out" / f"day={day}").glob("*.parquet"))
        assert sum(pq.read_metadata(f).num_rows for f in files) == rows

    table = read_back(tmp_path / "out")
    by_id = {r.prediction_id: r for r in recs}
    ids = table["prediction_id"].to_pylist()
    assert ids == sorted(by_id)
    got = {name: table[name].to_pylist() for name in table.column_names}
    expect = [by_id[i] for i in ids]
    assert table.schema.field("age").type == pa.int64()
    assert got["age"] == [r.inputs["age"] for r in expect]  # the input, not the context's -1
    assert table.schema.field("income").type == pa.float64()
    assert got["income"] == [r.inputs.get("income") for r in expect]
    assert table.schema.field("plan").type == pa.string()
    assert got["plan"] == [r.inputs["plan"] for r in expect]
    assert table.schema.field("member").type == pa.bool_()
    assert got["member"] == [r.inputs["member"] for r in expect]
    assert table.schema.field("code").type == pa.string()
    assert got["code"] == [as_text(r.inputs["code"]) for r in expect]
    assert got["big"] == [as_text(r.inputs.get("big")) for r in expect]
    assert got["channel"] == [r.context["channel"] for r in expect]
    assert got["prediction"] == [r.prediction for r in expect]
    assert got["score"] == [r.score for r in expect]
    assert got["latency_ms"] == [r.latency_ms for r in expect]
    assert got["variant"] == [r.variant for r in expect]
    assert got["entity_id"] == [r.entity_id for r in expect]
    assert got["created_at"] == [r.created_at for r in expect]
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert got["outcome"] == [OUTCOMES.get(i) for i in ids]
    labelled = [b is not None for b in got["outcome_batch"]]
    assert labelled == [i in OUTCOMES for i in ids]
    assert [str(d) for d in got["day"]] == [r.created_at.date().isoformat() for r in expect]
    assert "probabilities" not in got  # no row has probabilities

    notes = "\n".join(result.notes)
    assert "'code'" in notes and "'big'" in notes and "declared text" in notes
    assert "inputs key 'prediction' not exported" in notes
    assert "context key 'day' not exported" in notes
    manifest = json.loads((tmp_path / "out" / "_tabloop_export.json").read_text())
    assert manifest["rows"] == len(recs) and manifest["columns"]["code"] == "string"


def test_window_since_is_inclusive_and_until_exclusive(filled, tmp_path):
    since, until = DAY0 + timedelta(hours=30), DAY0 + timedelta(hours=72)
    result = export_log(filled, tmp_path / "out", since=since, until=until.isoformat())
    inside = sorted(r.prediction_id for r in records() if since <= r.created_at < until)
    assert read_back(tmp_path / "out")["prediction_id"].to_pylist() == inside
    assert result.rows == len(inside) == 6


def test_rows_sharing_an_instant_are_read_once_across_pages(filled, tmp_path):
    export_log(filled, tmp_path / "out", page_rows=2)  # the five rows at 30h span 3 pages
    ids = read_back(tmp_path / "out")["prediction_id"].to_pylist()
    assert ids == sorted(r.prediction_id for r in records())


def test_a_folder_with_files_is_refused_unless_overwrite(filled, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(StoreError, match="exists and is not empty.*--overwrite"):
        export_log(filled, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    export_log(filled, out, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert read_back(out).num_rows == len(records())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_empty_folder_is_used(filled, tmp_path):
    (tmp_path / "out").mkdir()
    assert export_log(filled, tmp_path / "out").rows == len(records())


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", None, "since 'yesterday' is not an ISO date"),
        (None, "2026-13-01", "until '2026-13-01' is not an ISO date"),
        ("2026-12-03", "2026-12-02", "is not before until"),
        ("2026-12-03", "2026-12-03", "is not before until"),
        ("2027-01-01", None, "holds no predictions from 2027-01-01"),
    ],
)
def test_a_bad_or_empty_window_writes_nothing(filled, tmp_path, since, until, message):
    with pytest.raises(StoreError, match=message):
        export_log(filled, tmp_path / "out", since=since, until=until)
    assert list(tmp_path.iterdir()) == [] or not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_probabilities_are_a_struct_of_one_float_per_class(store, make_record, tmp_path):
    store.insert_predictions(
        [
            make_record(0, prediction="a", probabilities={"a": 0.7, "b": 0.2, "c": 0.1}),
            make_record(1, prediction="c", probabilities={"a": 0.1, "b": 0.3, "c": 0.6}),
        ]
    )
    export_log(store, tmp_path / "out")
    table = read_back(tmp_path / "out")
    assert table.schema.field("probabilities").type == pa.struct(
        [("a", pa.float64()), ("b", pa.float64()), ("c", pa.float64())]
    )
    assert table["probabilities"].to_pylist() == [
        {"a": 0.7, "b": 0.2, "c": 0.1},
        {"a": 0.1, "b": 0.3, "c": 0.6},
    ]


def test_floats_keep_every_digit_and_numbers_as_text_keep_their_json(store, make_record, tmp_path):
    x = 0.1 + 0.2  # 0.30000000000000004
    store.insert_predictions(
        [
            make_record(0, inputs={"x": x, "mixed": x}),
            make_record(1, inputs={"x": 1e-300, "mixed": "t"}),
        ]
    )
    export_log(store, tmp_path / "out")
    table = read_back(tmp_path / "out")
    assert table["x"].to_pylist() == [x, 1e-300]
    assert table["mixed"].to_pylist() == [json.dumps(x), "t"]


def test_keys_with_quotes_dots_and_spaces_keep_their_values(store, make_record, tmp_path):
    odd = ['a"b', "x.y", "with space", "[0]", "ünï"]
    store.insert_predictions(
        [
            make_record(0, inputs={key: 1 for key in odd}, context={}),
            make_record(1, inputs={key: "t" for key in odd[:3]} | {odd[3]: 2.5}, context={}),
        ]
    )
    export_log(store, tmp_path / "out")
    table = read_back(tmp_path / "out")
    for key in odd[:3]:  # numbers and text: text
        assert table[key].to_pylist() == ["1", "t"], key
    assert table["[0]"].to_pylist() == [1.0, 2.5]
    assert table["ünï"].to_pylist() == [1, None]


def test_a_day_with_more_rows_than_a_file_takes_gets_several_parts(store, make_record, tmp_path):
    store.insert_predictions([make_record(i) for i in range(9)])
    # pages of 2 rows; a part takes pages until it holds 3 rows or more: 2+2, 2+2, 1
    result = export_log(store, tmp_path / "out", page_rows=2, file_rows=3)
    day = tmp_path / "out" / f"day={T0.date().isoformat()}"
    parts = sorted(p.name for p in day.iterdir())
    assert parts == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert [pq.read_metadata(day / p).num_rows for p in parts] == [4, 4, 1]
    assert result.rows == 9 and read_back(tmp_path / "out").num_rows == 9
