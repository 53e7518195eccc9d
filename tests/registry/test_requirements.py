"""A model's requirements are what its own pickle imports, pinned to what trained it."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pytest

from tabloop.registry._requirements import model_requirements, pickled_modules


def pin(name: str) -> str:
    """``name==version`` as installed; MLflow as the full ``mlflow`` or, in the base install,
    ``mlflow-skinny`` alone (the same module, another distribution)."""
    for candidate in (name, "mlflow-skinny") if name == "mlflow" else (name,):
        try:
            return f"{candidate}=={version(candidate)}"
        except PackageNotFoundError:
            continue
    raise PackageNotFoundError(name)


def pinned(*names: str) -> list[str]:
    return sorted(map(pin, names), key=str.lower)


def test_an_object_of_the_standard_library_needs_only_tabloop_pandas_and_mlflow():
    assert model_requirements(OrderedDict(a=1)) == pinned("mlflow", "pandas", "tabloop")


def test_smote_in_a_pipeline_brings_imbalanced_learn_and_no_booster():
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline
    from sklearn.linear_model import LogisticRegression

    pipe = Pipeline([("smote", SMOTE()), ("model", LogisticRegression())])
    assert model_requirements(pipe) == pinned(
        "imbalanced-learn", "mlflow", "pandas", "scikit-learn", "tabloop"
    )


def test_a_lightgbm_model_never_pins_catboost_or_xgboost():
    from lightgbm import LGBMClassifier

    found = {line.split("==")[0] for line in model_requirements(LGBMClassifier())}
    assert "lightgbm" in found
    assert not found & {"catboost", "xgboost", "xgboost-cpu", "imbalanced-learn"}


def unpickled_modules(model: object) -> set[str]:
    """The former way, as the reference: unpickle the whole model and note the top-level
    module of each class or function the unpickler asks for."""
    modules: set[str] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            modules.add(module.split(".")[0])
            return super().find_class(module, name)

    Recorder(io.BytesIO(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))).load()
    return modules


#: Real fitted models, by the module each must be found to need.
TRAINED = {
    "lightgbm": {"models": ["lightgbm"], "ensemble": False},
    "imblearn": {"models": ["linear"], "ensemble": False, "imbalance": "smote"},
    "ensemble": {"models": ["linear", "lightgbm"], "ensemble": True},
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TRAINED))
def test_modules_read_while_pickling_are_those_unpickling_asks_for(kind, load):
    from tabloop.config import config_from_dict
    from tabloop.train import train

    section = {"folds": 3, "learning_curve": False, **TRAINED[kind]}
    raw = {"name": "t", "data": {"train": "(memory)", "target": "survived"}, "train": section}
    model = train(load("titanic"), config=config_from_dict(raw)).model
    if kind == "ensemble":
        assert sorted(m.name for m in model.members) == ["lightgbm", "linear"]
    found = pickled_modules(model)
    assert found == unpickled_modules(model)
    assert {"lightgbm" if kind == "ensemble" else kind, "sklearn", "tabloop"} <= found


def test_a_module_named_by_a_string_fetched_back_from_the_memo_is_found():
    """``'fractions'`` is pickled first as data, so the pickle names ``Fraction``'s module
    by a reference to that string; the array (32 MB) is written out of band."""
    data = ["fractions", np.arange(4_000_000.0), OrderedDict(a=np.float32(1)), Fraction(1, 3)]
    assert pickled_modules(data) == unpickled_modules(data) == {
        "collections", "fractions", "numpy"
    }  # fmt: skip


def test_an_object_that_cannot_be_pickled_raises_the_picklers_own_error():
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError), match="lambda|local"):
        pickled_modules([1, lambda: 0])
