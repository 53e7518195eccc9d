from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scale.cluster import Cluster, running_cluster


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    with running_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster
