"""The typed reader: a window cut into ranges that cover every row once, each read as the
same typed frame, and the monitor's frame unchanged through it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tabloop.monitor.production import from_log
from tabloop.store import LOG_COLUMNS, LogRange, LogSchema, log_schema, read_range, split_log
from tests.store.conftest import T0


@pytest.fixture
def logged(store, make_record):
    """40 predictions, 10 at each of four instants, inputs of fixed kinds, some labelled."""
    records = []
    for i in range(40):
        inputs = {"age": 30 + i, "plan": "pro" if i % 3 else "basic", "member": i % 2 == 0}
        if i % 4:
            inputs["income"] = 100.5 * i
        records.append(
            make_record(
                i,
                created_at=T0 + timedelta(minutes=i // 10),
                variant="AB"[i % 2],
                inputs=inputs,
                context={"channel": "web", "age": 0},
                prediction=["yes", "no"][i % 2],
                score=i / 40,
            )
        )
    store.insert_predictions(records)
    store.record_outcomes([(f"p{i:05d}", "yes") for i in range(0, 40, 3)])
    return store


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_ranges_cover_every_row_of_the_window_once(logged, parts):
    ranges = split_log(logged, parts=parts)
    assert 1 <= len(ranges) <= min(parts, 4)  # rows of one instant stay in one range
    assert sum(r.rows for r in ranges) == 40
    for left, right in zip(ranges, ranges[1:], strict=False):
        assert left.until == right.since
    schema = log_schema(logged, ranges)
    frames = [read_range(logged, r, schema=schema, page_rows=4) for r in ranges]
    assert [len(f) for f in frames] == [r.rows for r in ranges]
    ids = pd.concat(frames)["prediction_id"].tolist()
    assert ids == [f"p{i:05d}" for i in range(40)]
    assert all(list(f.dtypes) == list(frames[0].dtypes) for f in frames)


def test_a_range_of_one_variant_and_a_window(logged):
    since, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    ranges = split_log(logged, since=since, until=until, variant="B", parts=2)
    frame = pd.concat([read_range(logged, r) for r in ranges])
    expected = [f"p{i:05d}" for i in range(10, 30) if i % 2]
    assert frame["prediction_id"].tolist() == expected
    assert split_log(logged, since=T0 + timedelta(days=1), parts=3) == []


def test_a_range_reads_as_typed_columns(logged):
    frame = read_range(logged, LogRange(None, None))
    assert list(frame.columns) == [c for c in LOG_COLUMNS if c != "probabilities"] + [
        "age",
        "plan",
        "member",
        "income",
        "channel",
    ]
    assert frame["age"].dtype == "int64" and frame["member"].dtype == "bool"
    assert frame["income"].dtype == "float64"
    np.testing.assert_array_equal(
        frame["income"].to_numpy(), [np.nan if i % 4 == 0 else 100.5 * i for i in range(40)]
    )
    assert frame["age"].tolist() == [30 + i for i in range(40)]  # the input, not context's 0
    assert frame["outcome"].tolist() == ["yes" if i % 3 == 0 else np.nan for i in range(40)]
    assert str(frame["outcome_batch"].dtype) == "Int64"
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame["created_at"].iloc[-1] == pd.Timestamp(T0 + timedelta(minutes=3))


def test_the_monitor_frame_is_the_same_through_the_typed_reader(logged):
    old = from_log(logged.predictions(period="all"))
    typed = read_range(
        logged,
        LogRange(None, None),
        columns=[
            "prediction_id",
            "created_at",
            "variant",
            "model_name",
            "model_version",
            "entity_id",
            "prediction",
            "score",
            "outcome",
        ],  # fmt: skip
    )
    new = from_log(typed)
    assert list(new.columns) == list(old.columns)
    pd.testing.assert_frame_equal(new, old)


def test_schemas_of_ranges_combine_into_the_window_schema(logged):
    ranges = split_log(logged, parts=4)
    whole = log_schema(logged, ranges)
    combined = LogSchema.combine(log_schema(logged, [r]) for r in ranges)
    assert combined == whole
    assert whole.first[:3] == (("inputs", "age"), ("inputs", "plan"), ("inputs", "member"))
    assert whole.kinds[("inputs", "income")] == frozenset({"real"})


def test_stored_text_that_is_not_json_reads_as_missing(sqlite_url, make_record, caplog):
    from tabloop.store import Store

    store = Store(sqlite_url)
    store.open()
    store.insert_predictions([make_record(i) for i in range(3)])
    with store._engine_().begin() as conn:  # a row damaged outside tabloop
        damage = "UPDATE tabloop_predictions SET inputs = '{\"age\": 4' WHERE prediction_id = :id"
        conn.execute(sa.text(damage), {"id": "p00001"})
    frame = read_range(store, LogRange(None, None))
    store.close()
    assert frame["age"].tolist()[0::2] == [30, 32] and pd.isna(frame["age"].iloc[1])
    assert frame["prediction_id"].tolist() == ["p00000", "p00001", "p00002"]
    assert "p00001" in caplog.text
