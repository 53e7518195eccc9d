"""CatBoost and the KNN imputation's k-d tree search follow OMP_NUM_THREADS on big
batches, as the OpenMP libraries do, so two Dask workers on two cores (each with
OMP_NUM_THREADS=1) do not each take both cores."""

from __future__ import annotations

import pytest

from tabloop._settings import batch_threads
from tabloop.train._zoo import THREADS


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), ("", THREADS), ("0", THREADS)])
def test_batch_threads_follow_omp_num_threads(monkeypatch, value, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert batch_threads() == expected


def test_without_omp_num_threads_every_core_is_used(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert batch_threads() == THREADS == -1
