"""LogWriter: batched background writes; the spool when the database is away; replay once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tabloop.exceptions import LogFullError, StoreError
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


# -- back-pressure, full and read-only disks -------------------------------------------------
def _down_store(tmp_path: Path) -> tuple[Store, Path]:
    """A SQLite log in a folder that does not exist yet: every write fails until it does."""
    folder = tmp_path / "db"
    return Store(f"sqlite:///{folder / 'log.db'}"), folder


def _bring_up(folder: Path) -> None:
    folder.mkdir()
    back = Store(f"sqlite:///{folder / 'log.db'}")
    back.upgrade()
    back.close()


@contextlib.contextmanager
def _small_disk(folder: Path, kib: int = 16) -> Iterator[str]:
    """``folder`` on a ``kib`` KiB filesystem: a tmpfs when the tests run as root (and may
    mount), else a per-file size limit (RLIMIT_FSIZE) on this process. Yields which."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)]
    if os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0:
        try:
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, hard))
    try:
        yield "rlimit"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_backlog_refuses_rows_and_queues_none_of_them(make_record, tmp_path):
    store, _ = _down_store(tmp_path)
    writer = LogWriter(store, spool_dir=tmp_path / "spool", max_backlog=25)  # no thread yet
    writer.submit([make_record(i) for i in range(20)])
    with pytest.raises(LogFullError, match="20 rows behind .*max_backlog is 25") as refused:
        writer.submit([make_record(i) for i in range(20, 30)])
    assert (refused.value.reason, refused.value.retry_after) == ("backlog_full", 1.0)
    assert isinstance(refused.value, StoreError)
    ticket = writer.submit([make_record(i) for i in range(20, 25)])  # exactly full is fine
    assert (ticket, writer.backlog, writer.refused) == (25, 25, 10)


def test_rows_are_refused_while_nothing_takes_them_and_the_outage_is_logged_once(
    make_record, tmp_path, caplog
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store, folder = _down_store(tmp_path)
    writer = LogWriter(store, spool_dir=blocker / "spool", retry_every=0.05)
    writer.start()
    ticket = writer.submit([make_record(i) for i in range(5)])
    assert writer.wait(ticket) is False  # as soon as it is known: not after a timeout
    assert writer.stuck
    with pytest.raises(LogFullError, match="neither its database nor its spool") as refused:
        writer.submit([make_record(9)])
    assert refused.value.reason == "unavailable"
    time.sleep(0.5)  # ~10 retries
    alarms = [r for r in caplog.records if "cannot store rows" in r.getMessage()]
    assert len(alarms) == 1 and "5 row(s) wait in memory" in alarms[0].getMessage()

    _bring_up(folder)
    assert writer.flush() is True and not writer.stuck
    writer.submit([make_record(5)])
    writer.close()
    assert _ids(store) == [f"p{i:05d}" for i in range(6)]
    assert any("stores rows again" in r.getMessage() for r in caplog.records)
    store.close()


def test_wait_returns_once_the_rows_are_committed_and_waiters_share_commits(
    store, make_record, tmp_path
):
    import sqlalchemy as sa

    commits = []
    sa.event.listen(store._engine_(), "commit", lambda conn: commits.append(1))
    writer = LogWriter(store, spool_dir=tmp_path / "spool", interval=30.0)
    writer.start()
    submitted = threading.Barrier(20)
    results: list[bool] = []

    def client(i: int) -> None:
        ticket = writer.submit([make_record(i)])
        submitted.wait()
        results.append(writer.wait(ticket) and f"p{i:05d}" in _ids(store))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert results == [True] * 20
    assert 1 <= len(commits) <= 3  # not one commit per request


def test_a_full_disk_loses_no_acknowledged_row_and_leaves_no_torn_line(
    make_record, tmp_path, caplog
):
    store, folder = _down_store(tmp_path)
    spool = tmp_path / "small"
    acknowledged: list[str] = []
    with _small_disk(spool) as how:
        writer = LogWriter(store, spool_dir=spool, batch_size=7, retry_every=0.05)
        writer.start()
        for start in range(0, 2000, 5):
            batch = [make_record(i, inputs={"note": "x" * 200}) for i in range(start, start + 5)]
            try:
                writer.submit(batch)
            except LogFullError:
                break
            acknowledged += [r.prediction_id for r in batch]
            writer.wait(writer.submit([]))  # let the writer keep up, as a server's pace would
        else:
            pytest.fail(f"the {how} never filled up")
        assert writer.stuck and writer.refused == 5
        lines = _spool_lines(spool)  # every line parses: none half-written
        assert len(lines) == writer.spooled < len(acknowledged)
        alarms = lambda: sum("cannot store rows" in r.getMessage() for r in caplog.records)  # noqa: E731
        assert _wait_until(lambda: alarms() == 1)

        _bring_up(folder)
        assert _wait_until(lambda: writer.backlog == 0)
        writer.close()
    assert _ids(store) == sorted(acknowledged) and writer.lost == 0
    assert not list(spool.glob("*.rejected")) and alarms() == 1
    store.close()


def test_a_read_only_spool_is_replayed_once_and_kept(store, make_record, tmp_path):
    spool = tmp_path / "spool"
    with _small_disk(spool, kib=256) as how:
        if how != "tmpfs":
            pytest.skip("needs root to remount a filesystem read-only")  # chmod binds no root
        down, _ = _down_store(tmp_path)
        earlier = LogWriter(down, spool_dir=spool, retry_every=60)
        earlier.start()
        earlier.submit([make_record(i) for i in range(10)])
        earlier.close()
        subprocess.run(["mount", "-o", "remount,ro", str(spool)], check=True)

        writer = LogWriter(store, spool_dir=spool, retry_every=0.05)
        writer.start()
        assert _wait_until(lambda: writer.backlog == 0)
        writer.submit([make_record(10)])
        assert writer.flush() is True
        time.sleep(0.3)  # several replay turns: the kept file is not replayed again
        writer.close()
        assert _ids(store) == [f"p{i:05d}" for i in range(11)]
        assert len(_spool_lines(spool)) == 10  # still there, for an operator to remove


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgres_server_stopped_and_restarted_loses_no_row(own_postgres, make_record, tmp_path):
    store = Store(own_postgres.url)
    store.open()
    writer = LogWriter(store, spool_dir=tmp_path / "spool", batch_size=50, retry_every=0.2)
    writer.start()
    writer.submit([make_record(i) for i in range(100)])
    assert writer.flush() is True
    own_postgres.stop()  # the server goes away mid-stream, with live pooled connections
    for start in range(100, 400, 20):
        writer.submit([make_record(i) for i in range(start, start + 20)])
    assert writer.flush() is True  # spooled: durable on disk, not in the database
    assert writer.spooled == 300 and not writer.stuck
    own_postgres.start()
    assert _wait_until(lambda: writer.backlog == 0, timeout=120)
    writer.submit([make_record(400)])
    writer.close()
    assert _ids(store) == [f"p{i:05d}" for i in range(401)]
    store.close()


def test_close_keeps_retrying_for_its_grace_then_counts_what_it_gives_up(make_record, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store, folder = _down_store(tmp_path)
    writer = LogWriter(store, spool_dir=blocker / "spool", retry_every=0.05, close_grace=600)
    writer.start()
    writer.wait(writer.submit([make_record(i) for i in range(5)]))
    assert writer.stuck
    closing = threading.Thread(target=writer.close)
    closing.start()
    time.sleep(0.3)
    assert closing.is_alive()  # SIGTERM while nothing takes the rows: the shutdown waits
    _bring_up(folder)
    closing.join()
    assert (writer.lost, _ids(store)) == (0, [f"p{i:05d}" for i in range(5)])
    store.close()

    hopeless = LogWriter(
        Store(f"sqlite:///{tmp_path / 'gone' / 'log.db'}"),
        spool_dir=blocker / "spool",
        retry_every=0.05,
        close_grace=0.2,
    )
    hopeless.start()
    hopeless.submit([make_record(i) for i in range(3)])
    hopeless.close()
    assert hopeless.lost == 3
