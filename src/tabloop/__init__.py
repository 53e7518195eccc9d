"""tabloop: from a table of historical cases to a monitored prediction service and back.

The public names below are imported lazily (PEP 562), so ``import tabloop`` and
``tabloop --help`` stay fast; pandas, scikit-learn and friends load on first use.
Training, evaluation, monitoring and retraining are the stage packages themselves:
``tabloop.train.train``, ``tabloop.evaluate.evaluate``, ``tabloop.monitor.monitor`` and
``tabloop.retrain.retrain`` (a top-level function could not share the package's name).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ColumnSchema": "tabloop.data",
    "Evaluation": "tabloop.evaluate",
    "MonitorReport": "tabloop.monitor",
    "ReferenceProfile": "tabloop.data",
    "RetrainResult": "tabloop.retrain",
    "TabloopModel": "tabloop.train",
    "TrainResult": "tabloop.train",
    "Problem": "tabloop.data",
    "Profile": "tabloop.data",
    "ProjectConfig": "tabloop.config",
    "Schema": "tabloop.data",
    "TrainTest": "tabloop.data",
    "ValidationReport": "tabloop.data",
    "create_app": "tabloop.serve",
    "drift_report": "tabloop.monitor",
    "infer_schema": "tabloop.data",
    "infer_task": "tabloop.data",
    "init_project": "tabloop.workflows",
    "list_versions": "tabloop.registry",
    "load_config": "tabloop.config",
    "load_model": "tabloop.registry",
    "load_data": "tabloop.data",
    "load_sql": "tabloop.data",
    "load_training_data": "tabloop.data",
    "predict": "tabloop.registry",
    "predict_file": "tabloop.registry",
    "profile": "tabloop.data",
    "promote": "tabloop.registry",
    "register": "tabloop.registry",
    "rollback": "tabloop.registry",
    "run_demo": "tabloop.demo",
    "split": "tabloop.data",
    "validate": "tabloop.data",
}

__all__ = sorted([*_EXPORTS, "__version__", "examples", "exceptions"])

if TYPE_CHECKING:
    from tabloop import examples, exceptions
    from tabloop.config import ProjectConfig, load_config
    from tabloop.data import (
        ColumnSchema,
        Problem,
        Profile,
        ReferenceProfile,
        Schema,
        TrainTest,
        ValidationReport,
        infer_schema,
        infer_task,
        load_data,
        load_sql,
        load_training_data,
        profile,
        split,
        validate,
    )
    from tabloop.demo import run_demo
    from tabloop.evaluate import Evaluation
    from tabloop.monitor import MonitorReport, drift_report
    from tabloop.registry import (
        list_versions,
        load_model,
        predict,
        predict_file,
        promote,
        register,
        rollback,
    )
    from tabloop.retrain import RetrainResult
    from tabloop.serve import create_app
    from tabloop.train import TabloopModel, TrainResult
    from tabloop.workflows import init_project


def __getattr__(name: str) -> Any:
    if name in ("examples", "exceptions"):
        return importlib.import_module(f"tabloop.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tabloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
