"""Optional extras: a project that asks for a library the base install lacks is refused
before training with the extra to install; the default models skip what is missing, aloud.

"Not installed" is made real for one process by ``sys.modules[name] = None``, which makes
``import name`` raise ImportError and ``importlib.util.find_spec`` answer None, exactly as
for a library that was never installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tabloop
from tabloop._extras import EXTRAS, installed, require
from tabloop.config import (
    DEFAULT_MODELS,
    check_extras,
    config_from_dict,
    extra_warnings,
    needed_extras,
)
from tabloop.exceptions import MissingDependencyError
from tabloop.train import train

#: (extra, library module, the train/evaluate settings that need it, the setting as named)
CASES = [
    (
        "catboost",
        "catboost",
        {"train": {"models": ["linear", "catboost"]}},
        "train.models: [catboost]",
    ),
    ("xgboost", "xgboost", {"train": {"models": ["xgboost"]}}, "train.models: [xgboost]"),
    ("optuna", "optuna", {"train": {"trials": 3}}, "train.trials: 3"),
    ("imbalanced", "imblearn", {"train": {"imbalance": "smote"}}, "train.imbalance: smote"),
    (
        "fairness",
        "fairlearn",
        {"evaluate": {"fairness": {"protected": ["gender"], "mitigate": "equalized_odds"}}},
        "evaluate.fairness.mitigate: equalized_odds",
    ),
]
DISTRIBUTION = {
    "catboost": "catboost",
    "xgboost": "xgboost",
    "optuna": "optuna",
    "imbalanced": "imbalanced-learn",
    "fairness": "fairlearn",
}


def _project(folder: Path, extra_settings: dict) -> Path:
    """A real project: 300 patients of the treatment example and its tabloop.yaml."""
    data = folder / "data.csv"
    tabloop.examples.treatment_outcomes(n=300, seed=1).to_csv(data, index=False)
    raw = {
        "name": "extras",
        "data": {"train": "data.csv", "target": "unsuccessful_outcome", "id": "patient_id"},
        "train": {"folds": 2, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
    }
    for section, settings in extra_settings.items():
        raw[section] = {**raw.get(section, {}), **settings}
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return folder / "tabloop.yaml"


def _cli_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tabloop ARGS`` in a fresh interpreter where ``module`` cannot be imported."""
    prelude = (
        f"import sys; sys.modules[{module!r}] = None; "
        f"sys.argv = ['tabloop', *{list(args)!r}]; "
        "from tabloop.cli import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude], cwd=cwd, capture_output=True, text=True, check=False
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())  # the terminal wraps long lines at 80 columns


def test_every_extra_names_a_library_pyproject_declares():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for name, extra in EXTRAS.items():
        requirement = extras[name][0]
        assert requirement.startswith(extra.distribution if name != "xgboost" else "xgboost-cpu"), (
            name,
            requirement,
        )
    assert extras["tuning"] == ["tabloop[optuna]"]
    everything = extras["all"][0]
    assert all(name in everything for name in EXTRAS)
    base = " ".join(pyproject["project"]["dependencies"])
    for name in ("catboost", "xgboost", "optuna", "imbalanced-learn", "fairlearn"):
        assert name not in base


@pytest.mark.parametrize(("extra", "module", "settings", "setting"), CASES)
def test_cli_train_refuses_a_missing_extra_naming_the_pip_command(
    tmp_path, extra, module, settings, setting
):
    config = _project(tmp_path, settings)
    done = _cli_without(module, "train", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert _one_line(done.stderr) == (
        f"error: tabloop.yaml: {setting} needs {DISTRIBUTION[extra]}, which is not "
        f"installed: pip install 'tabloop[{extra}]'."
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()  # refused before anything was trained
    assert not (tmp_path / ".tabloop").exists()


@pytest.mark.parametrize(("extra", "module", "settings", "setting"), CASES)
def test_python_api_raises_missing_dependency_error(
    monkeypatch, tmp_path, extra, module, settings, setting
):
    from tabloop.config import load_config

    config = load_config(_project(tmp_path, settings))
    assert (setting, extra) in needed_extras(config)
    check_extras(config)  # installed here: nothing to say
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as caught:
        check_extras(config)
    assert str(caught.value) == (
        f"tabloop.yaml: {setting} needs {DISTRIBUTION[extra]}, which is not installed: "
        f"pip install 'tabloop[{extra}]'."
    )
    with pytest.raises(MissingDependencyError, match=rf"pip install 'tabloop\[{extra}\]'\.$"):
        train(config=config)


def test_two_missing_extras_are_one_line_with_one_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "catboost", None)
    monkeypatch.setitem(sys.modules, "optuna", None)
    config = config_from_dict(
        {
            "name": "p",
            "data": {"train": "x.csv", "target": "y"},
            "train": {"models": ["catboost"], "trials": 5},
        }
    )
    with pytest.raises(MissingDependencyError) as caught:
        check_extras(config)
    assert str(caught.value) == (
        "the project: train.models: [catboost] needs catboost; train.trials: 5 needs optuna; "
        "these are not installed: pip install 'tabloop[catboost,optuna]'."
    )


def test_default_models_leave_out_a_missing_extra_and_say_so(monkeypatch):
    raw = {"name": "p", "data": {"train": "x.csv", "target": "y"}}
    assert config_from_dict(raw).train.models == list(DEFAULT_MODELS)
    assert extra_warnings(config_from_dict(raw)) == []
    monkeypatch.setitem(sys.modules, "catboost", None)
    config = config_from_dict(raw)
    assert config.train.models == ["linear", "lightgbm"]
    check_extras(config)  # the defaults ask for nothing: no refusal
    assert extra_warnings(config) == [
        "train.models is not set: the default catboost model is left out because catboost "
        "is not installed (pip install 'tabloop[catboost]' to include it)"
    ]
    named = config_from_dict({**raw, "train": {"models": ["linear", "lightgbm"]}})
    assert extra_warnings(named) == []  # the user chose: nothing was left out


def test_require_names_the_extra_and_lets_a_broken_dependency_speak(monkeypatch):
    assert require("optuna", "x").__name__ == "optuna"
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert not installed("optuna")
    with pytest.raises(MissingDependencyError) as caught:
        require("optuna", "train.trials: 4")
    assert str(caught.value) == (
        "train.trials: 4 needs optuna, which is not installed: pip install 'tabloop[optuna]'."
    )
    assert isinstance(caught.value, ImportError)
    with pytest.raises(ImportError) as inner:  # a module the library itself imports failed
        require("optuna", "x", "_a_module_no_one_has")
    assert not isinstance(inner.value, MissingDependencyError)


def test_building_a_missing_zoo_model_in_python_is_refused(monkeypatch):
    from tabloop.train import build_model

    monkeypatch.setitem(sys.modules, "catboost", None)
    with pytest.raises(MissingDependencyError, match=r"tabloop\[catboost\]"):
        build_model("catboost", "binary")


@pytest.mark.slow
def test_cli_train_without_catboost_trains_the_other_defaults_and_warns(tmp_path):
    config = _project(tmp_path, {})
    done = _cli_without("catboost", "train", "-c", str(config), "--no-register", cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: a requirement, not a crash
    assert (
        "warning: train.models is not set: the default catboost model is left out because "
        "catboost is not installed (pip install 'tabloop[catboost]' to include it)"
    ) in _one_line(done.stderr)
    report = json.loads((tmp_path / "reports" / "evaluation.json").read_text())
    assert [entry["model"] for entry in report["cv"]] == ["dummy", "linear", "lightgbm"]
    assert any("tabloop[catboost]" in d["message"] for d in report["diagnostics"])


def test_an_import_error_of_an_extras_library_becomes_the_pip_command():
    from tabloop._extras import missing_extra

    deep = ImportError("No module named 'catboost.core'", name="catboost.core")
    error = missing_extra(deep, "Model 'models:/cb/1'")
    assert isinstance(error, MissingDependencyError)
    assert str(error) == (
        "Model 'models:/cb/1' needs catboost, which is not installed: "
        "pip install 'tabloop[catboost]'."
    )
    own = ImportError("No module named 'spendmodels'", name="spendmodels")
    assert missing_extra(own, "Model 'models:/spend/1'") is None  # no extra brings it


@pytest.mark.slow
def test_predict_with_a_catboost_model_where_catboost_is_missing_names_the_extra(tmp_path):
    settings = {"train": {"models": ["catboost"], "params": {"catboost": {"iterations": 30}}}}
    config = _project(tmp_path, settings)
    trained = subprocess.run(
        [sys.executable, "-m", "tabloop", "train", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert trained.returncode in (0, 1), trained.stderr[-2000:]
    done = _cli_without("catboost", "predict", "data.csv", "-o", "scored.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert _one_line(done.stderr) == (
        "error: Model 'models:/extras/1' needs catboost, which is not installed: "
        "pip install 'tabloop[catboost]'."
    )
    assert not (tmp_path / "scored.csv").exists()
