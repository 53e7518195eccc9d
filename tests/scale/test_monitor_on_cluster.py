"""README "Scaling out": `tabloop monitor` on a Dask cluster (a real scheduler and two
worker processes on 127.0.0.1) computes the statistics where the data is and reports
exactly what one process reports: from a folder of Parquet files each worker reads its
own row groups, and from the log each worker reads its own time range."""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pandas as pd
import pytest

from tabloop.monitor import monitor
from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_monitor_cli import write_project
from tests.monitor.test_monitor import log_labelled, project  # noqa: F401  (the fixture)
from tests.monitor.test_partitions import _without_sample_dependent
from tests.scale.cluster import free_address, running_cluster

pytestmark = pytest.mark.slow

FAIRNESS = {"protected": ["race"], "segment": "department", "min_group_size": 10}


def _production(stops_model, rows: int, seed: int) -> pd.DataFrame:
    from tabloop.examples import traffic_stops

    production = traffic_stops(rows, seed=seed, production=True)
    scored = stops_model["result"].model.predict_frame(production, validate=False)
    scored["created_at"] = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(
        np.arange(len(scored)) * 7, unit="min"
    )
    return scored.rename(columns={"contraband": "outcome"})


def test_a_folder_monitored_on_the_cluster_equals_the_whole_frame_in_one_process(
    project,  # noqa: F811
    stops_model,
    dask_cluster,
    tmp_path,
):
    config = project(segment="search_authorization", chunk="2d", fairness=FAIRNESS)
    scored = _production(stops_model, 1500, seed=11)
    (tmp_path / "prod").mkdir()
    scored.iloc[:900].to_parquet(tmp_path / "prod" / "a.parquet", row_group_size=200)
    scored.iloc[900:].to_parquet(tmp_path / "prod" / "b.parquet", row_group_size=200)

    whole = monitor(config, data=scored).to_dict()
    there = monitor(config, data=str(tmp_path / "prod" / "*.parquet"), cluster=dask_cluster.address)
    there = there.to_dict()
    assert there["window"]["rows"] == 1500
    assert there["window"]["partitions"] == 2  # one piece per file (under 200,000 rows)
    assert _without_sample_dependent(there) == _without_sample_dependent(whole)


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_log_monitored_on_the_cluster_equals_one_process(
    project,  # noqa: F811
    stops_model,
    dask_cluster,
    request,
    database,
):
    from tabloop.examples import traffic_stops

    config = project(chunk="1d", fairness=FAIRNESS)
    if database == "postgresql":  # each worker opens its own connection to its range
        config.serve.store_url = request.getfixturevalue("pg_url")
    log_labelled(config, stops_model, traffic_stops(1200, seed=12, production=True))
    here = monitor(config).to_dict()
    there = monitor(config, cluster=dask_cluster.address).to_dict()
    assert there["window"]["rows"] == 1200
    assert _without_sample_dependent(there) == _without_sample_dependent(here)


def test_the_monitor_survives_a_worker_killed_mid_run(
    project,  # noqa: F811
    stops_model,
    tmp_path,
):
    """The only worker dies while it reads a partition; a new worker joins and Dask runs
    the lost work again (the partitions, the merges and the chunks' figures): the report
    equals the one-process report of the same rows."""
    config = project(chunk="1d", fairness=FAIRNESS)
    scored = _production(stops_model, 900, seed=14)
    signals = tmp_path / "signals"
    signals.mkdir()

    def held_piece(piece: pd.DataFrame, index: int) -> pd.DataFrame:
        """A partition read on a worker: says it started, then waits for the test's go
        (defined here so that Dask ships it by value: workers cannot import the tests)."""
        (signals / f"started-{index}").touch()
        while not (signals / "go").exists():
            time.sleep(0.01)
        return piece

    pieces = [partial(held_piece, scored.iloc[i : i + 300], i) for i in range(0, 900, 300)]
    whole = monitor(config, data=scored).to_dict()
    with running_cluster(tmp_path / "dask", workers=1) as cluster:
        report = cluster.replace_worker_during(
            lambda: monitor(config, partitions=pieces, cluster=cluster.address),
            started=lambda: any(signals.glob("started-*")),
            then=(signals / "go").touch,
        )
    there = report.to_dict()
    assert there["window"]["rows"] == 900
    assert len(there["chunks"]) == len(whole["chunks"]) > 1
    assert _without_sample_dependent(there) == _without_sample_dependent(whole)


def test_monitor_with_a_cluster_that_does_not_answer_is_one_line_and_exit_2(stops_model, tmp_path):
    address = free_address()
    folder = write_project(tmp_path, stops_model)
    _production(stops_model, 200, seed=13).to_parquet(folder / "prod.parquet")
    result = run("monitor", "--data", "prod.parquet", "--cluster", address, cwd=folder)
    assert_one_line_error(result, f"Cannot reach a Dask scheduler at '{address}'")
    assert not (folder / "reports").exists()
