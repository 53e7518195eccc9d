"""The demo's train steps: the summary it shows, read from named sections, and the
registered version it serves, refused with the reason when it has no alias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.demo._service import registered
from tabloop.demo._stops import first_lines
from tabloop.exceptions import RegistryError
from tabloop.workflows import summary_lines, summary_sections, train_and_register


def _config(tmp_path, name: str, target: str, **train) -> object:
    return config_from_dict(
        {
            "name": name,
            "data": {"train": "(memory)", "target": target},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False, **train},
            "evaluate": {"bootstrap": 100, "importance": False},
            "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        }
    )


@pytest.fixture(scope="module")
def cost_run(tmp_path_factory, load):
    """A cost threshold: its test-cost lines are indented like the metrics below them."""
    folder = tmp_path_factory.mktemp("german")
    config = _config(folder, "german", "risk", threshold="cost", costs={"fp": 5, "fn": 1})
    return train_and_register(config, df=load("german_credit"), out_dir=folder / "reports")


def test_the_train_step_shows_the_summary_up_to_its_first_test_metric(cost_run):
    """The demo found the first metric as the first line starting with two spaces and no
    '(': with a cost threshold that was '  test cost per row ...', and the cost lines and
    every metric were cut off."""
    lines = summary_lines(cost_run)
    first = next(k for k, v in cost_run.evaluation.metrics.items() if "value" in v)
    end = next(i for i, line in enumerate(lines) if line.startswith(f"  {first:<18} "))
    shown = first_lines(summary_sections(cost_run))
    assert shown == lines[: end + 1]
    test = cost_run.evaluation.threshold["test"]
    assert f"  all negative {test['all_negative']['value']:.4f}" in "\n".join(shown)
    assert [line for s in summary_sections(cost_run).values() for line in s] == lines


def test_the_demo_serves_the_version_registered_under_an_alias(cost_run):
    version = registered(cost_run)
    assert version is cost_run.version and version.aliases == ("champion",)


def test_a_model_registered_without_an_alias_stops_the_demo_saying_why(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    noise = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.random(n) < 0.3}
    )
    run = train_and_register(_config(tmp_path, "cases", "y"), df=noise, out_dir=tmp_path)
    assert run.version is not None and run.version.aliases == ()
    with pytest.raises(
        RegistryError,
        match=r"serves the model of 'cases' by its alias, but No "
        r"model beat the dummy baseline: linear scored roc_auc .*registered as "
        r"models:/cases/1 without the champion or challenger alias",
    ):
        registered(run)
