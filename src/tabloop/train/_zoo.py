"""The model zoo: every model ``train.models`` can name, with its input family and search space.

A model is named by a short key (``lightgbm``) or by an import path (``mypkg.models:Trend``)
for a team's own estimator with ``fit`` / ``predict`` (and ``predict_proba`` for
classification); the contract it follows is README's "Your own models" (what ``fit``
receives per ``tabloop_family``, the target's codes, ``train.params``), and the module is
found beside ``tabloop.yaml`` because reading the project puts its folder on ``sys.path``.
Each entry says which preparation family it wants (see
:class:`tabloop.prepare.Preprocess`), builds the estimator for a task, and proposes
hyper-parameters to Optuna.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from tabloop._extras import require
from tabloop._settings import batch_threads
from tabloop.config import DEFAULT_MODELS as DEFAULT_MODELS  # train.models when not set
from tabloop.exceptions import TrainError
from tabloop.prepare import FAMILIES

#: Threads for the gradient-boosting libraries (the machines we target have few cores).
THREADS = -1


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: how to build the model for a task and what Optuna may tune."""

    name: str
    family: str
    build: Callable[[str, dict[str, Any], int, bool], Any]
    space: Callable[[Any], dict[str, Any]] | None = None


def _dummy(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if task == "regression":
        return DummyRegressor(strategy="mean", **params)
    return DummyClassifier(strategy="prior", **params)


def _linear(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(**{"alpha": 1.0, **params})
    weights = "balanced" if balanced else None
    return LogisticRegression(**{"C": 1.0, "max_iter": 2000, "class_weight": weights, **params})


def _linear_space(trial: Any) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}


def _forest(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    base = {"n_estimators": 300, "min_samples_leaf": 2, "n_jobs": THREADS, "random_state": seed}
    if task == "regression":
        return RandomForestRegressor(**{**base, **params})
    weights = "balanced_subsample" if balanced else None
    return RandomForestClassifier(**{**base, "class_weight": weights, **params})


def _forest_space(trial: Any) -> dict[str, Any]:
    return {
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_float("max_features", 0.2, 1.0),
    }


def _lightgbm(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    import lightgbm

    base = {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": seed,
        "n_jobs": THREADS,
        "verbose": -1,
    }
    if task == "regression":
        return lightgbm.LGBMRegressor(**{**base, **params})
    return lightgbm.LGBMClassifier(
        **{**base, "class_weight": "balanced" if balanced else None, **params}
    )


def _lightgbm_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 600, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _xgboost(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    xgboost = require("xgboost", "train.models: [xgboost]")

    base = {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "max_depth": 4,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "tree_method": "hist",
        "enable_categorical": True,
        "max_cat_to_onehot": 8,
        "random_state": seed,
        "n_jobs": THREADS,
    }
    if task == "regression":
        return xgboost.XGBRegressor(**{**base, **params})
    return xgboost.XGBClassifier(**{**base, **params})


def _xgboost_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 600, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20, log=True),
    }


class CatBoostModel(BaseEstimator):
    """CatBoost that finds its categorical columns from the pandas dtypes at ``fit``.

    CatBoost needs ``cat_features`` named up front, but which columns survive feature
    selection is only known inside each cross-validation fold; the wrapper decides then.
    """

    def __init__(self, *, task: str = "binary", params: dict[str, Any] | None = None) -> None:
        self.task = task
        self.params = params

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> CatBoostModel:
        catboost = require("catboost", "train.models: [catboost]")

        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        params = {
            "iterations": 400,
            "thread_count": THREADS,
            "verbose": False,
            "allow_writing_files": False,
            **(self.params or {}),
            "cat_features": cats,
        }
        cls = (
            catboost.CatBoostRegressor if self.task == "regression" else catboost.CatBoostClassifier
        )
        self.model_ = cls(**params).fit(self._frame(X), y, sample_weight=sample_weight)
        if self.task != "regression":
            self.classes_ = self.model_.classes_
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        out = self.model_.predict(self._frame(X), thread_count=batch_threads())
        return np.asarray(out).reshape(len(X), -1)[:, 0] if self.task != "regression" else out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._frame(X), thread_count=batch_threads())

    def compile_replay(self, task: str) -> Callable[[Any, bool], np.ndarray]:
        """``predict(block, single_thread)``: :meth:`predict_proba` (``predict`` for
        regression) as ``predict_scores`` uses it, on a numpy
        :class:`~tabloop.prepare.Block` (see :mod:`tabloop.train._replay`)."""
        from sklearn.utils.validation import check_is_fitted

        from tabloop.prepare import Unsupported

        check_is_fitted(self, "model_")
        model = self.model_
        positions = tuple(int(i) for i in model.get_cat_feature_indices())

        def predict(block: Any, single: bool) -> np.ndarray:
            if block.categorical != positions:
                raise Unsupported("categorical columns that CatBoost did not learn")
            rows = block.values.astype(object)
            for position, names in zip(block.categorical, block.categories, strict=True):
                # as _frame: the category's own text ("nan" where there is none)
                lookup = [*names, "nan"]
                codes = block.values[:, position]
                rows[:, position] = [lookup[int(c) if c == c else -1] for c in codes]
            threads = 1 if single else batch_threads()
            if task == "regression":
                return np.asarray(model.predict(rows.tolist(), thread_count=threads), dtype=float)
            proba = np.asarray(model.predict_proba(rows.tolist(), thread_count=threads))
            return proba[:, 1] if task == "binary" else proba

        return predict

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.model_.get_feature_importance()

    @staticmethod
    def _frame(X: pd.DataFrame) -> pd.DataFrame:
        # CatBoost wants category values as strings, not pandas Categorical codes.
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        return X.astype(dict.fromkeys(cats, str)) if cats else X


class _CatBoostClassifier(ClassifierMixin, CatBoostModel):
    pass


class _CatBoostRegressor(RegressorMixin, CatBoostModel):
    pass


def _catboost(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
    require("catboost", "train.models: [catboost]")  # refused here, not in the first fold
    params = {"random_seed": seed, **params}
    if task == "regression":
        return _CatBoostRegressor(task=task, params=params)
    if balanced:
        params.setdefault("auto_class_weights", "Balanced")
    return _CatBoostClassifier(task=task, params=params)


def _catboost_space(trial: Any) -> dict[str, Any]:
    return {
        "depth": trial.suggest_int("depth", 3, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 30.0, log=True),
    }


ZOO: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("dummy", "tree", _dummy),
        ModelSpec("linear", "linear", _linear, _linear_space),
        ModelSpec("random_forest", "tree", _forest, _forest_space),
        ModelSpec("lightgbm", "native", _lightgbm, _lightgbm_space),
        ModelSpec("xgboost", "native", _xgboost, _xgboost_space),
        ModelSpec("catboost", "native", _catboost, _catboost_space),
    )
}
#: Names a user may write for the same entry.
ALIASES = {"logistic": "linear", "ridge": "linear", "rf": "random_forest"}


def model_spec(name: str) -> ModelSpec:
    """The zoo entry for ``name``, or a spec wrapping a user class at ``module:Class``.

    A user class may set ``tabloop_family`` (``native``, ``tree`` or ``linear``) to choose
    its preparation; the default is ``native`` (a DataFrame with NaN and categoricals).
    """
    key = ALIASES.get(name, name)
    if key in ZOO:
        return ZOO[key]
    if ":" not in name:
        allowed = ", ".join([*ZOO, *ALIASES])
        raise TrainError(
            f"train.models: unknown model {name!r}. Use one of {allowed}, "
            "or an import path 'package.module:ClassName' for your own model."
        )
    cls = _import_model(name)
    family = getattr(cls, "tabloop_family", "native")
    if family not in FAMILIES:
        raise TrainError(
            f"train.models: {name!r} sets tabloop_family = {family!r}; use one of "
            f"{', '.join(FAMILIES)} (the input it wants: raw frame, codes, or scaled numbers)."
        )

    def build(task: str, params: dict[str, Any], seed: int, balanced: bool) -> Any:
        return UserModel(path=name, params=params)

    return ModelSpec(name, family, build)


class UserModel(BaseEstimator):
    """A team's own model (``module:Class`` with ``fit``/``predict``[/``predict_proba``])
    seen as a scikit-learn estimator, so it can sit in a Pipeline, be cloned per fold and
    pickled; the class is imported again by path when the package is loaded."""

    def __init__(self, *, path: str = "", params: dict[str, Any] | None = None) -> None:
        self.path = path
        self.params = params

    def fit(self, X: Any, y: Any) -> UserModel:
        self.model_ = _import_model(self.path)(**(self.params or {}))
        self.model_.fit(X, y)
        self.classes_ = getattr(self.model_, "classes_", np.unique(np.asarray(y)))
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.model_.predict(X))

    def __getattr__(self, name: str) -> Any:
        # predict_proba exists exactly when the user's model has it
        if name == "predict_proba" and "model_" in self.__dict__:
            return self.model_.predict_proba
        raise AttributeError(name)


def _import_model(path: str) -> type:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise TrainError(
                f"train.models: cannot import module {module_name!r} for model {path!r}: "
                f"no {module_name.replace('.', '/')}.py (or package) in {_searched()}. "
                "Put the file beside tabloop.yaml (the project folder is searched when a "
                "command reads it) or install it."
            ) from exc
        raise TrainError(
            f"train.models: module {module_name!r} for model {path!r} was found but importing "
            f"it failed: {type(exc).__name__}: {exc}. Install what it needs."
        ) from exc
    except Exception as exc:  # the user's module raised while importing
        raise TrainError(
            f"train.models: importing module {module_name!r} for model {path!r} failed: "
            f"{type(exc).__name__}: {exc}."
        ) from exc
    shadowed = _shadowed_file(module_name, module)
    if shadowed is not None:
        raise TrainError(
            f"train.models: module {module_name!r} for model {path!r} is "
            f"{getattr(module, '__file__', None) or 'built in'}, not {str(shadowed)!r}: "
            "an installed module of that name comes first. Rename your file."
        )
    cls = getattr(module, attr, None)
    if cls is None:
        raise TrainError(f"train.models: module {module_name!r} has no attribute {attr!r}.")
    missing = [m for m in ("fit", "predict") if not callable(getattr(cls, m, None))]
    if missing:
        raise TrainError(
            f"train.models: {path!r} must implement fit and predict; it lacks {', '.join(missing)}."
        )
    return cls


def _shadowed_file(module_name: str, module: Any) -> Path | None:
    """A file of the same top-level name on ``sys.path`` that ``module`` hides, if any: a
    project's ``colorsys.py`` loses to the standard library's, silently for Python."""
    import sys

    top = module_name.split(".")[0]
    imported = sys.modules.get(top, module)
    origin = getattr(imported, "__file__", None)
    for entry in sys.path:
        for candidate in (Path(entry or ".") / f"{top}.py", Path(entry or ".") / top):
            if candidate.is_dir() and not (candidate / "__init__.py").is_file():
                continue
            if candidate.exists() and (
                origin is None or not Path(origin).resolve().is_relative_to(candidate.resolve())
            ):
                return candidate
    return None


def _searched() -> str:
    """Where ``import`` looked, for messages: the folders on ``sys.path`` other than the
    interpreter's own, then how many installed-package folders were searched too."""
    import sys

    folders = [str(Path(p or ".").resolve()) for p in sys.path]
    own = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix})
    user = [p for p in folders if not p.startswith(own) and not p.endswith(("-packages", ".zip"))]
    installed = len(folders) - len(user)
    shown = ", ".join(repr(p) for p in dict.fromkeys(user)) or "no project folder"
    return f"{shown} and {installed} installed-package folders"


def build_model(
    name: str,
    task: str,
    *,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    balanced: bool = False,
) -> Any:
    """A fresh, unfitted estimator for ``name`` and ``task``."""
    return model_spec(name).build(task, dict(params or {}), seed, balanced)
