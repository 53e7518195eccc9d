"""The pip requirements of one model: what its pickle needs, pinned to what trained it.

The fitted model is pickled; every class and function in the pickle names its module, so
the modules it imports are known exactly, not guessed from the config: a LightGBM-only
model needs ``lightgbm``, not ``catboost`` or ``xgboost``; SMOTE brings
``imbalanced-learn`` only when it is in a pipeline. Each module is mapped to the
installed distribution that provides it. Modules of no installed distribution (the
standard library, a team's own code, which travels as MLflow ``code_paths``) add nothing.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import pickletools
import sys
import threading
from collections.abc import Iterator, Mapping
from importlib import metadata
from typing import IO, Any, cast

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

    The pickle streams through a pipe to a reader of its opcodes, which notes the module of
    each global as it passes; no copy of the model is built and its bytes are never held
    whole, so a large model costs one pickling, not a pickling and an unpickling.
    """
    read_end, write_end = os.pipe()
    modules: set[str] = set()
    broken: list[BaseException] = []

    def read() -> None:
        with open(read_end, "rb") as stream:
            try:
                modules.update(_global_modules(_Unseekable(stream)))
            except BaseException as exc:  # re-raised below, once the pickler has finished
                broken.append(exc)
            while stream.read(_CHUNK):  # never leave the pickler blocked on a full pipe
                pass

    reader = threading.Thread(target=read, name="pickled-modules", daemon=True)
    reader.start()
    try:
        with open(write_end, "wb") as sink:
            pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(model)
    finally:
        reader.join()
    if broken:
        raise broken[0]
    return modules


#: Bytes read at a time when draining the pipe.
_CHUNK = 1 << 16
#: Memoized strings longer than this are not kept: a module's name is never that long,
#: and a model's own long strings (a booster's text dump) would be held to the end.
_LONGEST_NAME = 1000
_MARK = object()
#: The opcodes that push a string (``str``: a global's module or name, among others).
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"})


class _Unseekable:
    """The pipe as :func:`pickletools.genops` reads it: no ``tell`` (a pipe has none)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.read, self.readline = stream.read, stream.readline


def _global_modules(stream: Any) -> Iterator[str]:
    """The top-level module of each global in the pickle read from ``stream``, as
    unpickling it would call ``find_class(module, name)``.

    ``GLOBAL`` names its module in its argument, ``EXT*`` through :mod:`copyreg`'s
    registry; ``STACK_GLOBAL`` (protocol 4 and later) takes it from the stack, where it was
    pushed as a string or fetched back from the memo. So the stack is replayed with each
    opcode's documented effect, holding strings and a placeholder for anything else.
    """
    stack: list[Any] = []
    memo: dict[int, str] = {}
    memoized = 0  # MEMOIZE's next index
    for opcode, value, _ in pickletools.genops(stream):
        name, arg = opcode.name, cast(Any, value)
        if name == "STACK_GLOBAL" and isinstance(stack[-2], str):
            yield stack[-2].split(".")[0]
        elif name == "GLOBAL":
            yield arg.split(" ")[0].split(".")[0]
        elif name.startswith("EXT"):
            key = copyreg._inverted_registry.get(arg)  # type: ignore[attr-defined]
            if key is not None:
                yield key[0].split(".")[0]
        if name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            index = memoized if name == "MEMOIZE" else int(arg)
            memoized += name == "MEMOIZE"
            top = stack[-1]
            if isinstance(top, str) and len(top) <= _LONGEST_NAME:
                memo[index] = top
            continue
        before, after = opcode.stack_before, opcode.stack_after
        popped = len(before)
        if pickletools.markobject in before:
            while stack.pop() is not _MARK:
                pass
            popped = before.index(pickletools.markobject)
        elif name == "POP" and stack and stack[-1] is _MARK:
            popped = 0
            stack.pop()
        del stack[len(stack) - popped :]
        if pickletools.markobject in after:
            stack.append(_MARK)
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo.get(int(arg)))
        elif name in _STRINGS:
            stack.append(arg)
        else:
            stack.extend(None for _ in after)


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
