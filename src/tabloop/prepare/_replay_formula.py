"""A parsed :class:`~tabloop.prepare.Formula` as closures over numpy columns: its replay.

The operators and functions come from the one table in :mod:`tabloop.prepare._formula`,
whose entries carry a pandas and a numpy form. Only the part of the grammar whose numpy
meaning is exactly the pandas one is compiled: arithmetic on numbers, comparisons of
numbers, equality and ``in [...]`` of a text column against text constants,
``and``/``or``/``not`` and the functions with a numpy form. Anything else (arithmetic on
text, ``//``, ``%``, comparing booleans, ...) raises :class:`Unsupported`, and that
pipeline keeps the DataFrame path.

Column kinds: ``num`` (float64, NaN for missing), ``text`` (object array of ``str`` or
``None``) and ``bool`` (a derived comparison). Results are ``num`` (float64, ±inf turned
to NaN as ``Formula.evaluate`` does) or ``bool``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabloop.prepare._formula import BINARY, COMPARE, TABLE, Formula
from tabloop.prepare._replay import Unsupported

Getter = Callable[[str], np.ndarray]
Run = Callable[[Getter], Any]
_NO_CONSTANT = object()


@dataclass(frozen=True)
class FormulaReplay:
    """``fn(get, n)`` gives the formula's ``n`` values (``get(name)``: a column's array).

    ``kind`` is ``num`` or ``bool``. ``fragile``: the formula negates a column, applies a
    numeric function to one, orders two columns (``a < b``) or picks between columns with
    ``where``. A numeric column with
    no value in a request is an object column of nulls in pandas, where arithmetic and
    comparisons give what NaN gives but those raise; the caller sends such requests down
    the DataFrame path so that they fail (or not) exactly as before.
    """

    kind: str
    fn: Callable[[Getter, int], np.ndarray]
    fragile: bool


@dataclass(frozen=True)
class _Node:
    kind: str  # num | bool | text (arrays or scalars) | str | none (constants) | list
    run: Run
    constant: Any = _NO_CONSTANT

    @property
    def is_constant(self) -> bool:
        return self.constant is not _NO_CONSTANT


def _const(kind: str, value: Any) -> _Node:
    return _Node(kind, lambda get: value, value)


def compile_formula(formula: Formula, kinds: Mapping[str, str]) -> FormulaReplay:
    """``formula`` over numpy columns of the given kinds (``num``, ``text``, ``bool``);
    :class:`Unsupported` when part of it has no exact numpy form."""
    compiler = _Compiler(kinds)
    node = compiler.node(formula._tree.body)
    if node.kind not in ("num", "bool") or node.is_constant:
        raise Unsupported(f"a formula giving {node.kind} values")
    run = node.run
    if node.kind == "bool":

        def truths(get: Getter, n: int) -> np.ndarray:
            return np.broadcast_to(np.asarray(run(get), dtype=bool), (n,))

        return FormulaReplay("bool", truths, compiler.fragile)

    def numbers(get: Getter, n: int) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = np.array(np.broadcast_to(np.asarray(run(get), dtype="float64"), (n,)))
        out[np.isinf(out)] = np.nan
        return out

    return FormulaReplay("num", numbers, compiler.fragile)


def _truth(node: _Node) -> Run:
    """``fillna(False).astype(bool)`` of a value, as the pandas evaluator takes conditions."""
    run = node.run
    if node.kind == "bool":
        return run
    if node.kind == "num" and not node.is_constant:
        return lambda get: _nonzero(run(get))
    raise Unsupported(f"a {node.kind} value as a condition")


def _nonzero(x: np.ndarray) -> np.ndarray:
    return ~np.isnan(x) & (x != 0)


def _text_equal(values: np.ndarray, text: str, negate: bool) -> np.ndarray:
    out = np.fromiter((v == text for v in values), dtype=bool, count=len(values))
    return ~out if negate else out


class _Compiler:
    def __init__(self, kinds: Mapping[str, str]) -> None:
        self.kinds = kinds
        self.fragile = False

    def column(self, name: str) -> _Node:
        kind = self.kinds.get(name)
        if kind not in ("num", "text", "bool"):
            raise Unsupported(f"column {name!r} of kind {kind}")
        return _Node(kind, lambda get: get(name))

    def node(self, node: ast.AST) -> _Node:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return _const("bool", value)
            if isinstance(value, int | float):
                return _const("num", value)
            if isinstance(value, str):
                return _const("str", value)
            return _const("none", None)
        if isinstance(node, ast.Name):
            constants = {"True": ("bool", True), "False": ("bool", False), "nan": ("num", np.nan)}
            if node.id == "None":
                return _const("none", None)
            if node.id in constants:
                return _const(*constants[node.id])
            return self.column(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            return self.arithmetic(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BoolOp):
            truths = [_truth(self.node(v)) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

            def both(get: Getter) -> Any:
                result = truths[0](get)
                for truth in truths[1:]:
                    result = combine(result, truth(get))
                return result

            return _Node("bool", both)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self.call(node)
        raise Unsupported(type(node).__name__)

    def unary(self, node: ast.UnaryOp) -> _Node:
        operand = self.node(node.operand)
        if isinstance(node.op, ast.Not) and not operand.is_constant:
            truth = _truth(operand)
            return _Node("bool", lambda get: ~truth(get))
        if isinstance(node.op, ast.USub | ast.UAdd) and operand.kind == "num":
            negate = isinstance(node.op, ast.USub)
            if operand.is_constant:
                return _const("num", -operand.constant if negate else operand.constant)
            self.fragile = True
            run = operand.run
            return _Node("num", lambda get: -run(get) if negate else run(get))
        raise Unsupported(f"{type(node.op).__name__} of a {operand.kind} value")

    def arithmetic(self, node: ast.BinOp) -> _Node:
        left, right = self.node(node.left), self.node(node.right)
        op = BINARY[type(node.op)].numpy
        if op is None:
            raise Unsupported(f"{type(node.op).__name__} (no exact numpy form)")
        if left.kind != "num" or right.kind != "num":
            raise Unsupported(f"arithmetic on {left.kind} and {right.kind}")
        if isinstance(node.op, ast.Pow) and not (
            right.is_constant and (isinstance(right.constant, float) or right.constant >= 0)
        ):
            # pandas raises for an integer column to a negative integer power
            raise Unsupported("a power whose exponent is not a non-negative constant")
        if left.is_constant and right.is_constant:
            return _const("num", op(left.constant, right.constant))
        lrun, rrun = left.run, right.run
        return _Node("num", lambda get: op(lrun(get), rrun(get)))

    def compare(self, node: ast.Compare) -> _Node:
        steps: list[Run] = []
        left = self.node(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                steps.append(self.membership(left, right_node, isinstance(op, ast.NotIn)))
                left = _const("list", None)  # a chain may not go on from a list
                continue
            right = self.node(right_node)
            steps.append(self.comparison(type(op), left, right))
            left = right

        def run(get: Getter) -> Any:
            result: Any = True
            for step in steps:
                result = result & step(get)
            return result

        return _Node("bool", run)

    def comparison(self, op: type, left: _Node, right: _Node) -> Run:
        fn = COMPARE[op].numpy
        if (
            fn is not None
            and left.kind == "num"
            and right.kind == "num"
            and not (left.is_constant and right.is_constant)
        ):
            if op not in (ast.Eq, ast.NotEq) and not (left.is_constant or right.is_constant):
                # pandas raises ordering a number column against an object column of nulls
                self.fragile = True
            lrun, rrun = left.run, right.run
            return lambda get: fn(lrun(get), rrun(get))
        if op in (ast.Eq, ast.NotEq) and {left.kind, right.kind} == {"text", "str"}:
            column, text = (left, right) if left.kind == "text" else (right, left)
            run, value, negate = column.run, text.constant, op is ast.NotEq
            return lambda get: _text_equal(run(get), value, negate)
        raise Unsupported(f"comparing {left.kind} with {right.kind}")

    def membership(self, left: _Node, right: ast.AST, negate: bool) -> Run:
        if not isinstance(right, ast.List | ast.Tuple) or left.is_constant:
            raise Unsupported("'in' on a constant")
        items = [self.node(e) for e in right.elts]
        run = left.run
        if left.kind == "text" and all(i.kind == "str" for i in items):
            allowed = frozenset(i.constant for i in items)

            def member(get: Getter) -> np.ndarray:
                values = run(get)
                return np.fromiter((v in allowed for v in values), dtype=bool, count=len(values))

        elif left.kind == "num" and all(
            i.kind == "num" and i.is_constant and i.constant == i.constant for i in items
        ):
            numbers = np.asarray([i.constant for i in items], dtype="float64")

            def member(get: Getter) -> np.ndarray:
                return np.isin(run(get), numbers)

        else:
            raise Unsupported(f"'in' of a {left.kind} value")
        return (lambda get: ~member(get)) if negate else member

    # -- functions, from the table --------------------------------------------------------
    def call(self, node: ast.Call) -> _Node:
        name = node.func.id  # type: ignore[attr-defined]
        if name == "col":
            return self.column(node.args[0].value)  # type: ignore[attr-defined]
        function = TABLE.get(name)
        if function is None or len(node.args) > len(function.params):
            raise Unsupported(f"function {name}")
        bound: dict[str, ast.AST] = dict(zip(function.params, node.args, strict=False))
        for keyword in node.keywords:
            if keyword.arg not in function.params or keyword.arg in bound:
                raise Unsupported(f"{name}({keyword.arg}=...)")
            bound[keyword.arg] = keyword.value
        if name == "lookup":
            return self.lookup(bound)
        args = {k: self.node(v) for k, v in bound.items()}
        if name in ("isnull", "notnull"):
            return self.missing(name, args.get("x"), negate=name == "notnull")
        if function.numpy is None:
            raise Unsupported(f"function {name}")
        constants = {k: self.constant_number(args.get(k), name, k) for k in function.constant}
        # a condition never makes a formula fragile: only the values it picks between
        varying = [k for k in function.params if k not in (*function.constant, "cond")]
        varying = [k for k in varying if k in args]
        if function.fragile and not all(args[k].is_constant for k in varying):
            self.fragile = True
        runs: list[Run] = []
        for key in function.params:
            if key in function.constant:
                continue
            if key not in args:
                raise Unsupported(f"{name}() without {key}")
            if key == "cond":
                runs.append(_truth(args[key]))
            elif args[key].kind != "num":
                raise Unsupported(f"{name}() on a non-numeric {key}")
            else:
                runs.append(args[key].run)
        fn, kwargs = function.numpy, {k: v for k, v in constants.items() if v is not _NO_CONSTANT}
        if name in ("fillna", "round") and None in kwargs.values():
            raise Unsupported(f"{name}() with None")
        if name == "fillna" and "value" not in kwargs:
            raise Unsupported("fillna() without a number")
        return _Node("num", lambda get: fn(*(r(get) for r in runs), **kwargs))

    @staticmethod
    def constant_number(node: _Node | None, name: str, key: str) -> Any:
        if node is None:
            return _NO_CONSTANT
        if not node.is_constant or node.kind not in ("num", "none"):
            raise Unsupported(f"{name}() {key} that is not a constant number")
        return node.constant

    def missing(self, name: str, x: _Node | None, negate: bool) -> _Node:
        if x is None or x.is_constant:
            raise Unsupported(f"{name}() of a constant")
        run, kind = x.run, x.kind

        def missing(get: Getter) -> np.ndarray:
            values = run(get)
            if kind == "num":
                out = np.isnan(values)
            elif kind == "text":
                out = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
            else:
                out = np.zeros(len(values), dtype=bool)
            return ~out if negate else out

        return _Node("bool", missing)

    def lookup(self, bound: dict[str, ast.AST]) -> _Node:
        from tabloop.data.frame import float_category_key

        table = bound.get("table")
        if "column" not in bound or not isinstance(table, ast.Dict):
            raise Unsupported("lookup() without a table")
        column = self.node(bound["column"])
        if column.is_constant or column.kind not in ("num", "text"):
            raise Unsupported(f"lookup() of a {column.kind} value")
        keyed: dict[Any, Any] = {}
        for key, value in zip(table.keys, table.values, strict=True):
            raw = key.id if isinstance(key, ast.Name) else key.value  # type: ignore[union-attr]
            keyed[raw] = self.constant_number(self.node(value), "lookup", "value")
        default = self.constant_number(
            self.node(bound["default"]) if "default" in bound else None, "lookup", "default"
        )
        default = 0 if default is _NO_CONSTANT else default
        if default is None:
            raise Unsupported("lookup() default None")
        numpy, run, numeric = TABLE["lookup"].numpy, column.run, column.kind == "num"
        assert numpy is not None

        def look(get: Getter) -> np.ndarray:
            values = run(get)
            keys = map(float_category_key, values.tolist()) if numeric else values
            return numpy(keys, keyed, default)  # type: ignore[no-any-return]

        return _Node("num", look)
