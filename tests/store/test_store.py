"""Store: round trips, replay-safe inserts, outcome rules, periods, paging, errors."""

from __future__ import annotations

import math
from datetime import timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from tabloop.exceptions import StoreError
from tabloop.store import OutcomeResult, Store
from tests.store.conftest import T0


def test_round_trip_keeps_json_types_and_utc_times(store, make_record):
    paris = timezone(timedelta(hours=2))
    record = make_record(
        0,
        created_at=T0.astimezone(paris),
        entity_id=None,
        request_id=None,
        inputs={"age": 41, "income": 52000.5, "city": "Lyon", "member": True, "note": None},
        context={"channel": "app", "tags": ["a", "b"]},
        prediction="yes",
        score=0.8,
        probabilities={"no": 0.2, "yes": 0.8},
        latency_ms=3.25,
    )
    assert store.insert_predictions([record]) == 1

    log = store.predictions()
    assert list(log.columns) == [
        "prediction_id", "created_at", "period_id", "variant", "model_name", "model_version",
        "entity_id", "request_id", "inputs", "context", "prediction", "score", "probabilities",
        "latency_ms", "outcome", "outcome_batch", "outcome_at",
    ]  # fmt: skip
    row = log.iloc[0]
    assert row["created_at"] == pd.Timestamp(T0)  # 11:30 in Paris is 09:30 UTC
    assert str(log["created_at"].dt.tz) == "UTC"
    assert row["inputs"] == record.inputs
    assert [type(v) for v in row["inputs"].values()] == [int, float, str, bool, type(None)]
    assert row["context"] == {"channel": "app", "tags": ["a", "b"]}
    assert (row["prediction"], row["score"], row["latency_ms"]) == ("yes", 0.8, 3.25)
    assert row["probabilities"] == {"no": 0.2, "yes": 0.8}
    assert (row["period_id"], row["variant"], row["model_version"]) == (1, "A", "3")
    assert pd.isna(row["entity_id"]) and pd.isna(row["request_id"])
    assert pd.isna(row["outcome"]) and row["outcome_batch"] is pd.NA and pd.isna(row["outcome_at"])
    assert str(log["outcome_batch"].dtype) == "Int64"


def test_numbers_stay_numbers_and_nan_inputs_become_null(store, make_record):
    store.insert_predictions(
        [
            make_record(0, prediction=12.5, score=None, inputs={"x": float("nan"), "y": 1}),
            make_record(1, prediction=-3.0, score=None, inputs={"x": 2.0, "y": 2}),
        ]
    )
    log = store.predictions()
    assert log["prediction"].tolist() == [12.5, -3.0]
    assert log["prediction"].dtype == "float64" and log["score"].isna().all()
    assert log["inputs"].tolist() == [{"x": None, "y": 1}, {"x": 2.0, "y": 2}]


def test_empty_log_has_the_same_columns_and_dtypes(store):
    log = store.predictions()
    assert len(log) == 0 and len(log.columns) == 17
    assert str(log["created_at"].dtype).endswith("UTC]")
    assert str(log["outcome_batch"].dtype) == "Int64"


def test_an_id_already_logged_is_skipped(store, make_record):
    assert store.insert_predictions([make_record(i) for i in range(3)]) == 3
    again = [make_record(i) for i in range(5)] + [make_record(4)]  # 0-2 logged, 4 twice
    assert store.insert_predictions(again) == 2
    assert store.predictions()["prediction_id"].tolist() == [f"p{i:05d}" for i in range(5)]
    assert store.insert_predictions([]) == 0


def test_outcomes_are_counted_stored_unchanged_updated_unknown(store, make_record):
    store.insert_predictions([make_record(i) for i in range(4)])

    first = store.record_outcomes([("p00000", "yes"), ("p00001", "no"), ("nope", "yes")])
    assert first == OutcomeResult(batch_id=1, stored=2, unknown=["nope"])
    again = store.record_outcomes([("p00000", "yes"), ("p00001", "no"), ("p00002", "yes")])
    assert again == OutcomeResult(batch_id=2, stored=1, unchanged=2)
    changed = store.record_outcomes([("p00000", "no"), ("p00003", "no")], overwrite=True)
    assert changed == OutcomeResult(batch_id=3, stored=1, updated=1)
    same = store.record_outcomes([("p00000", "no")], overwrite=True)
    assert same == OutcomeResult(batch_id=None, unchanged=1)
    assert store.record_outcomes([]) == OutcomeResult(batch_id=None)

    log = store.predictions().set_index("prediction_id")
    assert log["outcome"].tolist() == ["no", "no", "yes", "no"]
    assert log["outcome_batch"].tolist() == [3, 1, 2, 3]


def test_a_conflict_stores_nothing_of_the_upload(store, make_record):
    store.insert_predictions([make_record(i) for i in range(3)])
    store.record_outcomes([("p00000", "yes")])

    refused = store.record_outcomes([("p00001", "no"), ("p00000", "no"), ("x", "no")])
    assert refused == OutcomeResult(
        batch_id=None,
        unknown=["x"],
        conflicts=[{"id": "p00000", "stored": "yes", "received": "no"}],
    )
    assert store.outcomes()[1] == 1  # p00001 was not stored either
    outcome = store.predictions()["outcome"]
    assert outcome[0] == "yes" and outcome[1:].isna().all()


def test_one_id_twice_with_different_values_is_a_conflict_even_with_overwrite(store, make_record):
    store.insert_predictions([make_record(0), make_record(1)])
    for overwrite in (False, True):
        result = store.record_outcomes(
            [("p00001", 1), ("p00000", 1), ("p00000", 0)], overwrite=overwrite
        )
        assert result.conflicts == [{"id": "p00000", "stored": 1, "received": 0}]
        assert (result.batch_id, result.stored) == (None, 0)
    twice = store.record_outcomes([("p00000", 1), ("p00000", 1.0)])
    assert (twice.stored, twice.conflicts) == (1, [])


def test_json_equality_tells_booleans_and_strings_from_numbers(store, make_record):
    store.insert_predictions([make_record(0), make_record(1)])
    store.record_outcomes([("p00000", 1), ("p00001", "1")])
    result = store.record_outcomes([("p00000", True), ("p00001", 1)])
    assert [c["id"] for c in result.conflicts] == ["p00000", "p00001"]
    assert store.record_outcomes([("p00000", 1.0)]).unchanged == 1


def test_overwrite_moves_the_outcome_to_the_new_batch_and_keeps_received_at(store, make_record):
    store.insert_predictions([make_record(0)])
    store.record_outcomes([("p00000", 10.0)])
    (before,), _ = store.outcomes()
    store.record_outcomes([("p00000", 12.0)], overwrite=True)
    (after,), total = store.outcomes()
    assert total == 1 and (after["value"], after["batch_id"]) == (12.0, 2)
    assert after["received_at"] == before["received_at"] and before["updated_at"] is None
    assert after["updated_at"] >= after["received_at"]


def test_by_entity_labels_the_entitys_predictions_of_the_open_period_only(store, make_record):
    store.insert_predictions([make_record(0, entity_id="c1"), make_record(1, entity_id="old")])
    assert store.reset("second run") == 2
    store.insert_predictions(
        [
            make_record(2, entity_id="c1"),
            make_record(3, entity_id="c1", variant="B"),
            make_record(4, entity_id="c2"),
        ]
    )
    result = store.record_outcomes([("c1", "no"), ("old", "no"), ("zzz", "no")], by="entity_id")
    assert result == OutcomeResult(batch_id=1, stored=2, unknown=["old", "zzz"])

    outcome = store.predictions(period="all").set_index("prediction_id")["outcome"]
    assert outcome.dropna().to_dict() == {"p00002": "no", "p00003": "no"}
    with pytest.raises(ValueError, match="by must be"):
        store.record_outcomes([("c1", "no")], by="request_id")


def test_reset_keeps_old_rows_by_period_and_new_rows_go_to_the_new_period(store, make_record):
    store.insert_predictions([make_record(i) for i in range(3)])
    store.record_outcomes([("p00000", "yes")])
    assert store.current_period() == 1
    assert store.reset("after retrain") == 2
    assert store.current_period() == 2
    store.insert_predictions([make_record(i) for i in range(3, 5)])

    assert store.predictions()["prediction_id"].tolist() == ["p00003", "p00004"]
    assert store.predictions(period=1)["prediction_id"].tolist() == ["p00000", "p00001", "p00002"]
    assert store.predictions(period="all")["period_id"].tolist() == [1, 1, 1, 2, 2]
    periods = store.periods()
    assert [(p["id"], p["note"], p["predictions"], p["labelled"]) for p in periods] == [
        (1, None, 3, 1),
        (2, "after retrain", 2, 0),
    ]
    assert periods[0]["ended_at"] == periods[1]["started_at"] and periods[1]["ended_at"] is None
    with pytest.raises(ValueError, match="period must be"):
        store.predictions(period="current")


def test_outcomes_come_a_page_at_a_time_oldest_first(store, make_record):
    store.insert_predictions([make_record(i, variant="AB"[i % 2]) for i in range(7)])
    store.record_outcomes([(f"p{i:05d}", i) for i in (4, 0, 2)])
    store.record_outcomes([(f"p{i:05d}", i) for i in (1, 3, 5, 6)])

    page, total = store.outcomes(offset=0, limit=3)
    assert total == 7
    assert [o["prediction_id"] for o in page] == ["p00000", "p00002", "p00004"]
    assert page[0] == {
        "prediction_id": "p00000",
        "entity_id": "c0",
        "variant": "A",
        "value": 0,
        "batch_id": 1,
        "received_at": page[0]["received_at"],
        "updated_at": None,
    }
    assert pd.Timestamp(page[0]["received_at"]).tzname() == "UTC"
    rest, _ = store.outcomes(offset=3, limit=3)
    assert [o["prediction_id"] for o in rest] == ["p00001", "p00003", "p00005"]
    last, total = store.outcomes(offset=6, limit=100)
    assert [o["prediction_id"] for o in last] == ["p00006"] and total == 7
    store.reset()
    assert store.outcomes() == ([], 0)
    assert store.outcomes(period=1, limit=1)[1] == store.outcomes(period="all")[1] == 7
    with pytest.raises(ValueError, match="limit >= 1"):
        store.outcomes(limit=0)


def test_predictions_filter_by_time_variant_and_limit(store, make_record):
    store.insert_predictions([make_record(i, variant="AB"[i % 2]) for i in range(6)])
    ids = lambda log: log["prediction_id"].str[-1].astype(int).tolist()  # noqa: E731
    since, until = T0 + timedelta(seconds=2), T0 + timedelta(seconds=5)
    assert ids(store.predictions(since=since, until=until)) == [2, 3, 4]
    assert ids(store.predictions(variant="B")) == [1, 3, 5]
    assert ids(store.predictions(limit=2, newest_first=True)) == [5, 4]
    naive = since.replace(tzinfo=None)  # taken as UTC
    assert ids(store.predictions(since=naive, variant="A")) == [2, 4]


def test_default_url_is_absolute_and_creates_the_folder(in_tmp):
    url = Store.default_url(Path(".tabloop"))
    assert url == f"sqlite:///{in_tmp / '.tabloop' / 'log.db'}"
    assert (in_tmp / ".tabloop").is_dir() and url.startswith("sqlite:////")


def test_unreachable_sqlite_raises_store_error_naming_the_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'log.db'}"
    store = Store(url)
    assert store.ping() is False
    with pytest.raises(StoreError, match=f"prediction log at {url}: unable to open database"):
        store.open()
    store.close()


def test_unreachable_postgres_hides_the_password():
    store = Store("postgresql+psycopg://tabloop:s3cret@127.0.0.1:1/log")
    assert store.url == "postgresql+psycopg://tabloop:***@127.0.0.1:1/log"
    with pytest.raises(StoreError, match=r"tabloop:\*\*\*@127.0.0.1:1/log") as error:
        store.open()
    assert "s3cret" not in str(error.value)
    assert store.ping() is False
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "not a url"])
def test_in_memory_or_malformed_urls_are_refused_before_any_io(url):
    with pytest.raises(StoreError, match="prediction log URL"):
        Store(url)


def test_ping_answers_true_on_a_live_database(store):
    assert store.ping() is True
    assert math.isclose(len(store.periods()), 1)


def _overwrite_inputs(store: Store, prediction_id: str, text: str) -> None:
    """Put JSON ``text`` in a row's inputs as another program (or an older tabloop) could."""
    import sqlalchemy as sa

    cast = "CAST(:raw AS json)" if store.url.startswith("postgresql") else ":raw"
    with store._engine_().begin() as conn:
        conn.execute(
            sa.text(f"UPDATE tabloop_predictions SET inputs = {cast} WHERE prediction_id = :id"),
            {"raw": text, "id": prediction_id},
        )


def test_a_lone_surrogate_is_stored_as_a_question_mark_and_one_read_back_too(store, make_record):
    store.insert_predictions([make_record(0, inputs={"plan": "b\ud800c", "\udfff": 1})])
    assert store.predictions()["inputs"].tolist() == [{"plan": "b?c", "?": 1}]
    store.insert_predictions([make_record(1)])
    _overwrite_inputs(store, "p00001", '{"plan": "x\\ud800", "age": 31}')
    read = store.predictions()["inputs"].tolist()
    assert read[1] == {"plan": "x?", "age": 31}
    pd.DataFrame({"inputs": read}).to_json()  # every string encodes: reports can be written


def test_a_stored_value_that_does_not_parse_reads_as_missing_and_is_reported(
    sqlite_url, make_record, caplog
):
    store = Store(sqlite_url)
    store.open()
    store.insert_predictions([make_record(i) for i in range(3)])
    _overwrite_inputs(store, "p00001", '{"plan": "cut by a disk err')
    frame = store.predictions()
    assert frame["inputs"].tolist() == [make_record(0).inputs, None, make_record(2).inputs]
    assert "does not parse" in caplog.text
    store.close()
