"""``train.models: [module:Class]``: a team's own model, found beside tabloop.yaml."""

import re

import pandas as pd
import pytest

from tabloop.config import load_config
from tabloop.exceptions import TrainError
from tabloop.train import build_model
from tabloop.train._zoo import model_spec


def project(folder, module_name: str, code: str):
    """A project folder with ``<module_name>.py``, read with load_config (as every command
    does); the working directory stays elsewhere."""
    (folder / f"{module_name}.py").write_text(code)
    (folder / "tabloop.yaml").write_text(
        f"name: p\ndata: {{train: d.csv, target: y}}\ntrain: {{models: ['{module_name}:M']}}\n"
    )
    return load_config(folder / "tabloop.yaml")


def test_a_module_beside_tabloop_yaml_imports_once_the_project_is_read(tmp_path):
    project(tmp_path, "beside_yaml_mod", "class M:\n    tabloop_family = 'linear'\n"
            "    def fit(self, X, y): self.mean_ = float(sum(y)) / len(y); return self\n"
            "    def predict(self, X): return [self.mean_] * len(X)\n")  # fmt: skip
    assert model_spec("beside_yaml_mod:M").family == "linear"
    model = build_model("beside_yaml_mod:M", "regression").fit(pd.DataFrame({"a": [1, 2]}), [1, 3])
    assert model.predict(pd.DataFrame({"a": [5]})).tolist() == [2.0]


def test_a_missing_module_names_the_folders_searched(tmp_path):
    project(
        tmp_path, "present_mod", "class M:\n    def fit(self): ...\n    def predict(self): ...\n"
    )
    with pytest.raises(TrainError, match="no absent_mod_14.py") as caught:
        model_spec("absent_mod_14:M")
    assert re.search(re.escape(repr(str(tmp_path.resolve()))), str(caught.value))


def test_a_module_whose_own_import_fails_names_what_it_lacks(tmp_path):
    project(tmp_path, "needs_dep_mod", "import no_such_dependency_14\n")
    with pytest.raises(TrainError, match="'needs_dep_mod' .* was found but importing it failed: "
                       "ModuleNotFoundError: No module named 'no_such_dependency_14'"):  # fmt: skip
        model_spec("needs_dep_mod:M")


def test_an_unknown_tabloop_family_is_refused_with_the_allowed_ones(tmp_path):
    project(tmp_path, "odd_family_mod", "class M:\n    tabloop_family = 'boosted'\n"
            "    def fit(self, X, y): ...\n    def predict(self, X): ...\n")  # fmt: skip
    with pytest.raises(TrainError, match="tabloop_family = 'boosted'; use one of native, tree"):
        model_spec("odd_family_mod:M")


def test_an_error_raised_while_importing_the_module_is_a_train_error(tmp_path):
    project(tmp_path, "raising_mod", "raise RuntimeError('bad config in module')\n")
    with pytest.raises(TrainError, match="RuntimeError: bad config in module"):
        model_spec("raising_mod:M")


def test_a_project_module_hidden_by_an_installed_one_is_named(tmp_path):
    # the standard library's colorsys comes before the project folder on sys.path
    project(tmp_path, "colorsys", "class M:\n    def fit(self, X, y): ...\n"
            "    def predict(self, X): ...\n")  # fmt: skip
    with pytest.raises(TrainError, match=r"module 'colorsys' .* not '.*colorsys.py'.* Rename"):
        model_spec("colorsys:M")
