"""Derived-feature formulas: a small, closed expression language over columns.

Written by hand on purpose: ``pandas.eval`` has no ``where``/``lookup`` and resolves
attributes, and general "safe eval" libraries allow attribute access, so a formula could call
``age.to_csv(...)``. Here the grammar is closed: column names, numbers, strings, booleans,
arithmetic, comparisons, ``and``/``or``/``not``, ``in [...]`` and a fixed set of functions.
The grammar (the names, each function's parameters, the parse-time check that rejects
attributes, subscripts, lambdas, comprehensions and unknown functions with the formula's key
and the offending piece) is ``tabloop.config.parse_formula``, so that ``config`` checks a
project file's formulas without importing this stage.

One table (:data:`BINARY`, :data:`COMPARE`, :data:`TABLE`), keyed by the grammar's names
and checked against them at import, gives every operator and function its pandas form, used
by :meth:`Formula.evaluate`, and its numpy form, used by the formula's replay
(:mod:`tabloop.prepare._replay_formula`); an entry without a numpy form keeps the DataFrame
path.

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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from tabloop.config import (
    FORMULA_BINARY_OPERATORS,
    FORMULA_COMPARISONS,
    FORMULA_CONSTANTS,
    FORMULA_FUNCTIONS,
    parse_formula,
)
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

    pandas: Callable[..., Any]
    numpy: Callable[..., Any] | None
    constant: tuple[str, ...] = ()
    fragile: bool = False
    #: the parameters in order, from the grammar (``tabloop.config.FORMULA_FUNCTIONS``)
    params: tuple[str, ...] = ()


def _unary(fn: Callable[..., Any]) -> Function:
    return Function(_elementwise(fn), fn, fragile=True)


def _keyed_by_grammar(forms: dict[str, Function]) -> dict[str, Function]:
    """``forms`` with each function's parameters from the grammar, which must name exactly
    the same functions (and every constant argument among the parameters)."""
    if list(forms) != list(FORMULA_FUNCTIONS):
        raise RuntimeError(
            "prepare/_formula.py's TABLE and config's FORMULA_FUNCTIONS name different "
            f"functions: {sorted(set(forms) ^ set(FORMULA_FUNCTIONS))} (or a different order)."
        )
    table = {name: replace(f, params=FORMULA_FUNCTIONS[name]) for name, f in forms.items()}
    for name, f in table.items():
        if not set(f.constant) <= set(f.params):
            raise RuntimeError(f"TABLE[{name!r}].constant {f.constant} not in {f.params}.")
    return table


def _keyed_by_operators(table: dict[type, Operator], grammar: frozenset[type]) -> None:
    if set(table) != grammar:
        raise RuntimeError(
            "prepare/_formula.py's operators and config's grammar differ: "
            f"{sorted(k.__name__ for k in set(table) ^ grammar)}."
        )


_keyed_by_operators(BINARY, FORMULA_BINARY_OPERATORS)
_keyed_by_operators(COMPARE, FORMULA_COMPARISONS)
TABLE: dict[str, Function] = _keyed_by_grammar(
    {
        "where": Function(_where, np.where, fragile=True),
        "lookup": Function(_lookup, _lookup_numpy, ("default",)),
        "log": _unary(np.log),
        "log1p": _unary(np.log1p),
        "exp": _unary(np.exp),
        "sqrt": _unary(np.sqrt),
        "abs": _unary(np.abs),
        "round": Function(_elementwise(_round), _round, ("digits",), True),
        "clip": Function(_elementwise(_clip), _clip, ("low", "high"), True),
        "minimum": Function(_elementwise(np.minimum), np.minimum, fragile=True),
        "maximum": Function(_elementwise(np.maximum), np.maximum, fragile=True),
        "isnull": Function(_elementwise(pd.isna), None),  # numpy: per column kind
        "notnull": Function(_elementwise(pd.notna), None),
        "fillna": Function(
            lambda x, value, *, index: _series(x, index).fillna(value),
            _fillna_numpy,
            ("value",),
        ),
    }
)
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
        self._parsed = parse_formula(text, name=name)  # the grammar: config/_formula_grammar.py
        self._tree = self._parsed.tree
        self.columns: frozenset[str] = self._parsed.columns

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # pickled as its text and parsed again when loaded: the parse tree's bytes vary with
        # the process, and equal formulas must pickle (and fingerprint) equally so ensemble
        # members share their derived features (TabloopModel.predict_scores)
        return _formula_from_text, (self.text, self.name)

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

    # -- evaluation --------------------------------------------------------------------------
    def _eval(self, node: ast.AST, df: pd.DataFrame) -> Any:
        kind = type(node)
        if kind is ast.Constant:
            return node.value
        if kind is ast.Name:
            return FORMULA_CONSTANTS[node.id] if node.id in FORMULA_CONSTANTS else df[node.id]
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
        raise self._parsed.refuse(node, type(node).__name__)  # unreachable after parsing

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


def _formula_from_text(text: str, name: str) -> Formula:
    return Formula(text, name=name)
