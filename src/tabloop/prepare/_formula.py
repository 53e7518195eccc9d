"""Derived-feature formulas: a small, closed expression language over columns.

Written by hand on purpose: ``pandas.eval`` has no ``where``/``lookup`` and resolves
attributes, and general "safe eval" libraries allow attribute access, so a formula could call
``age.to_csv(...)``. Here the grammar is closed: column names, numbers, strings, booleans,
arithmetic, comparisons, ``and``/``or``/``not``, ``in [...]`` and a fixed set of functions.
Anything else (attributes, subscripts, lambdas, comprehensions, unknown names) is rejected
at parse time with the formula's key and the offending piece.

One table (:data:`BINARY`, :data:`COMPARE`, :data:`TABLE`) gives every operator and
function its pandas form, used by :meth:`Formula.evaluate`, and its numpy form, used by
the formula's replay (:mod:`tabloop.prepare._replay_formula`); an entry without a numpy
form keeps the DataFrame path.

Functions
---------
``where(cond, a, b)``, ``lookup(column, {value: number, ...}, default=0)``,
``log``, ``log1p``, ``exp``, ``sqrt``, ``abs``, ``round(x, digits=0)``, ``clip(x, low, high)``,
``minimum(a, b)``, ``maximum(a, b)``, ``isnull(x)``, ``notnull(x)``, ``fillna(x, value)``,
and ``col("name with spaces")`` for a column whose name is not an identifier.

Examples
--------
>>> import pandas as pd
>>> from tabloop.prepare import Formula
>>> df = pd.DataFrame({"age": [30, 60], "cond": ["yes", "no"]})
>>> Formula("age * where(cond == 'yes', 1.5, 1)").evaluate(df).tolist()
[45.0, 60.0]
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabloop.data import frame as _frame
from tabloop.exceptions import FormulaError


@dataclass(frozen=True)
class Operator:
    """One operator of the grammar: its meaning on pandas Series and scalars, and its
    meaning on float64 numpy arrays where that is exactly the pandas one (``None``: no
    exact numpy form, so a formula using it keeps the DataFrame path)."""

    pandas: Callable[[Any, Any], Any]
    numpy: Callable[[Any, Any], Any] | None


BINARY: dict[type, Operator] = {
    ast.Add: Operator(operator.add, operator.add),
    ast.Sub: Operator(operator.sub, operator.sub),
    ast.Mult: Operator(operator.mul, operator.mul),
    ast.Div: Operator(operator.truediv, operator.truediv),
    ast.FloorDiv: Operator(operator.floordiv, None),  # pandas' and numpy's signs of 0 differ
    ast.Mod: Operator(operator.mod, None),
    ast.Pow: Operator(operator.pow, operator.pow),  # numpy: non-negative constant exponents only
}
COMPARE: dict[type, Operator] = {
    ast.Eq: Operator(operator.eq, operator.eq),
    ast.NotEq: Operator(operator.ne, operator.ne),
    ast.Lt: Operator(operator.lt, operator.lt),
    ast.LtE: Operator(operator.le, operator.le),
    ast.Gt: Operator(operator.gt, operator.gt),
    ast.GtE: Operator(operator.ge, operator.ge),
}
_CONSTANTS = {"True": True, "False": False, "None": None, "nan": np.nan}


def _series(value: Any, index: pd.Index) -> pd.Series:
    return value if isinstance(value, pd.Series) else pd.Series(value, index=index)


def _where(cond: Any, a: Any, b: Any, *, index: pd.Index) -> pd.Series:
    chosen = np.where(_series(cond, index).fillna(False).astype(bool), a, b)
    return pd.Series(chosen, index=index)


def _lookup(column: Any, table: dict[Any, Any], default: Any = 0, *, index: pd.Index) -> pd.Series:
    keyed = {_frame.category_key(k): v for k, v in table.items()}
    return _frame.category_keys(_series(column, index)).map(keyed).astype("float64").fillna(default)


def _lookup_numpy(keys: Iterable[str | None], table: dict[Any, Any], default: float) -> np.ndarray:
    """``lookup`` on a column's category keys (``None`` for missing values)."""
    keyed = {_frame.category_key(k): np.nan if v is None else float(v) for k, v in table.items()}
    values = list(keys)
    out = np.fromiter((keyed.get(k, np.nan) for k in values), "float64", len(values))  # type: ignore[arg-type]
    return np.where(np.isnan(out), default, out)


def _fillna_numpy(x: np.ndarray, value: float) -> np.ndarray:
    return np.where(np.isnan(x), value, x)


def _elementwise(fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*args: Any, index: pd.Index) -> Any:
        return fn(*args)

    return apply


def _round(x: Any, digits: Any = 0) -> Any:
    return np.round(x, int(digits))


def _clip(x: Any, low: Any = None, high: Any = None) -> Any:
    return np.clip(x, low, high)


@dataclass(frozen=True)
class Function:
    """One function of the grammar, as :class:`Operator`: ``pandas(*args, index=...)`` and
    ``numpy(*args)`` on float64 arrays. ``constant`` names the arguments the numpy form
    takes only as constant numbers; ``fragile`` marks functions whose pandas form raises
    on a column with no value at all (an object column of nulls), where numpy gives NaN.
    """

    params: tuple[str, ...]
    pandas: Callable[..., Any]
    numpy: Callable[..., Any] | None
    constant: tuple[str, ...] = ()
    fragile: bool = False


def _unary(fn: Callable[..., Any]) -> Function:
    return Function(("x",), _elementwise(fn), fn, fragile=True)


TABLE: dict[str, Function] = {
    "where": Function(("cond", "a", "b"), _where, np.where, fragile=True),
    "lookup": Function(("column", "table", "default"), _lookup, _lookup_numpy, ("default",)),
    "log": _unary(np.log),
    "log1p": _unary(np.log1p),
    "exp": _unary(np.exp),
    "sqrt": _unary(np.sqrt),
    "abs": _unary(np.abs),
    "round": Function(("x", "digits"), _elementwise(_round), _round, ("digits",), True),
    "clip": Function(("x", "low", "high"), _elementwise(_clip), _clip, ("low", "high"), True),
    "minimum": Function(("a", "b"), _elementwise(np.minimum), np.minimum, fragile=True),
    "maximum": Function(("a", "b"), _elementwise(np.maximum), np.maximum, fragile=True),
    "isnull": Function(("x",), _elementwise(pd.isna), None),  # numpy: per column kind
    "notnull": Function(("x",), _elementwise(pd.notna), None),
    "fillna": Function(
        ("x", "value"),
        lambda x, value, *, index: _series(x, index).fillna(value),
        _fillna_numpy,
        ("value",),
    ),
}
#: The functions a formula may call, by name (their pandas form).
FUNCTIONS: dict[str, Callable[..., Any]] = {name: f.pandas for name, f in TABLE.items()}


class Formula:
    """A parsed, checked formula; ``columns`` are the column names it reads.

    Parameters
    ----------
    text : the formula, e.g. ``"to_assessment * 0.01 * age"``.
    name : where it comes from, for messages (e.g. ``"features.derive.age_weighted"``).
    """

    def __init__(self, text: str, *, name: str = "formula") -> None:
        self.text = text
        self.name = name
        if not isinstance(text, str) or not text.strip():
            raise FormulaError(f"{name}: expected a formula string; got {text!r}.")
        try:
            self._tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise FormulaError(f"{name}: {text!r} is not a valid formula ({exc.msg}).") from None
        self.columns: frozenset[str] = frozenset(self._check(self._tree.body))

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def check_columns(self, available: Iterable[str]) -> None:
        """Raise :class:`FormulaError` for the first column the data does not have."""
        available = list(available)
        for column in sorted(self.columns):
            if column not in available:
                close = difflib.get_close_matches(column, available, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise FormulaError(
                    f"{self.name}: unknown column {column!r} in {self.text!r}.{hint}"
                )

    def evaluate(self, df: pd.DataFrame) -> pd.Series:
        """The formula's values for every row of ``df`` (a scalar result is broadcast)."""
        self.check_columns(df.columns)
        with np.errstate(all="ignore"):
            try:
                value = self._eval(self._tree.body, df)
            except FormulaError:
                raise
            except Exception as exc:
                raise FormulaError(f"{self.name}: cannot evaluate {self.text!r}: {exc}") from exc
        result = _series(value, df.index)
        if pd.api.types.is_numeric_dtype(result.dtype) and not pd.api.types.is_bool_dtype(result):
            result = result.astype("float64").replace([np.inf, -np.inf], np.nan)
        return result

    # -- parse-time check: only the closed grammar ----------------------------------------
    def _check(self, node: ast.AST) -> set[str]:
        kind = type(node)
        if kind is ast.Constant:
            if not isinstance(node.value, int | float | str | bool | type(None)):
                raise self._refuse(node, "this constant")
            return set()
        if kind is ast.Name:
            return set() if node.id in _CONSTANTS else {node.id}
        if kind is ast.BinOp and type(node.op) in BINARY:
            return self._check(node.left) | self._check(node.right)
        if kind is ast.UnaryOp and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            return self._check(node.operand)
        if kind is ast.BoolOp:
            return set().union(*(self._check(v) for v in node.values))
        if kind is ast.Compare:
            found = self._check(node.left)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, ast.List | ast.Tuple):
                        raise self._refuse(
                            right, "'in' needs a list of values, e.g. x in ['a', 'b']"
                        )
                elif type(op) not in COMPARE:
                    raise self._refuse(node, "this comparison")
                found |= self._check(right)
            return found
        if kind in (ast.List, ast.Tuple):
            return set().union(set(), *(self._check(e) for e in node.elts))
        if kind is ast.Dict:
            for key in node.keys:
                if not isinstance(key, ast.Constant | ast.Name):
                    raise self._refuse(node, "dictionary keys must be values")
            return set().union(set(), *(self._check(v) for v in node.values))
        if kind is ast.Call:
            return self._check_call(node)
        raise self._refuse(node, type(node).__name__)

    def _check_call(self, node: ast.Call) -> set[str]:
        if not isinstance(node.func, ast.Name):
            raise self._refuse(node.func, "calling anything but a listed function")
        name = node.func.id
        if name == "col":
            if (
                len(node.args) != 1
                or not isinstance(node.args[0], ast.Constant)
                or not isinstance(node.args[0].value, str)
            ):
                raise self._refuse(node, 'col() takes one column name, e.g. col("my column")')
            return {node.args[0].value}
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, [*FUNCTIONS, "col"], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise FormulaError(
                f"{self.name}: unknown function {name!r} in {self.text!r}.{hint} "
                f"Available: {', '.join(sorted([*FUNCTIONS, 'col']))}."
            )
        found: set[str] = set()
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            found |= self._check(arg)
        if name == "lookup" and (len(node.args) < 2 or not isinstance(node.args[1], ast.Dict)):
            raise self._refuse(node, "lookup(column, {value: number, ...}) needs a dictionary")
        return found

    def _refuse(self, node: ast.AST, what: str) -> FormulaError:
        piece = ast.get_source_segment(self.text.strip(), node) or type(node).__name__
        return FormulaError(
            f"{self.name}: {what} is not allowed in a formula ({piece!r} in {self.text!r})."
        )

    # -- evaluation --------------------------------------------------------------------------
    def _eval(self, node: ast.AST, df: pd.DataFrame) -> Any:
        kind = type(node)
        if kind is ast.Constant:
            return node.value
        if kind is ast.Name:
            return _CONSTANTS[node.id] if node.id in _CONSTANTS else df[node.id]
        if kind is ast.BinOp:
            return BINARY[type(node.op)].pandas(
                self._eval(node.left, df), self._eval(node.right, df)
            )
        if kind is ast.UnaryOp:
            value = self._eval(node.operand, df)
            if isinstance(node.op, ast.Not):
                return ~_series(value, df.index).fillna(False).astype(bool)
            return -value if isinstance(node.op, ast.USub) else value
        if kind is ast.BoolOp:
            values = [
                _series(self._eval(v, df), df.index).fillna(False).astype(bool) for v in node.values
            ]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if kind is ast.Compare:
            return self._compare(node, df)
        if kind in (ast.List, ast.Tuple):
            return [self._eval(e, df) for e in node.elts]
        if kind is ast.Dict:
            keys = [k.id if isinstance(k, ast.Name) else k.value for k in node.keys]
            return {k: self._eval(v, df) for k, v in zip(keys, node.values, strict=True)}
        if kind is ast.Call:
            name = node.func.id  # checked at parse time
            if name == "col":
                return df[node.args[0].value]
            args = [self._eval(a, df) for a in node.args]
            kwargs = {k.arg: self._eval(k.value, df) for k in node.keywords}
            return FUNCTIONS[name](*args, **kwargs, index=df.index)
        raise self._refuse(node, type(node).__name__)  # unreachable after _check

    def _compare(self, node: ast.Compare, df: pd.DataFrame) -> pd.Series:
        left = self._eval(node.left, df)
        result = pd.Series(True, index=df.index)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self._eval(right_node, df)
            if isinstance(op, ast.In | ast.NotIn):
                member = _series(left, df.index).isin(right)
                step = member if isinstance(op, ast.In) else ~member
            else:
                step = _series(COMPARE[type(op)].pandas(left, right), df.index)
            result = result & step.fillna(False).astype(bool)
            left = right
        return result
