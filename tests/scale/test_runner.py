"""The runners' ``map_reduce`` (what the monitor's merge step runs on): the same result in
this process and on a real cluster, whose merges run on the workers; a task's own error
arrives as it was raised, and any other as one :class:`ClusterError` line."""

from __future__ import annotations

import operator

import pytest

from tabloop.data import find_data_files
from tabloop.exceptions import ClusterError, ConfigError, DataFileNotFoundError
from tabloop.scale import InProcess, open_runner, parse_cluster_address

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runner(dask_cluster):
    with open_runner(parse_cluster_address(dask_cluster.address)) as opened:
        yield opened


def test_map_reduce_on_the_cluster_equals_this_process(runner):
    items = [str(i) for i in range(25)]
    expected = sum(range(25))
    assert InProcess().map_reduce(int, items, operator.add, description=None) == expected
    assert runner.map_reduce(int, items, operator.add, description=None) == expected
    assert runner.map_reduce(int, ["7"], operator.add, description=None) == 7


def test_a_tasks_own_error_arrives_as_it_was_raised(runner, tmp_path):
    with pytest.raises(ConfigError, match="local:0"):
        runner.map_reduce(parse_cluster_address, ["local:1", "local:0"], max, description=None)
    missing = str(tmp_path / "missing.parquet")  # an OSError too: not a lost scheduler
    with pytest.raises(DataFileNotFoundError, match="missing.parquet"):
        runner.map_reduce(find_data_files, [missing], operator.add, description=None)


def test_any_other_task_error_is_one_cluster_error_naming_the_work(runner):
    with pytest.raises(ClusterError, match=r"'adding up' failed .*ValueError: invalid literal"):
        runner.map_reduce(int, ["1", "x"], operator.add, description="adding up")


def test_each_workers_arrow_pool_has_the_workers_threads(runner):
    """One-thread workers read and write Parquet on one core each, as NumPy and the model
    libraries do (Dask's OMP_NUM_THREADS), instead of every worker on every core."""
    import pyarrow

    threads = {w: info["nthreads"] for w, info in runner.client.scheduler_info()["workers"].items()}
    assert runner.client.run(pyarrow.cpu_count) == threads
