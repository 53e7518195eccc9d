"""The pip requirements of one model: what its pickle needs, pinned to what trained it.

The fitted model is pickled; every class and function in the pickle names its module, so
the modules it imports are known exactly, not guessed from the config: a LightGBM-only
model needs ``lightgbm``, not ``catboost`` or ``xgboost``; SMOTE brings
``imbalanced-learn`` only when it is in a pipeline. Each module is mapped to the
installed distribution that provides it. Modules of no installed distribution (the
standard library, a team's own code, which travels as MLflow ``code_paths``) add nothing.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Mapping
from importlib import metadata
from types import BuiltinFunctionType, FunctionType
from typing import Any

#: Always needed to load a tabloop package and predict with it (beside MLflow's loader).
BASE = ("tabloop", "pandas")
#: When a module has several distributions (``xgboost`` and ``xgboost-cpu``), the one
#: whose version the module reports wins; these names are preferred on a tie.
PREFERRED = ("xgboost-cpu",)


#: Modules of tabloop's model zoo whose distribution has another name; any other module
#: is looked up by its own name, then among every installed distribution (slower: seconds).
KNOWN = {"sklearn": ["scikit-learn"], "imblearn": ["imbalanced-learn"]}


def model_requirements(model: Any) -> list[str]:
    """``name==version`` for tabloop, MLflow and every distribution ``model``'s pickle
    imports, sorted; a distribution without a version is listed by name."""
    names: set[str] = set()
    everything: Mapping[str, list[str]] | None = None
    for module in sorted(pickled_modules(model) - set(sys.stdlib_module_names)):
        found = KNOWN.get(module) or _own_name(module)
        if not found:
            if everything is None:
                everything = metadata.packages_distributions()
            found = everything.get(module, [])
        if found:
            names.add(_pick(module, found))
    names.update(_base())
    return sorted({_pinned(name) for name in names}, key=str.lower)


def _own_name(module: str) -> list[str]:
    """Distributions named like ``module`` (``lightgbm``), plus this project's preferred
    variants of it (``xgboost-cpu``)."""
    found = [n for n in (module, *(p for p in PREFERRED if p.startswith(module))) if _version(n)]
    return found


def pickled_modules(model: Any) -> set[str]:
    """Top-level modules of every global (class, function) in ``model``'s pickle: the
    modules unpickling it would import.

    They are noted while the model is pickled into a sink that keeps no bytes, through
    the pickler's public ``reducer_override`` hook, which sees every class and function
    it writes by reference: no copy of the model is built and its bytes are never held.
    """
    modules: set[str] = set()

    class Recorder(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, type | FunctionType | BuiltinFunctionType):
                name = getattr(obj, "__qualname__", obj.__name__)
                module = getattr(obj, "__module__", None)
                # a C function without __module__ is looked up as pickle itself does
                module = module or pickle.whichmodule(obj, name)  # type: ignore[attr-defined]
                modules.add(module.split(".")[0])
            return NotImplemented  # pickled as it would be anyway

    Recorder(_Discard(), protocol=pickle.HIGHEST_PROTOCOL).dump(model)
    return modules


class _Discard:
    """A binary file that forgets what is written to it."""

    def write(self, data: Any) -> int:  # bytes, or a PickleBuffer of a large array
        return memoryview(data).nbytes


def _base() -> list[str]:
    """:data:`BASE`, and MLflow as installed (``mlflow``, else ``mlflow-skinny``)."""
    out = list(BASE)
    for name in ("mlflow", "mlflow-skinny"):
        if _version(name) is not None:
            out.append(name)
            break
    else:
        out.append("mlflow")
    return out


def _pick(module: str, distributions: list[str]) -> str:
    """The distribution whose version is the module's own (two can provide one module)."""
    if len(set(distributions)) == 1:
        return distributions[0]
    try:
        import importlib

        own = getattr(importlib.import_module(module), "__version__", None)
    except ImportError:
        own = None
    matching = [d for d in distributions if own is not None and _version(d) == own]
    candidates = matching or list(distributions)
    preferred = [d for d in candidates if d in PREFERRED]
    return (preferred or sorted(candidates))[0]


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _pinned(name: str) -> str:
    version = _version(name)
    return name if version is None else f"{name}=={version}"
