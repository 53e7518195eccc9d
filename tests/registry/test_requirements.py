"""A model's requirements are what its own pickle imports, pinned to what trained it."""

from __future__ import annotations

from collections import OrderedDict
from importlib.metadata import version

from tabloop.registry._requirements import model_requirements


def pinned(*names: str) -> list[str]:
    return sorted((f"{n}=={version(n)}" for n in names), key=str.lower)


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
