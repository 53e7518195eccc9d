"""LogWriter: batched background writes; the spool when the database is away; replay once."""

from __future__ import annotations

import fcntl
import json
import threading
import time
from pathlib import Path

import pytest

from tabloop.exceptions import StoreError
from tabloop.store import LogWriter, Store


def _wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _ids(store: Store) -> list[str]:
    return store.predictions(period="all")["prediction_id"].tolist()


def _spool_lines(folder: Path) -> list[dict]:
    files = sorted(folder.glob("spool-*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_2000_records_from_4_threads_land_exactly_once(store, make_record, tmp_path):
    writer = LogWriter(store, spool_dir=tmp_path / "spool", batch_size=128)
    writer.start()

    def submit(part: int) -> None:
        for start in range(part * 500, (part + 1) * 500, 10):
            writer.submit([make_record(i) for i in range(start, start + 10)])

    threads = [threading.Thread(target=submit, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush() is True
    assert (writer.backlog, writer.spooled, writer.last_error) == (0, 0, None)
    assert _ids(store) == [f"p{i:05d}" for i in range(2000)]
    writer.close()
    assert not (tmp_path / "spool").exists()


def test_close_flushes_and_a_closed_writer_refuses_rows(store, make_record, tmp_path):
    writer = LogWriter(store, spool_dir=tmp_path / "spool", interval=5.0)
    writer.start()
    writer.submit([make_record(i) for i in range(50)])
    writer.close()  # does not wait out the 5 s batch interval
    assert len(_ids(store)) == 50
    writer.close()
    with pytest.raises(StoreError, match="log writer .* is closed; 1 prediction"):
        writer.submit([make_record(99)])


def test_without_the_thread_flush_and_close_write_in_the_caller(store, make_record, tmp_path):
    writer = LogWriter(store, spool_dir=tmp_path / "spool")
    writer.submit([make_record(0)])
    assert writer.backlog == 1 and writer.flush() is True
    writer.submit([make_record(1)])
    writer.close()
    assert _ids(store) == ["p00000", "p00001"]


def test_an_unreachable_database_spools_rows_and_replays_them_when_it_is_back(
    make_record, tmp_path
):
    folder = tmp_path / "db"  # does not exist yet: SQLite cannot open the file
    url = f"sqlite:///{folder / 'log.db'}"
    store = Store(url)
    writer = LogWriter(store, spool_dir=tmp_path / "spool", batch_size=20, retry_every=0.1)
    writer.start()
    writer.submit([make_record(i) for i in range(30)])
    writer.submit([make_record(i) for i in range(30, 45)])
    assert writer.flush() is True

    assert (writer.spooled, writer.backlog) == (45, 45)
    assert url in writer.last_error and "unable to open database" in writer.last_error
    lines = _spool_lines(tmp_path / "spool")
    assert [line["prediction_id"] for line in lines] == [f"p{i:05d}" for i in range(45)]
    assert lines[0]["created_at"] == "2026-03-02T09:30:00+00:00"

    folder.mkdir()
    back = Store(url)
    back.open()
    assert _wait_until(lambda: writer.backlog == 0)
    writer.submit([make_record(45)])
    writer.close()
    assert _ids(back) == [f"p{i:05d}" for i in range(46)]
    assert list((tmp_path / "spool").iterdir()) == []
    back.close()
    store.close()


def test_a_spool_left_by_an_earlier_run_is_replayed_exactly_once(store, make_record, tmp_path):
    spool = tmp_path / "spool"
    down = Store("postgresql+psycopg://tabloop:s3cret@127.0.0.1:1/log")  # nothing listens
    writer = LogWriter(down, spool_dir=spool, retry_every=60)
    writer.start()
    writer.submit([make_record(i) for i in range(10)])
    writer.close()  # shutdown with the database away: the rows wait in the spool
    assert "127.0.0.1:1" in writer.last_error and "s3cret" not in writer.last_error
    assert len(_spool_lines(spool)) == 10
    down.close()

    store.insert_predictions([make_record(i) for i in range(4)])  # replayed before a crash
    restarted = LogWriter(store, spool_dir=spool)
    restarted.start()
    assert _wait_until(lambda: restarted.backlog == 0)
    restarted.close()
    assert _ids(store) == [f"p{i:05d}" for i in range(10)]
    assert list(spool.iterdir()) == []


def test_a_torn_spool_line_is_set_aside_and_the_rest_replayed(store, make_record, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    good = [make_record(i).to_json() for i in range(3)]
    (spool / "spool-00000000000000000001-1.jsonl").write_text("\n".join(good) + '\n{"predic')
    writer = LogWriter(store, spool_dir=spool)
    writer.start()
    assert writer.spooled in (0, 4)  # counted until the replay (which may already be done)
    assert _wait_until(lambda: writer.backlog == 0)
    writer.close()
    assert _ids(store) == ["p00000", "p00001", "p00002"]
    assert [p.name for p in spool.iterdir()] == ["spool-00000000000000000001-1.rejected"]


def test_a_spool_file_another_live_process_holds_is_left_alone(store, make_record, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    path = spool / "spool-00000000000000000001-1.jsonl"
    path.write_text(make_record(0).to_json() + "\n")
    with path.open() as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        writer = LogWriter(store, spool_dir=spool)
        writer.start()
        writer.submit([make_record(1)])
        assert writer.flush() is True and writer.backlog == 0
        writer.close()
    assert _ids(store) == ["p00001"] and path.exists()


def test_rows_stay_in_memory_when_neither_database_nor_spool_takes_them(make_record, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    folder = tmp_path / "db"
    url = f"sqlite:///{folder / 'log.db'}"
    store = Store(url)
    writer = LogWriter(store, spool_dir=blocker / "spool", retry_every=0.1)
    writer.start()
    writer.submit([make_record(i) for i in range(5)])
    assert writer.flush(timeout=0.5) is False
    assert (writer.backlog, writer.spooled) == (5, 0)
    assert "cannot spool to" in writer.last_error

    folder.mkdir()
    back = Store(url)
    back.upgrade()
    back.close()
    assert writer.flush() is True and writer.backlog == 0
    writer.close()
    assert _ids(store) == [f"p{i:05d}" for i in range(5)]
    store.close()


def test_invalid_settings_are_refused(store, tmp_path):
    with pytest.raises(ValueError, match="batch_size >= 1"):
        LogWriter(store, spool_dir=tmp_path, batch_size=0)
