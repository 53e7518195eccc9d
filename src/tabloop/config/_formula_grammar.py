"""The formula grammar: what a ``features.derive`` or ``retrain.filter`` formula may say.

It lives here, below every stage, so that ``config`` checks a project file's formulas
without importing ``prepare`` (STYLE.md habit 16). The grammar is closed: column names,
numbers, strings, booleans, arithmetic, comparisons, ``and``/``or``/``not``, ``in [...]``,
``col("name")`` and the functions of :data:`FORMULA_FUNCTIONS`. Anything else (attributes,
subscripts, lambdas, comprehensions, unknown functions) is rejected by :func:`parse_formula`
with the formula's key and the offending piece.

This module owns the names: the operators, the constants and each function's parameters.
Their meaning (a pandas and a numpy form each) is the one table of
``tabloop/prepare/_formula.py``, keyed by these names and checked against them when it is
imported.

Examples
--------
>>> parsed = parse_formula("age * where(cond == 'yes', 1.5, 1)", name="features.derive.w")
>>> sorted(parsed.columns)
['age', 'cond']
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass

from tabloop.exceptions import FormulaError

#: The arithmetic operators a formula may use.
FORMULA_BINARY_OPERATORS: frozenset[type[ast.operator]] = frozenset(
    {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow}
)
#: The comparisons a formula may use (besides ``in``/``not in`` a list of values).
FORMULA_COMPARISONS: frozenset[type[ast.cmpop]] = frozenset(
    {ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE}
)
#: The names that are constants, not columns, with their values.
FORMULA_CONSTANTS: dict[str, object] = {"True": True, "False": False, "None": None, "nan": math.nan}
#: The functions a formula may call, with their parameters in order (``col`` aside).
FORMULA_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "where": ("cond", "a", "b"),
    "lookup": ("column", "table", "default"),
    "log": ("x",),
    "log1p": ("x",),
    "exp": ("x",),
    "sqrt": ("x",),
    "abs": ("x",),
    "round": ("x", "digits"),
    "clip": ("x", "low", "high"),
    "minimum": ("a", "b"),
    "maximum": ("a", "b"),
    "isnull": ("x",),
    "notnull": ("x",),
    "fillna": ("x", "value"),
}


@dataclass(frozen=True)
class ParsedFormula:
    """A formula that passed the grammar: its ``tree`` and the ``columns`` it reads."""

    text: str
    name: str
    tree: ast.Expression
    columns: frozenset[str]

    def refuse(self, node: ast.AST, what: str) -> FormulaError:
        """The error for a piece of the formula the grammar does not allow."""
        piece = ast.get_source_segment(self.text.strip(), node) or type(node).__name__
        return FormulaError(
            f"{self.name}: {what} is not allowed in a formula ({piece!r} in {self.text!r})."
        )


def parse_formula(text: str, *, name: str = "formula") -> ParsedFormula:
    """Parse ``text`` and check it against the closed grammar.

    Parameters
    ----------
    text : the formula, e.g. ``"to_assessment * 0.01 * age"``.
    name : where it comes from, for messages (e.g. ``"features.derive.age_weighted"``).

    Raises
    ------
    FormulaError
        Naming ``name``, the formula and the offending piece.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError(f"{name}: expected a formula string; got {text!r}.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"{name}: {text!r} is not a valid formula ({exc.msg}).") from None
    parsed = ParsedFormula(text, name, tree, frozenset())
    columns = _Checker(parsed).check(tree.body)
    return ParsedFormula(text, name, tree, frozenset(columns))


class _Checker:
    """Walks a parsed formula, refusing what the grammar does not allow; returns columns."""

    def __init__(self, parsed: ParsedFormula) -> None:
        self.parsed = parsed

    def check(self, node: ast.AST) -> set[str]:
        refuse = self.parsed.refuse
        kind = type(node)
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool | type(None)):
                raise refuse(node, "this constant")
            return set()
        if isinstance(node, ast.Name):
            return set() if node.id in FORMULA_CONSTANTS else {node.id}
        if isinstance(node, ast.BinOp) and type(node.op) in FORMULA_BINARY_OPERATORS:
            return self.check(node.left) | self.check(node.right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            return self.check(node.operand)
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.check(v) for v in node.values))
        if isinstance(node, ast.Compare):
            found = self.check(node.left)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, ast.List | ast.Tuple):
                        raise refuse(right, "'in' needs a list of values, e.g. x in ['a', 'b']")
                elif type(op) not in FORMULA_COMPARISONS:
                    raise refuse(node, "this comparison")
                found |= self.check(right)
            return found
        if isinstance(node, ast.List | ast.Tuple):
            return set().union(set(), *(self.check(e) for e in node.elts))
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if not isinstance(key, ast.Constant | ast.Name):
                    raise refuse(node, "dictionary keys must be values")
            return set().union(set(), *(self.check(v) for v in node.values))
        if isinstance(node, ast.Call):
            return self.check_call(node)
        raise refuse(node, kind.__name__)

    def check_call(self, node: ast.Call) -> set[str]:
        refuse, text = self.parsed.refuse, self.parsed.text
        if not isinstance(node.func, ast.Name):
            raise refuse(node.func, "calling anything but a listed function")
        name = node.func.id
        if name == "col":
            if (
                len(node.args) != 1
                or not isinstance(node.args[0], ast.Constant)
                or not isinstance(node.args[0].value, str)
            ):
                raise refuse(node, 'col() takes one column name, e.g. col("my column")')
            return {node.args[0].value}
        if name not in FORMULA_FUNCTIONS:
            close = difflib.get_close_matches(name, [*FORMULA_FUNCTIONS, "col"], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise FormulaError(
                f"{self.parsed.name}: unknown function {name!r} in {text!r}.{hint} "
                f"Available: {', '.join(sorted([*FORMULA_FUNCTIONS, 'col']))}."
            )
        found: set[str] = set()
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            found |= self.check(arg)
        if name == "lookup" and (len(node.args) < 2 or not isinstance(node.args[1], ast.Dict)):
            raise refuse(node, "lookup(column, {value: number, ...}) needs a dictionary")
        return found
