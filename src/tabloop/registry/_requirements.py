"""The pip requirements of one model: what its pickle needs, pinned to what trained it.

The fitted model is pickled; every class and function in the pickle names its module, so
the modules it imports are known exactly, not guessed from the config: a LightGBM-only
model needs ``lightgbm``, not ``catboost`` or ``xgboost``; SMOTE brings
``imbalanced-learn`` only when it is in a pipeline. Each module is mapped to the
installed distribution that provides it. Modules of no installed distribution (the
standard library, a team's own code, which travels as MLflow ``code_paths``) add nothing.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Mapping
from importlib import metadata
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
    """Top-level modules of every global (class, function) in ``model``'s pickle, as
    unpickling it asks for them."""
    modules: set[str] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            modules.add(module.split(".")[0])
            return super().find_class(module, name)

    Recorder(io.BytesIO(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))).load()
    return modules


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
