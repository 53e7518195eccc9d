"""A fitted preparation (derive → log → select → preprocess) replayed on numpy columns.

The DataFrame path spends milliseconds per row in pandas operations whose cost does not
depend on the number of rows. Here a fitted pipeline's state (formulas, log columns,
selected columns, the imputer's statistics, the scaler, the category lists and encoders)
is read once into a :class:`PrepPlan`, which turns a request's rows into the numeric
matrix the estimator receives today (a :class:`Block`).

Values are converted per column with the rules of the DataFrame path (``_frame.to_numeric``
and ``_frame.category_key``). A value outside the domain where both paths provably agree
(a number sent as text, a list, an integer beyond 2**53 used as a category) raises
:class:`Unclean`, and the whole request takes the DataFrame path instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from tabloop.exceptions import SchemaError
from tabloop.serve._compiled_formula import Unsupported, compile_formula

_EXACT = 2**53  # integers up to here are exact as float64


class Unclean(Exception):
    """Internal: a request value outside the compiled domain; use the DataFrame path."""


@dataclass(frozen=True)
class Block:
    """The matrix an estimator receives: float64 values; at ``categorical`` positions the
    code of the value in the matching ``categories`` list (native family only)."""

    values: np.ndarray
    categorical: tuple[int, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()


def _number(v: Any) -> float:
    kind = type(v)
    if kind is float or kind is int:
        return float(v)
    if v is None:
        return math.nan
    if kind is bool:
        return 1.0 if v else 0.0
    raise Unclean


def _key(v: Any) -> str | None:
    kind = type(v)
    if kind is str:
        return v  # type: ignore[no-any-return]
    if v is None:
        return None
    if kind is bool:
        return "true" if v else "false"
    if kind is int and abs(v) <= _EXACT:
        return str(v)
    if kind is float:
        if v != v:
            return None
        if not v.is_integer():
            return str(v)
        if abs(v) < 2**63:
            return str(int(v))
    raise Unclean


def _float_key(x: float) -> str | None:
    if x != x:
        return None
    return str(int(x)) if x.is_integer() and abs(x) < 2**63 else str(x)


class Columns:
    """One request's input values, converted per column on first use and shared by every
    pipeline of the model (``memo`` also shares derived columns between them)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.n = len(rows)
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _raw(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def num(self, name: str) -> np.ndarray:
        """``_frame.to_numeric`` of the column."""

        def convert() -> np.ndarray:
            try:
                return np.fromiter(map(_number, self._raw(name)), "float64", self.n)
            except OverflowError:
                raise Unclean from None

        return self.memo(("num", name), convert)  # type: ignore[no-any-return]

    def keys(self, name: str) -> list[str | None]:
        """``_frame.category_keys`` of the column, ``None`` for a missing value."""
        return self.memo(("keys", name), lambda: list(map(_key, self._raw(name))))  # type: ignore[no-any-return]

    def formula_num(self, name: str) -> tuple[np.ndarray, bool]:
        """The column as a formula sees a numeric one, and whether it has no value at all
        (pandas then holds an object column of nulls, not a float one)."""

        def convert() -> tuple[np.ndarray, bool]:
            raw = self._raw(name)
            if any(
                v is not None
                and (type(v) not in (int, float) or (type(v) is int and abs(v) > _EXACT))
                for v in raw
            ):
                raise Unclean  # text, booleans, huge integers: pandas arithmetic differs
            values = self.num(name)
            return values, bool(np.isnan(values).all())

        return self.memo(("formula_num", name), convert)  # type: ignore[no-any-return]

    def text(self, name: str) -> np.ndarray:
        def convert() -> np.ndarray:
            raw = self._raw(name)
            if any(v is not None and type(v) is not str for v in raw):
                raise Unclean
            out = np.empty(self.n, dtype=object)
            out[:] = raw
            return out

        return self.memo(("text", name), convert)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Categorical:
    name: str
    codes: dict[str, float]  # key of a known category -> output code
    other: float  # code of a missing value, or of an unseen one under "ignore"
    refuse_unseen: bool


@dataclass(frozen=True)
class _Output:
    kind: str  # numeric | native | ordinal | onehot
    columns: tuple[Any, ...]
    width: int


class PrepPlan:
    """One pipeline's preparation steps, compiled; ``block(columns)`` runs them."""

    def __init__(self, steps: list[Any], raw_kinds: Mapping[str, str]) -> None:
        from tabloop.prepare import DeriveFeatures, LogTransform, Preprocess, SelectFeatures

        kinds = {
            name: {"numeric": "num", "categorical": "text"}.get(k, k)
            for name, k in raw_kinds.items()
        }
        self.raw_kinds = dict(kinds)
        self.derived: list[tuple[str, str, Any, bool]] = []
        self.logged: list[str] = []
        order = [DeriveFeatures, LogTransform, SelectFeatures, Preprocess]
        position = -1
        for step in steps:
            if type(step) not in order or order.index(type(step)) <= position:
                raise Unsupported(f"a {type(step).__name__} step")
            position = order.index(type(step))
            if isinstance(step, DeriveFeatures):
                for name, formula in step.formulas_.items():
                    kind, fn, fragile = compile_formula(formula._tree, kinds)
                    kinds[name] = kind
                    self.derived.append((name, kind, fn, fragile))
            elif isinstance(step, LogTransform):
                self.logged = list(step.columns_)
        if position != 3:
            raise Unsupported("a pipeline without a Preprocess step")
        self.signature = tuple(
            (name, formula.text)
            for step in steps
            if isinstance(step, DeriveFeatures)
            for name, formula in step.formulas_.items()
        )
        self._preprocess(steps[-1])

    # -- compile Preprocess from its fitted ColumnTransformer --------------------------------
    def _preprocess(self, pre: Any) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

        from tabloop.prepare._preprocess import MISSING

        if pre.datetime_:
            raise Unsupported("datetime columns")
        self.family, refuse = pre.family, pre.unseen == "error"
        self.outputs: list[_Output] = []
        self.numeric_steps: list[tuple[str, Any]] = []
        for name, transformer, columns in pre.transformer_.transformers_:
            columns = list(columns)
            if name == "remainder" or not columns:
                continue
            if name == "numeric":
                steps = transformer.steps if isinstance(transformer, Pipeline) else []
                if not isinstance(transformer, Pipeline) and not _passthrough(transformer):
                    raise Unsupported(f"numeric transformer {type(transformer).__name__}")
                width = len(columns)
                for _, step in steps:
                    if type(step) is StandardScaler:
                        mean = step.mean_ if step.with_mean else None
                        scale = step.scale_ if step.with_std else None
                        self.numeric_steps.append(("scale", (mean, scale)))
                    elif type(step) is SimpleImputer and _is_nan(step.missing_values):
                        features = step.indicator_.features_ if step.add_indicator else None
                        stats = np.asarray(step.statistics_, dtype="float64")
                        self.numeric_steps.append(("impute", (stats, features)))
                        width += 0 if features is None else len(features)
                    else:
                        raise Unsupported(f"numeric step {type(step).__name__}")
                self.outputs.append(_Output("numeric", tuple(columns), width))
                continue
            known = [list(pre.categories_[c]) for c in columns]
            if name == "categorical" and _passthrough(transformer):
                lists = [(*k, MISSING) for k in known]
                kind = "native"
            elif name == "categorical" and type(transformer) is OrdinalEncoder:
                if transformer.handle_unknown != "use_encoded_value":
                    raise Unsupported("an OrdinalEncoder that raises on unknown values")
                lists = [tuple(c) for c in transformer.categories_]
                kind = "ordinal"
            elif name == "onehot" and type(transformer) is OneHotEncoder:
                if transformer.drop_idx_ is not None or transformer._infrequent_enabled:
                    raise Unsupported("one-hot encoding with drop or infrequent categories")
                lists = [tuple(c) for c in transformer.categories_]
                kind = "onehot"
            else:
                raise Unsupported(f"categorical transformer {name!r}")
            specs = []
            for column, cats, allowed in zip(columns, lists, known, strict=True):
                position = {str(v): float(i) for i, v in enumerate(cats)}
                unknown = -1.0 if kind == "ordinal" else math.nan
                if kind == "ordinal":
                    unknown = float(transformer.unknown_value)
                codes = {k: position.get(k, unknown) for k in allowed}
                specs.append(_Categorical(column, codes, position.get(MISSING, unknown), refuse))
            width = sum(len(c) for c in lists) if kind == "onehot" else len(columns)
            self.outputs.append(_Output(kind, tuple(zip(specs, lists, strict=True)), width))
        expected = len(pre.get_feature_names_out())
        if sum(o.width for o in self.outputs) != expected:
            raise Unsupported("an output layout that differs from the fitted transformer")

    # -- run ----------------------------------------------------------------------------------
    def block(self, cols: Columns) -> Block:
        local = self._local(cols)
        parts: list[np.ndarray] = []
        categorical: list[int] = []
        categories: list[tuple[str, ...]] = []
        position = 0
        for output in self.outputs:
            if output.kind == "numeric":
                parts.append(self._numeric(cols, local, output.columns))
                position += output.width
                continue
            for spec, cats in output.columns:
                codes = self._codes(cols, local, spec)
                if output.kind == "onehot":
                    parts.append(codes[:, None] == np.arange(len(cats))[None, :])
                    position += len(cats)
                    continue
                if output.kind == "native":
                    categorical.append(position)
                    categories.append(cats)
                parts.append(codes[:, None])
                position += 1
        values = np.hstack(parts).astype("float64") if parts else np.empty((cols.n, 0))
        return Block(values, tuple(categorical), tuple(categories))

    def _local(self, cols: Columns) -> dict[str, np.ndarray]:
        local: dict[str, np.ndarray] = {}
        empty: set[str] = set()  # derived from a numeric column with no value (see Formula)
        for name, _, fn, fragile in self.derived:
            key = ("derive", self.signature, name)
            local[name], hollow = cols.memo(
                key, partial(self._derive, cols, local, empty, fn, fragile)
            )
            if hollow:
                empty.add(name)
        for column in self.logged:
            values = self._num(cols, local, column)

            def log(values: np.ndarray = values) -> np.ndarray:
                with np.errstate(invalid="ignore"):
                    return np.log1p(np.where(values >= 0, values, np.nan))

            local[column] = cols.memo(("log", self.signature, column), log)
        return local

    def _derive(
        self, cols: Columns, local: dict[str, np.ndarray], empty: set[str], fn: Any, fragile: bool
    ) -> tuple[np.ndarray, bool]:
        hollow = False

        def get(name: str) -> np.ndarray:
            nonlocal hollow
            if name in local:
                values, nothing = local[name], name in empty
            elif self.raw_kinds.get(name) == "num":
                values, nothing = cols.formula_num(name)
            else:
                return cols.text(name)
            if nothing and fragile:
                raise Unclean
            hollow = hollow or nothing
            return values

        return fn(get, cols.n), hollow

    @staticmethod
    def _num(cols: Columns, local: dict[str, np.ndarray], name: str) -> np.ndarray:
        if name in local:
            return local[name].astype("float64", copy=False)
        return cols.num(name)

    def _numeric(
        self, cols: Columns, local: dict[str, np.ndarray], names: tuple[Any, ...]
    ) -> np.ndarray:
        X = np.empty((cols.n, len(names)))
        for j, name in enumerate(names):
            X[:, j] = self._num(cols, local, name)
        indicator = None
        for kind, params in self.numeric_steps:
            if kind == "scale":
                mean, scale = params
                X = X - mean if mean is not None else X
                X = X / scale if scale is not None else X
            else:
                stats, features = params
                missing = np.isnan(X)
                X = np.where(missing, stats, X)
                if features is not None:
                    indicator = missing[:, features]
        return X if indicator is None else np.hstack([X, indicator])

    def _codes(self, cols: Columns, local: dict[str, np.ndarray], spec: _Categorical) -> np.ndarray:
        name = spec.name
        if name in local:
            values = local[name]
            keys: list[str | None] = (
                ["true" if v else "false" for v in values]
                if values.dtype == bool
                else [_float_key(v) for v in values.tolist()]
            )
        else:
            keys = cols.keys(name)
        codes, other = spec.codes, spec.other
        if spec.refuse_unseen:
            unseen = [k for k in keys if k is not None and k not in codes]
            if unseen:
                shown = ", ".join(repr(v) for v in list(dict.fromkeys(unseen))[:5])
                raise SchemaError(
                    f"Column {name!r} has value(s) never seen in training: {shown}; "
                    "set prepare.unseen_categories to 'ignore' to treat them as missing."
                )
        return np.fromiter((codes.get(k, other) for k in keys), "float64", cols.n)  # type: ignore[arg-type]


def _passthrough(transformer: Any) -> bool:
    """``passthrough`` as given, or as a fitted ColumnTransformer holds it."""
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    return type(transformer) is FunctionTransformer and transformer.func is None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def block_from_frame(frame: Any) -> Block:
    """The :class:`Block` of a prepared DataFrame (the output of the DataFrame path)."""
    import pandas as pd

    values = np.empty(frame.shape, dtype="float64")
    categorical, categories = [], []
    for j, column in enumerate(frame.columns):
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype("float64")
            codes[codes < 0] = np.nan
            values[:, j] = codes
            categorical.append(j)
            categories.append(tuple(str(c) for c in series.cat.categories))
        else:
            values[:, j] = series.to_numpy(dtype="float64", na_value=np.nan)
    return Block(values, tuple(categorical), tuple(categories))
