"""CatBoost and the KNN imputation's k-d tree search follow OMP_NUM_THREADS on big
batches, as the OpenMP libraries do, so two Dask workers on two cores (each with
OMP_NUM_THREADS=1) do not each take both cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


PREDICT_ON_ONE_THREAD = """
import os
import numpy as np, pandas as pd
from lightgbm import LGBMClassifier
from tabloop.train._cv import predict_scores

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(300_000, 8)), columns=[f"x{i}" for i in range(8)])
y = (X["x0"] + rng.normal(size=len(X)) > 0).astype(int)
model = LGBMClassifier(n_estimators=60, n_jobs=-1, verbose=-1).fit(X[:20_000], y[:20_000])

def cpu_by_thread():
    out = {}
    for tid in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[tid] = int(fields[11]) + int(fields[12])
    return out

before = cpu_by_thread()
for _ in range(3):
    predict_scores(model, X, "binary")
after = cpu_by_thread()
used = {t: after[t] - before.get(t, 0) for t in after}
print(sum(1 for t in used if used[t] > 0.1 * sum(used.values())))  # ticks of 10 ms: noise
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="per-thread CPU from /proc")
def test_lightgbm_predicts_on_one_thread_where_omp_num_threads_is_1():
    """A model fitted with every core (n_jobs=-1) predicts on one thread on a Dask worker,
    whose OMP_NUM_THREADS is 1: LightGBM alone would use every core."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PREDICT_ON_ONE_THREAD], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "1"  # threads that did the predicting
