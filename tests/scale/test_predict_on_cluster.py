"""README "Scaling out": `tabloop predict` on a Dask cluster (a real scheduler and worker
processes on 127.0.0.1) writes exactly what one process writes, names a bad row's file,
row and column, survives a worker's death, and never leaves partial output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tabloop.exceptions import SchemaError
from tabloop.registry import predict, predict_file
from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_monitor_cli import write_project
from tests.scale.cluster import assert_connecting_fails, free_address, running_cluster
from tests.stops import stops_config, training_stops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scoring(stops_model, tmp_path_factory):
    """New stops in two Parquet files (row groups of 1,000) and a CSV file, and what
    one-process frame scoring predicts for them."""
    folder = tmp_path_factory.mktemp("scoring")
    config = stops_config(stops_model["uri"], folder)
    rows = training_stops(9000, seed=7).drop(columns=["found"])
    (folder / "in").mkdir()
    rows.iloc[:4000].to_parquet(folder / "in" / "a.parquet", row_group_size=1000)
    rows.iloc[4000:7000].to_parquet(folder / "in" / "b.parquet", row_group_size=1000)
    rows.iloc[7000:].to_csv(folder / "in" / "c.csv", index=False)
    expected = predict(rows, config=config).reset_index(drop=True)
    return {"folder": folder, "config": config, "rows": rows, "expected": expected}


def _same(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(out) == len(expected)
    np.testing.assert_array_equal(out["prediction"].to_numpy(), expected["prediction"].to_numpy())
    np.testing.assert_array_equal(out["probability"].to_numpy(), expected["probability"].to_numpy())
    assert (out["stop_id"].to_numpy() == expected["stop_id"].to_numpy()).all()


def test_a_folder_scored_on_the_cluster_equals_one_process_scoring(scoring, dask_cluster):
    folder = scoring["folder"]
    done = predict_file(
        folder / "in",
        folder / "parts",
        config=scoring["config"],
        cluster=dask_cluster.address,
        piece_rows=1000,
    )
    # 4 + 3 row-group pieces of the Parquet files, the CSV file whole: 8 parts in file order
    assert (done["rows"], done["files"], done["pieces"], done["workers"]) == (9000, 3, 8, 2)
    parts = sorted((folder / "parts").iterdir())
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(8)]
    _same(pd.read_parquet(folder / "parts"), scoring["expected"])
    assert not [p for p in folder.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_one_output_file_from_the_cluster_equals_the_one_process_file(
    scoring, dask_cluster, suffix
):
    folder = scoring["folder"]
    source = str(folder / "in" / "*.parquet")
    here = predict_file(source, folder / f"here{suffix}", config=scoring["config"])
    there = predict_file(
        source,
        folder / f"there{suffix}",
        config=scoring["config"],
        cluster=dask_cluster.address,
        piece_rows=1000,
    )
    assert (here["rows"], here["cluster"], there["cluster"]) == (7000, None, dask_cluster.address)
    if suffix == ".csv":
        assert (folder / "here.csv").read_bytes() == (folder / "there.csv").read_bytes()
    else:  # the same table; its row groups follow the pieces
        assert pq.read_table(folder / "here.parquet").equals(
            pq.read_table(folder / "there.parquet")
        )
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    _same(read(folder / f"there{suffix}"), scoring["expected"].iloc[:7000])


def test_a_bad_row_on_a_worker_names_file_row_and_column_and_leaves_nothing(
    scoring, dask_cluster, tmp_path
):
    rows = scoring["rows"].iloc[:3000].astype({"vehicle_age": object}).reset_index(drop=True)
    rows.loc[2345, "vehicle_age"] = "ancient"
    (tmp_path / "in").mkdir()
    rows.iloc[:1000].to_parquet(tmp_path / "in" / "ok.parquet")
    rows.iloc[1000:].to_csv(tmp_path / "in" / "bad.csv", index=False)
    with pytest.raises(SchemaError) as caught:
        predict_file(
            tmp_path / "in",
            tmp_path / "out",
            config=scoring["config"],
            cluster=dask_cluster.address,
            chunk_rows=500,
        )
    message = str(caught.value)
    # row 1345 of bad.csv (its third chunk) is row 2345 of the whole
    for fragment in ("bad.csv", "row 1345", "'vehicle_age'", "'ancient'"):
        assert fragment in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_the_run_survives_a_worker_killed_mid_run(scoring, tmp_path):
    """The only worker dies while it writes the CSV piece; a new worker joins and Dask
    runs the lost tasks again: the output is whole and equals one-process scoring."""
    big = pd.concat([scoring["rows"]] * 6, ignore_index=True)
    big.to_csv(tmp_path / "big.csv", index=False)
    expected = predict_file(tmp_path / "big.csv", tmp_path / "here.csv", config=scoring["config"])
    with running_cluster(tmp_path / "dask", workers=1) as cluster:
        done = cluster.replace_worker_during(
            lambda: predict_file(
                tmp_path / "big.csv",
                tmp_path / "there.csv",
                config=scoring["config"],
                cluster=cluster.address,
                chunk_rows=500,
            ),
            started=lambda: any(tmp_path.glob(".there.csv.*.partial/part-*")),
        )
    assert done["rows"] == expected["rows"] == len(big)
    assert (tmp_path / "there.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    assert not list(tmp_path.glob(".there.csv.*"))


def test_a_worker_with_another_library_version_is_named(tmp_path):
    """A worker whose environment reports pandas 0.0.1 (a distribution record ahead of
    the real one on its path), as a worker image built another day would."""
    record = tmp_path / "farm" / "pandas-0.0.1.dist-info"
    record.mkdir(parents=True)
    (record / "METADATA").write_text("Metadata-Version: 2.1\nName: pandas\nVersion: 0.0.1\n")
    with running_cluster(tmp_path / "dask", workers=0) as cluster:
        cluster.add_worker(env={**os.environ, "PYTHONPATH": str(tmp_path / "farm")})
        cluster.wait_for_workers(1)
        version = pd.__version__
        expected = rf"worker tcp://127\.0\.0\.1:\d+ has pandas 0\.0\.1, this process {version}"
        assert_connecting_fails(cluster.address, expected)


def test_a_scheduler_without_workers_is_named(tmp_path, monkeypatch):
    import tabloop.scale._runner as runner

    monkeypatch.setattr(runner, "WORKER_WAIT_SECONDS", 1)
    with running_cluster(tmp_path / "dask", workers=0) as cluster:
        message = f"The Dask scheduler at '{cluster.address}' has no workers after 1 s"
        assert_connecting_fails(cluster.address, message)


def test_a_worker_without_tabloop_is_named(tmp_path):
    """A worker started from an environment that has Dask but not tabloop."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    farm = tmp_path / "site"
    farm.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("tabloop", "__editable__")):
            (farm / entry.name).symlink_to(entry)
    with running_cluster(tmp_path / "dask", workers=0) as cluster:
        cluster.add_worker(python=[sys.executable, "-S"], env={"PYTHONPATH": str(farm)})
        cluster.wait_for_workers(1)
        assert_connecting_fails(cluster.address, r"worker tcp://127\.0\.0\.1:\d+ lacks tabloop")


def test_a_cluster_that_does_not_answer_is_one_line_and_exit_2(stops_model, tmp_path):
    address = free_address()
    folder = write_project(tmp_path, stops_model, scale={"cluster": address})
    before = sorted(folder.iterdir())
    result = run("predict", "data/stops.csv", "-o", "out.csv", cwd=folder)
    assert_one_line_error(result, f"Cannot reach a Dask scheduler at '{address}'")
    assert sorted(folder.iterdir()) == before


def test_a_bad_cluster_option_is_one_line_and_exit_2(stops_model, tmp_path):
    folder = write_project(tmp_path, stops_model)
    result = run("predict", "data/stops.csv", "-o", "out.csv", "--cluster", "local:x", cwd=folder)
    assert_one_line_error(result, "--cluster has value 'local:x'", "'local:N'")


def test_local_n_from_the_environment_starts_and_stops_its_own_cluster(
    scoring, tmp_path, monkeypatch
):
    monkeypatch.setenv("TABLOOP_CLUSTER", "local:2")
    done = predict_file(
        scoring["folder"] / "in", tmp_path / "out.parquet", config=scoring["config"]
    )
    assert (done["cluster"], done["workers"]) == ("local:2", 2)
    _same(pd.read_parquet(tmp_path / "out.parquet"), scoring["expected"])
