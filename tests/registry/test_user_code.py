"""A team's own model module travels with the registered model (MLflow ``code_paths``).

The project folder holds ``linemodel.py`` beside ``tabloop.yaml``; ``tabloop train`` (a
real subprocess) must import it from there, and the registered version must then load and
predict in processes started in another folder, after the module has gone from the
project: ``tabloop predict`` and a real ``tabloop serve`` on 127.0.0.1.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabloop.demo._service import call, running_service

#: A model whose predictions are known in advance: the line through noiseless y = 3x + 2.
MODULE = """
import numpy as np


class Line:
    tabloop_family = "native"

    def __init__(self, column="x"):
        self.column = column

    def fit(self, X, y):
        self.coef_ = np.polyfit(X[self.column].to_numpy(float), np.asarray(y, float), 1)
        return self

    def predict(self, X):
        return np.polyval(self.coef_, X[self.column].to_numpy(float))
"""

PROJECT = """name: line
data: {train: data.csv, target: y}
features: {include: [x]}
train: {models: ["linemodel:Line"], folds: 3, learning_curve: false}
evaluate: {bootstrap: 50}
"""


#: The installed script, as a user runs it: unlike ``python -m``, it does not put the
#: working directory on sys.path.
SCRIPT = str(Path(sys.executable).parent / "tabloop")


def tabloop(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args],
        cwd=cwd,
        env={**os.environ, "TABLOOP_PROGRESS": "0", "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """`tabloop train` in a project whose model class lives in linemodel.py beside it; the
    module is deleted afterwards, as when a team's code moves on."""
    project = tmp_path_factory.mktemp("project")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 300).round(3)
    pd.DataFrame({"x": x, "noise": rng.normal(size=300), "y": 3 * x + 2}).to_csv(
        project / "data.csv", index=False
    )
    (project / "tabloop.yaml").write_text(PROJECT)
    (project / "linemodel.py").write_text(MODULE)
    trained = tabloop("train", cwd=project)
    (project / "linemodel.py").unlink()
    shutil.rmtree(project / "__pycache__", ignore_errors=True)
    return project, trained


def test_train_imports_the_module_beside_tabloop_yaml(registered):
    project, trained = registered
    assert trained.returncode == 0, trained.stderr
    assert "Registered models:/line/1 as champion" in trained.stdout
    assert "linemodel:Line" in trained.stdout


def test_tabloop_predict_in_another_folder_loads_the_packaged_module(registered, tmp_path):
    project, _ = registered
    x = np.array([-1.0, 0.0, 2.5, 100.0])
    pd.DataFrame({"x": x, "noise": 0.0}).to_csv(tmp_path / "new.csv", index=False)
    store = f"sqlite:///{project / '.tabloop' / 'mlflow.db'}"
    done = tabloop(
        "predict", "new.csv", "-o", "out.csv", "--model", "models:/line/1",
        cwd=tmp_path, TABLOOP_TRACKING_URI=store,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(scored["prediction"], 3 * x + 2, rtol=1e-9)


def test_tabloop_serve_in_another_folder_answers_with_the_packaged_module(registered, tmp_path):
    project, _ = registered
    store = f"sqlite:///{project / '.tabloop' / 'mlflow.db'}"
    (tmp_path / "reports").mkdir()
    (tmp_path / "tabloop.yaml").write_text(
        f"name: line\ndata: {{train: data.csv, target: y}}\nregistry: {{tracking_uri: '{store}'}}\n"
    )
    with running_service(tmp_path, echo=lambda line: None, log_name="serve.log") as base:
        answer = call(base, "/predict", {"records": [{"x": 1.5, "noise": 0.0}]})
    assert answer["predictions"][0]["prediction"] == pytest.approx(3 * 1.5 + 2)
