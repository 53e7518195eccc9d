"""Where work runs: one setting, three places, explicit first (README "Scaling out")."""

from __future__ import annotations

import pytest

from tabloop.exceptions import ConfigError
from tabloop.scale import ClusterAddress, cluster_address, parse_cluster_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local:3", ClusterAddress("local:3", 3)),
        ("tcp://10.0.0.5:8786", ClusterAddress("tcp://10.0.0.5:8786")),
        ("tls://scheduler.example.org:8786", ClusterAddress("tls://scheduler.example.org:8786")),
        ("localhost:8786", ClusterAddress("localhost:8786")),
    ],
)
def test_addresses_that_dask_accepts_are_parsed(text, expected):
    assert parse_cluster_address(text) == expected


def test_bare_local_means_one_worker_per_core():
    import os

    assert parse_cluster_address("local").local_workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("text", ["local:0", "local:two", "http://host:8786", "two words"])
def test_anything_else_is_refused_naming_where_it_came_from(text):
    with pytest.raises(ConfigError, match=f"TABLOOP_CLUSTER has value '{text}'"):
        parse_cluster_address(text, source="TABLOOP_CLUSTER")


def test_the_option_beats_the_project_file_which_beats_the_environment(monkeypatch):
    monkeypatch.setenv("TABLOOP_CLUSTER", "local:1")
    assert cluster_address(None, None) == ClusterAddress("local:1", 1)
    assert cluster_address(None, "tcp://a:1") == ClusterAddress("tcp://a:1")
    assert cluster_address("local:2", "tcp://a:1") == ClusterAddress("local:2", 2)
    monkeypatch.delenv("TABLOOP_CLUSTER")
    assert cluster_address(None, None) is None


def test_a_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setenv("TABLOOP_CLUSTER", "local:2x")
    with pytest.raises(ConfigError, match="TABLOOP_CLUSTER has value 'local:2x'"):
        cluster_address(None, None)


def test_the_project_file_key_is_checked_when_the_file_is_read():
    from tabloop.config import config_from_dict

    with pytest.raises(ConfigError, match=r"scale\.cluster: got 'local:0'"):
        config_from_dict(
            {
                "name": "x",
                "data": {"train": "a.csv", "target": "y"},
                "scale": {"cluster": "local:0"},
            }
        )


def test_without_a_cluster_nothing_imports_dask():
    import subprocess
    import sys

    code = (
        "import sys, pandas as pd, tabloop.scale as s\n"
        "with s.open_runner(s.cluster_address(None, None)) as r:\n"
        "    assert r.map(abs, [-1, 2], description='x') == [1, 2]\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TABLOOP_PROGRESS": "0"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
