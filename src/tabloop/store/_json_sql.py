"""What the database does for the typed reader, in SQLite's and PostgreSQL's JSON dialects.

* :func:`kinds_query` — the distinct (key, kind) pairs of a JSON column over a range: the
  schema pass (``json_each``; a handful of rows out, whatever the range's size).
* :func:`rendered` — the text of a value in a column of mixed kinds: a string as it is,
  null as NULL, anything else as its JSON text (the stored text, so ``0.30000000000000004``
  and ``123456789012345678901`` keep every digit).
* :func:`raw_time` — a timestamp as UTC text, parsed by Arrow instead of row by row.

SQLite cannot address a key holding a double quote with a JSON path; such a key is found
with ``json_each`` instead, where a real number's text is SQLite's 17-digit rendering
(the same value, not always the stored digits). Stored text that does not parse as JSON
makes SQLite's JSON functions fail: :func:`kinds_query` then takes a ``guarded`` form that
skips it, and :func:`rendered` reads it as missing, as the rest of the log does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tabloop.store._tables import outcomes, predictions

INT64 = (-(2**63), 2**63 - 1)


def json_text(column: Any) -> Any:
    """A JSON column as its stored text, without the JSON type's decoding."""
    return sa.cast(column, sa.Text)


def stored_text(dialect: str, column: Any) -> Any:
    """A JSON column's value as JSON text with every digit of a number.

    SQLite keeps a bare number (a regression's prediction or outcome) as REAL, the JSON
    column's numeric affinity, and ``CAST`` renders a REAL with 15 significant digits
    (339.4849078865149 became 339.484907886515, unlike the ``score`` column beside it);
    ``printf('%!.17g')`` renders the same double.
    """
    if dialect == "postgresql":
        return json_text(column)
    real = sa.func.typeof(column) == "real"
    return sa.type_coerce(
        sa.case((real, sa.func.printf("%!.17g", column)), else_=json_text(column)), sa.Text
    )


def source_column(source: str) -> Any:
    """The table column holding ``source`` (``outcome`` lives in the outcomes table)."""
    return outcomes.c.value if source == "outcome" else predictions.c[source]


def _sqlite_kind(kind: Any, atom: Any) -> Any:
    return sa.case(
        (kind.in_(("true", "false")), "boolean"),
        (kind.in_(("object", "array")), "json"),
        ((kind == "integer") & (sa.func.typeof(atom) != "integer"), "bigint"),
        else_=kind,
    )


def _postgres_kind(value: Any) -> Any:
    kind, text = sa.func.json_typeof(value), sa.cast(value, sa.Text)
    integer = sa.case(
        (sa.cast(text, sa.Numeric).between(*INT64), "integer"),
        else_="bigint",
    )
    return sa.case(
        (kind == "number", sa.case((text.regexp_match("^-?[0-9]+$"), integer), else_="real")),
        (kind == "string", "text"),
        (kind.in_(("object", "array")), "json"),
        else_=kind,
    )


def kinds_query(
    dialect: str, source: str, where: sa.ColumnElement[bool], *, guarded: bool = False
) -> sa.Select[Any]:
    """``SELECT DISTINCT key, kind`` of ``source`` over the rows matching ``where``.

    An object source (inputs, context, probabilities) yields its keys; a value read whole
    (prediction, outcome) yields one row per kind with key NULL. Kinds: null, integer,
    bigint (beyond int64), real, text, boolean, json (object or array).
    """
    column = source_column(source)
    doc = json_text(column)
    rows = predictions.join(outcomes) if source == "outcome" else predictions
    if source in ("prediction", "outcome"):
        if dialect == "postgresql":
            kind = _postgres_kind(column)
        else:
            kind = _sqlite_kind(sa.func.json_type(doc), sa.func.json_extract(doc, "$"))
        query = sa.select(sa.null().label("key"), kind.label("kind")).select_from(rows)
        if guarded and dialect != "postgresql":
            where = where & (sa.func.json_valid(doc) == 1)
        return query.where(where).distinct()
    if dialect == "postgresql":
        each = sa.func.json_each(column).table_valued("key", "value", name="j").lateral()
        query = sa.select(each.c.key, _postgres_kind(each.c.value).label("kind"))
        where = where & (sa.func.json_typeof(column) == "object")
    else:
        each = sa.func.json_each(doc).table_valued("key", "type", "atom", name="j")
        query = sa.select(each.c.key, _sqlite_kind(each.c.type, each.c.atom).label("kind"))
        if guarded:
            where = where & (sa.func.json_valid(doc) == 1) & (sa.func.json_type(doc) == "object")
    return query.select_from(rows).join(each, sa.true()).where(where).distinct()


def rendered(dialect: str, source: str, key: str | None) -> Any:
    """The text of ``source``'s value at ``key`` (the whole value when None) in a column of
    mixed kinds (see the module docstring)."""
    column = source_column(source)
    if dialect == "postgresql":
        value = column if key is None else column.op("->")(sa.cast(sa.literal(key), sa.Text))
        kind = sa.func.json_typeof(value)
        string = (
            column.op("#>>", return_type=sa.Text)(sa.literal_column("'{}'"))
            if key is None
            else column.op("->>", return_type=sa.Text)(sa.cast(sa.literal(key), sa.Text))
        )
        return sa.case(
            (kind == "string", string),
            (kind == "null", sa.null()),
            else_=sa.cast(value, sa.Text),
        )
    doc = stored_text(dialect, column)
    if key is not None and '"' in key:
        return _sqlite_by_each(doc, key)
    path = "$" if key is None else f'$."{key}"'
    kind = sa.func.json_type(doc, path)
    return sa.case(
        (sa.func.json_valid(doc) != 1, sa.null()),
        (kind == "text", doc.op("->>", return_type=sa.Text)(path)),
        (kind == "null", sa.null()),
        else_=doc.op("->", return_type=sa.Text)(path),
    )


def _sqlite_by_each(doc: Any, key: str) -> Any:
    each = sa.func.json_each(doc).table_valued("key", "type", "atom", "value", name="e")
    text = sa.case(
        (each.c.type == "text", each.c.atom),
        (each.c.type == "null", sa.null()),
        (each.c.type.in_(("true", "false")), each.c.type),
        (
            (each.c.type == "integer") & (sa.func.typeof(each.c.atom) == "integer"),
            sa.cast(each.c.atom, sa.Text),
        ),
        (each.c.type.in_(("integer", "real")), sa.func.printf("%!.17g", each.c.atom)),
        else_=each.c.value,
    )
    found = sa.select(text).select_from(each).where(each.c.key == key).limit(1)
    return sa.case((sa.func.json_valid(doc) != 1, sa.null()), else_=found.scalar_subquery())


def raw_time(dialect: str, column: Any) -> Any:
    """``column`` (a UTC timestamp) as text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC."""
    if dialect == "postgresql":
        utc = sa.func.timezone("UTC", column)
        return sa.func.to_char(utc, "YYYY-MM-DD HH24:MI:SS.US")
    return sa.type_coerce(column, sa.String)  # SQLite keeps naive UTC text in that form
