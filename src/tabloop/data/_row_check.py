"""A records-level shortcut for schema validation: are these rows certainly valid?

It sits beside :func:`tabloop.data.validate`, whose errors it mirrors; the service
(``tabloop.serve``) runs it on request rows, from ``tabloop.data.frame``. Building a
DataFrame and running :func:`tabloop.data.validate` costs about 0.5 ms for one row, more
than the compiled prediction itself. :class:`RowCheck` answers a narrower
question on the JSON rows directly: would ``TabloopModel.check_input`` raise nothing? It
answers "yes" only when sure; for anything else (any problem, and values it does not
reason about such as numbers sent as text or datetime columns) it answers "not sure", and
the caller runs the full validator on a DataFrame. So it never writes a message: every
error a client sees is still the one ``validate`` writes.

It mirrors the errors of ``validate`` (warnings never fail a request): a missing or extra
column, a value of the wrong type, a column with no values in a batch of several rows
when training had none missing, an unseen category under ``unseen_categories: error``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tabloop.data._frame import BOOL_STRINGS, EXACT_INTEGER, Unclean, strict_category_key

if TYPE_CHECKING:
    from tabloop.data._schema import Schema


def _missing(value: Any) -> bool:
    return value is None or (type(value) is float and value != value)


def _key(value: Any) -> str | None:
    """The category key of a JSON scalar (the one rule of ``strict_category_key``);
    None when unsure."""
    try:
        return strict_category_key(value)
    except Unclean:
        return None


def _numeric(value: Any) -> bool:
    kind = type(value)
    return (
        (kind is float and math.isfinite(value))
        or kind is bool
        or (kind is int and abs(value) <= EXACT_INTEGER)
    )


def _boolean(value: Any) -> bool:
    kind = type(value)
    if kind is bool:
        return True
    if kind is int or kind is float:
        return value in (0, 1)
    return kind is str and value.strip().lower() in BOOL_STRINGS


def _scalar(value: Any) -> bool:
    return type(value) in (str, int, float, bool)


class RowCheck:
    """Certainly-valid test of request rows against a model's input schema."""

    def __init__(self, schema: Schema, *, refuse_unseen: bool) -> None:
        optional = {schema.id, schema.target}
        self.enabled = all(c.kind != "datetime" for c in schema.columns)
        self.names = frozenset(schema.names)
        self.required = [c.name for c in schema.columns if c.name not in optional]
        self.columns: list[tuple[str, str, bool, frozenset[str] | None]] = [
            (
                c.name,
                c.kind,
                c.nullable,
                frozenset(c.categories)
                if refuse_unseen and c.kind == "categorical" and c.categories is not None
                else None,
            )
            for c in schema.columns
        ]

    def passes(self, rows: Sequence[Any], extras: set[str] | frozenset[str]) -> bool:
        """True only if ``check_input`` of these rows' DataFrame would raise nothing."""
        if not self.enabled or not rows:
            return False
        present: set[Any] = set()
        for row in rows:
            if type(row) is not dict:
                return False
            present.update(row)
        if present - self.names - set(extras) or any(c not in present for c in self.required):
            return False
        several = len(rows) > 1
        for name, kind, nullable, allowed in self.columns:
            if name not in present:
                continue
            valid = _VALID.get(kind, _scalar)
            seen = False
            for row in rows:
                value = row.get(name)
                if _missing(value):
                    continue
                seen = True
                if not valid(value):
                    return False
                if allowed is not None and _key(value) not in allowed:
                    return False
            if several and not seen and not nullable:
                return False
        return True


_VALID = {"numeric": _numeric, "boolean": _boolean, "categorical": _scalar}
