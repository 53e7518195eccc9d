"""`tabloop store export` as a user runs it: the Parquet folder, one-line refusals of bad
input with nothing written, and no partial folder after a write fails half-way."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tabloop.store import PredictionRecord, Store
from tests.cli.test_cli import TABLOOP, assert_one_line_error, run
from tests.cli.test_serve_cli import write_project

T0 = datetime(2026, 12, 5, 8, tzinfo=UTC)


def fill(folder: Path, hours: list[float]) -> None:
    """One prediction at each of ``hours`` after T0, with a number-or-text input."""
    store = Store(f"sqlite:///{folder / 'log.db'}")
    store.open()
    batch = [
        PredictionRecord(
            prediction_id=f"p{i:06d}",
            created_at=T0 + timedelta(hours=hour),
            variant="A",
            model_name="cases",
            model_version="1",
            entity_id=None,
            request_id=None,
            inputs={"x": i, "code": "k" if i == 0 else i, "note": f"row {i} " * 4},
            context={"office": "north"},
            prediction=i % 2,
            score=0.5,
            probabilities=None,
            latency_ms=1.0,
        )
        for i, hour in enumerate(hours)
    ]
    for start in range(0, len(batch), 5000):
        store.insert_predictions(batch[start : start + 5000])
    store.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out"))


def test_export_writes_days_and_says_what_it_did(tmp_path):
    folder = write_project(tmp_path)
    fill(folder, [0, 1, 20, 26])  # 08:00, 09:00, 04:00 next day, 10:00 next day
    result = run("store", "export", "out", cwd=folder)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Exported 4 predictions of 2 day(s) (2026-12-05 to 2026-12-06)")
    assert any("'code'" in line and "declared text" in line for line in lines[1:])
    table = ds.dataset(folder / "out", partitioning="hive").to_table().sort_by("prediction_id")
    assert table["code"].to_pylist() == ["k", "1", "2", "3"]
    assert [str(d) for d in table["day"].to_pylist()] == ["2026-12-05"] * 2 + ["2026-12-06"] * 2


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--since", "yesterday"], ["since 'yesterday' is not an ISO date"]),
        (["--until", "2026-02-30"], ["until '2026-02-30'"]),
        (["--since", "2026-12-06", "--until", "2026-12-05"], ["is not before until"]),
        (["--since", "2027-01-01"], ["holds no predictions from 2027-01-01", "nothing"]),
    ],
)
def test_a_bad_or_empty_window_is_one_line_and_writes_nothing(tmp_path, args, fragments):
    folder = write_project(tmp_path)
    fill(folder, [0, 1])
    result = run("store", "export", *args, "out", cwd=folder)
    assert_one_line_error(result, *fragments)
    assert not (folder / "out").exists() and leftovers(folder) == []


def test_a_folder_with_files_is_refused_and_kept_unless_overwrite(tmp_path):
    folder = write_project(tmp_path)
    fill(folder, [0, 1])
    (folder / "out").mkdir()
    (folder / "out" / "mine.csv").write_text("a\n1\n")
    result = run("store", "export", "out", cwd=folder)
    assert_one_line_error(result, "out exists and is not empty", "--overwrite")
    assert (folder / "out" / "mine.csv").read_text() == "a\n1\n"
    assert run("store", "export", "--overwrite", "out", cwd=folder).returncode == 0
    assert not (folder / "out" / "mine.csv").exists()
    assert ds.dataset(folder / "out", partitioning="hive").count_rows() == 2


def _small_files_only() -> None:
    """In the child: files may not grow past 64 KiB, and a write past it fails with EFBIG
    instead of killing the process (SIGXFSZ)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_write_failing_half_way_leaves_no_partial_export(tmp_path):
    folder = write_project(tmp_path)
    # a few rows on the first day (a small file, written), 20,000 on the second (too large)
    fill(folder, [0, 1, 2] + [24 + i / 1000 for i in range(20_000)])
    env = {**os.environ, "TABLOOP_PROGRESS": "0", "COLUMNS": "200"}
    result = subprocess.run(
        [*TABLOOP, "store", "export", "out"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_small_files_only,
        timeout=600,
    )
    assert_one_line_error(result, "Could not write the export to out", "nothing was written")
    assert not (folder / "out").exists()
    assert leftovers(folder) == []  # the folder written aside is gone too
    # the same export without the limit succeeds
    assert run("store", "export", "out", cwd=folder).returncode == 0
    assert ds.dataset(folder / "out", partitioning="hive").count_rows() == 20_003
