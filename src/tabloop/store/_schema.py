"""The typed columns of the log: which JSON values each request field holds in a window,
and the one column type declared for it.

Maintainer note — one type per column, and which fields become columns
----------------------------------------------------------------------
The log keeps ``inputs`` and ``context`` as one JSON object per prediction. A typed reader
spreads them into columns, so it must know every key of the window and the kinds of JSON
value each holds *before* it decodes a row: a Parquet export and the partitions of a
distributed read all need the same schema, whatever rows they hold. A first pass over the
window asks the database for the distinct (key, kind) pairs (``SELECT DISTINCT`` over
``json_each``: a few rows per range, whatever the range's size), range by range, and the
results combine (:meth:`LogSchema.combine`).

The declared type of a column, from the kinds seen (null never counts):

* only integers that fit int64 → ``int64``; integers and reals → ``float64``;
* only text → ``string``; only booleans → ``bool``; only nulls (or nothing) → ``null``;
* anything else — numbers and text, booleans and numbers, objects or arrays, integers
  beyond int64 — → ``string``: text values as they are, the others as their JSON text
  (``3``, ``2.5``, ``true``, ``{"a":1}``). Nothing is lost, and the choice is listed in
  :attr:`LogColumn.note`. The database renders those values (see ``_json_sql.py``).

Which fields become columns follows ``tabloop.monitor``'s ``from_log``: every input key;
the context keys that are not also inputs (an input and a context key of the same name
are the same request field: the input's value is kept); and none named like a column the
reader returns beside them (``reserved``): a request field never shadows the logged
prediction, its time or its outcome. Column order: the keys of the window's first row in
that row's order (inputs, then context), then the other keys by name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["null", "integer", "bigint", "real", "text", "boolean", "json"]
Source = Literal["inputs", "context", "probabilities", "prediction", "outcome"]

#: The JSON objects spread into one column per key (probabilities: one struct field per class)
OBJECTS: tuple[Source, ...] = ("inputs", "context", "probabilities")
#: The JSON values read whole into one column
VALUES: tuple[Source, ...] = ("prediction", "outcome")

_PARSED = {
    frozenset(): "null",
    frozenset({"integer"}): "int64",
    frozenset({"real"}): "float64",
    frozenset({"integer", "real"}): "float64",
    frozenset({"integer", "bigint", "real"}): "float64",
    frozenset({"bigint", "real"}): "float64",
    frozenset({"text"}): "string",
    frozenset({"boolean"}): "bool",
}


@dataclass(frozen=True)
class LogColumn:
    """One typed column of the log: where its values come from and the type declared.

    ``source`` is the JSON column, ``key`` the object key (None for ``prediction`` and
    ``outcome``, read whole). ``type`` is the Arrow type's name: ``int64``, ``float64``,
    ``string``, ``bool`` or ``null``. ``rendered`` says the values are the database's text
    rendering (mixed kinds), not parsed JSON; ``note`` then says why, in one line.
    """

    name: str
    source: Source
    key: str | None
    kinds: frozenset[str]
    type: str
    rendered: bool

    @property
    def note(self) -> str | None:
        """Why a column holding other values than text is declared text; None otherwise."""
        if not self.rendered:
            return None
        seen = " and ".join(sorted(k for k in self.kinds if k != "null"))
        what = f"{self.source} key {self.key!r}" if self.key is not None else self.source
        return (
            f"column {self.name!r} ({what}) holds {seen} values: declared text, the values "
            "that are not text kept as their JSON text"
        )


def declare(kinds: Iterable[str]) -> tuple[str, bool]:
    """The Arrow type name declared for a column holding ``kinds``, and whether its values
    must be rendered as text by the database (see the module note)."""
    seen = frozenset(kinds) - {"null"}
    if seen in _PARSED:
        return _PARSED[seen], False
    return "string", True


@dataclass(frozen=True)
class LogSchema:
    """The kinds of JSON value every field of a window holds, and its first row's keys.

    Build it with :func:`tabloop.store.log_schema`; combine the schemas of several ranges
    with :meth:`combine`. :meth:`columns` applies the spreading rules of the module note.

    ``kinds`` maps ``(source, key)`` to the kinds seen (key None for ``prediction`` and
    ``outcome``); ``first`` lists the ``(source, key)`` pairs of the window's first row, in
    that row's order.
    """

    kinds: Mapping[tuple[Source, str | None], frozenset[str]] = field(default_factory=dict)
    first: tuple[tuple[Source, str], ...] = ()

    @classmethod
    def combine(cls, schemas: Iterable[LogSchema]) -> LogSchema:
        """One schema for the union of ranges; ``schemas`` in time order (the first that has
        rows gives the first row)."""
        kinds: dict[tuple[Source, str | None], frozenset[str]] = {}
        first: tuple[tuple[Source, str], ...] = ()
        for schema in schemas:
            for name, seen in schema.kinds.items():
                kinds[name] = kinds.get(name, frozenset()) | seen
            first = first or schema.first
        return cls(kinds, first)

    def keys(self, source: Source) -> list[str]:
        """The keys of ``source`` in column order: the first row's, then the others by name."""
        present = {key for (src, key) in self.kinds if src == source and key is not None}
        leading = [key for (src, key) in self.first if src == source and key in present]
        return leading + sorted(present - set(leading))

    def value(self, source: Source) -> LogColumn:
        """The column of a value read whole: ``prediction`` or ``outcome``."""
        kinds = self.kinds.get((source, None), frozenset())
        return LogColumn(source, source, None, kinds, *declare(kinds))

    def probabilities(self) -> LogColumn | None:
        """The ``probabilities`` column: a struct of float64 per class when every value is a
        number, else the objects' JSON text; None when no row has probabilities."""
        labels = self.keys("probabilities")
        if not labels:
            return None
        kinds = frozenset().union(*(self.kinds[("probabilities", k)] for k in labels))
        if kinds - {"null", "integer", "real", "bigint"}:
            return LogColumn("probabilities", "probabilities", None, kinds, "string", True)
        return LogColumn("probabilities", "probabilities", None, kinds, "struct", False)

    def columns(self, reserved: Collection[str] = ()) -> list[LogColumn]:
        """The spread columns: inputs, then context keys that are not inputs, none named in
        ``reserved``."""
        spread: list[LogColumn] = []
        for source, key in self._fields():
            if key not in reserved:
                kinds = self.kinds[(source, key)]
                spread.append(LogColumn(key, source, key, kinds, *declare(kinds)))
        return spread

    def shadowed(self, reserved: Collection[str]) -> list[str]:
        """The request fields left out because a reserved column has their name."""
        return [f"{source} key {key!r}" for source, key in self._fields() if key in reserved]

    def _fields(self) -> list[tuple[Source, str]]:
        inputs = self.keys("inputs")
        context = [key for key in self.keys("context") if key not in set(inputs)]
        return [("inputs", key) for key in inputs] + [("context", key) for key in context]
