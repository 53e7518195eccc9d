"""The log read as typed columns, a page at a time: the schema pass and the decoding.

Maintainer note — how a page is decoded
---------------------------------------
No Python code touches a row's JSON. Per page (``page_rows`` predictions in
(created_at, prediction_id) order, fetched by keyset, so a page costs the same at the end
of a window as at its start) the database returns the plain columns, one line of JSON text
per row assembled from the stored text — ``{"i":<inputs>,"c":<context>,"p":<prediction>,
"o":<outcome>,"q":<probabilities>}`` — and, for the rare columns of mixed kinds, their
text (``_json_sql.rendered``). Arrow's JSON reader parses the lines in C++ against the
declared schema (every column typed up front, from :func:`log_schema`), so the spread
columns come out typed and a key absent from a row is null.

A page whose lines Arrow refuses (text that is not JSON, written by hand or cut by a disk
error, or an object where a value was expected) is parsed again line by line; the lines
that do not parse are read as missing and logged, as :meth:`Store.predictions` does.
That path is Python and slow, and only taken for such a page.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tabloop.store._json_sql import (
    json_text,
    kinds_query,
    raw_time,
    rendered,
    source_column,
    stored_text,
)
from tabloop.store._ranges import LogRange, window
from tabloop.store._records import dumps, loads
from tabloop.store._schema import OBJECTS, VALUES, LogColumn, LogSchema
from tabloop.store._store import opened
from tabloop.store._tables import outcomes, predictions

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from tabloop.store._store import Store

log = logging.getLogger("tabloop.store")

PAGE_ROWS = 50_000

#: The log's own columns a typed read returns, in order (inputs and context are spread)
LOG_COLUMNS = (
    "prediction_id", "created_at", "period_id", "variant", "model_name", "model_version",
    "entity_id", "request_id", "prediction", "score", "probabilities", "latency_ms",
    "outcome", "outcome_batch", "outcome_at",
)  # fmt: skip

_PLAIN = {  # column -> (SQL expression, Arrow type name); the times are read as text
    "prediction_id": (predictions.c.prediction_id, "string"),
    "period_id": (predictions.c.period_id, "int64"),
    "variant": (predictions.c.variant, "string"),
    "model_name": (predictions.c.model_name, "string"),
    "model_version": (predictions.c.model_version, "string"),
    "entity_id": (predictions.c.entity_id, "string"),
    "request_id": (predictions.c.request_id, "string"),
    "score": (predictions.c.score, "float64"),
    "latency_ms": (predictions.c.latency_ms, "float64"),
    "outcome_batch": (outcomes.c.batch_id, "int64"),
}
_FIELD = {"inputs": "i", "context": "c", "prediction": "p", "outcome": "o", "probabilities": "q"}


def log_schema(store: Store | str, ranges: Sequence[LogRange]) -> LogSchema:
    """The kinds of value every field holds over ``ranges`` (see :class:`LogSchema`).

    One ``SELECT DISTINCT`` per range and JSON column: the database scans the range, and
    only the distinct (key, kind) pairs come back.
    """
    with opened(store, "read the column types of") as conn:
        return LogSchema.combine(_range_schema(conn, part) for part in ranges)


def _range_schema(conn: sa.Connection, part: LogRange) -> LogSchema:
    dialect = conn.dialect.name
    kinds: dict[Any, frozenset[str]] = {}
    for source in (*OBJECTS, *VALUES):
        try:
            found = conn.execute(kinds_query(dialect, source, part.where())).all()
            if any(key is not None and not isinstance(key, str) for key, _ in found):
                raise ValueError("an array where an object was expected")
        except (sa.exc.OperationalError, ValueError):  # stored text that is not an object
            conn.rollback()
            found = conn.execute(kinds_query(dialect, source, part.where(), guarded=True)).all()
        for key, kind in found:
            kinds[(source, key)] = kinds.get((source, key), frozenset()) | {kind}
    return LogSchema(kinds, _first_row(conn, part))


def _first_row(conn: sa.Connection, part: LogRange) -> tuple[Any, ...]:
    query = (
        sa.select(json_text(predictions.c.inputs), json_text(predictions.c.context))
        .where(part.where())
        .order_by(predictions.c.created_at, predictions.c.prediction_id)
        .limit(1)
    )
    row = conn.execute(query).first()
    if row is None:
        return ()
    keys: list[tuple[str, str]] = []
    for source, text in zip(("inputs", "context"), row, strict=True):
        try:
            value = loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(value, dict):
            keys += [(source, key) for key in value]
    return tuple(keys)


def typed_columns(
    schema: LogSchema, columns: Sequence[str] = LOG_COLUMNS, *, reserved: Sequence[str] = ()
) -> tuple[list[str], list[LogColumn]]:
    """The log columns read (``columns`` in the log's order, ``probabilities`` only when some
    row has them) and the spread columns (none named like a log column or ``reserved``)."""
    unknown = [name for name in columns if name not in LOG_COLUMNS]
    if unknown:
        raise ValueError(
            f"columns must be among {', '.join(LOG_COLUMNS)}; got {', '.join(map(repr, unknown))}."
        )
    wanted = [name for name in LOG_COLUMNS if name in columns]
    if schema.probabilities() is None and "probabilities" in wanted:
        wanted.remove("probabilities")
    return wanted, schema.columns({*columns, *reserved})


def arrow_schema(schema: LogSchema, names: Sequence[str], spread: Sequence[LogColumn]) -> pa.Schema:
    """The Arrow schema of a typed read: the log columns ``names``, then ``spread``."""
    import pyarrow as pa

    fields = []
    for name in names:
        if name in ("created_at", "outcome_at"):
            fields.append(pa.field(name, pa.timestamp("us", tz="UTC")))
        elif name in _PLAIN:
            fields.append(pa.field(name, _arrow(_PLAIN[name][1])))
        else:
            fields.append(pa.field(name, _column_type(schema, name)))
    fields += [pa.field(c.name, _arrow(c.type)) for c in spread]
    return pa.schema(fields)


def _column_type(schema: LogSchema, name: str) -> pa.DataType:
    import pyarrow as pa

    if name == "probabilities":
        column = schema.probabilities()
        assert column is not None
        if column.type == "struct":
            labels = schema.keys("probabilities")
            return pa.struct([pa.field(label, pa.float64()) for label in labels])
        return pa.string()
    return _arrow(schema.value("prediction" if name == "prediction" else "outcome").type)


def _arrow(name: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "null": pa.null(),
    }[name]


def read_pages(
    store: Store | str,
    part: LogRange,
    *,
    schema: LogSchema,
    columns: Sequence[str] = LOG_COLUMNS,
    reserved: Sequence[str] = (),
    page_rows: int = PAGE_ROWS,
) -> Iterator[pa.Table]:
    """The rows of ``part`` as Arrow tables of at most ``page_rows`` rows, oldest first,
    typed by ``schema`` (see :func:`read_range` for the columns)."""
    names, spread = typed_columns(schema, columns, reserved=reserved)
    with opened(store, "read predictions from") as conn:
        plan = _Plan(conn.dialect.name, schema, names, spread)
        after: tuple[Any, str] | None = None
        while True:
            if after is None:
                query = plan.query.where(part.where())
            else:  # the keyset: after the last row read, the index range starting at its time
                at, pid = after
                time = predictions.c.created_at
                query = plan.query.where(
                    window(at, part.until, part.variant),
                    (time > at) | (predictions.c.prediction_id > pid),
                )
            rows = conn.execute(query.limit(page_rows)).all()
            if not rows:
                return
            page = plan.decode(rows)
            yield page
            if len(rows) < page_rows:
                return
            after = (page["created_at"][-1].as_py(), str(rows[-1][0]))


class _Plan:
    """The SELECT of a page and how its result becomes a typed Arrow table.

    The SELECT returns, in order: the prediction id (for the keyset and messages), the
    plain columns, the rendered text columns, then the JSON line parsed by Arrow.
    """

    def __init__(
        self, dialect: str, schema: LogSchema, names: Sequence[str], spread: Sequence[LogColumn]
    ) -> None:
        import pyarrow as pa

        self.target = arrow_schema(schema, names, spread)
        self.plain = [n for n in names if n in _PLAIN or n in _TIMES]
        whole = [schema.value(n) for n in ("prediction", "outcome") if n in names]
        probabilities = schema.probabilities() if "probabilities" in names else None
        whole += [probabilities] if probabilities is not None else []
        self.text = [c for c in (*whole, *spread) if c.rendered]
        # the parsed values: (output column, line field, struct key or None)
        self.picks = [(c.name, _FIELD[c.source], c.key) for c in spread if not c.rendered]
        self.picks += [(c.name, _FIELD[c.source], None) for c in whole if not c.rendered]
        line: list[Any] = []
        for source in ("inputs", "context"):
            keys = [c for c in spread if c.source == source and not c.rendered]
            if keys:
                struct = pa.struct([pa.field(c.key, _arrow(c.type)) for c in keys])
                line.append((source, pa.field(_FIELD[source], struct)))
        for column in whole:
            if not column.rendered:
                typed = self.target.field(column.name).with_name(_FIELD[column.source])
                line.append((column.source, typed))
        self.parsed = pa.schema([field for _, field in line])

        exprs: list[Any] = [predictions.c.prediction_id]
        for name in self.plain:
            exprs.append(_TIMES[name](dialect) if name in _TIMES else _PLAIN[name][0])
        exprs += [rendered(dialect, c.source, c.key) for c in self.text]
        if line:
            exprs.append(_line(dialect, [(source, field.name) for source, field in line]))
        self.query = (
            sa.select(*exprs)
            .select_from(predictions.outerjoin(outcomes))
            .order_by(predictions.c.created_at, predictions.c.prediction_id)
        )

    def decode(self, rows: Sequence[Any]) -> pa.Table:
        """One page of rows as a table of the target schema."""
        import pyarrow as pa

        columns = list(zip(*rows, strict=True))
        values: dict[str, pa.Array] = {}
        at = 1
        for name in self.plain:
            if name in _TIMES:
                text = pa.array(columns[at], type=pa.string())
                values[name] = text.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
            else:
                values[name] = pa.array(columns[at], type=_arrow(_PLAIN[name][1]))
            at += 1
        for column in self.text:
            values[column.name] = pa.array(columns[at], type=pa.string())
            at += 1
        if len(self.parsed):
            lines = _parse(columns[at], columns[0], self.parsed)
            for name, field, key in self.picks:
                array = lines.column(field).combine_chunks()
                values[name] = array if key is None else array.field(key)
        return pa.table([values[f.name] for f in self.target], schema=self.target)


_TIMES = {
    "created_at": lambda dialect: raw_time(dialect, predictions.c.created_at),
    "outcome_at": lambda dialect: raw_time(
        dialect, sa.func.coalesce(outcomes.c.updated_at, outcomes.c.received_at)
    ),
}


def _line(dialect: str, fields: Sequence[tuple[str, str]]) -> Any:
    """``{"i":<inputs>,...}`` assembled by the database from the stored JSON texts."""
    line: Any = None
    for source, name in fields:
        stored = sa.func.coalesce(stored_text(dialect, source_column(source)), "null")
        head = sa.literal(("{" if line is None else ",") + f'"{name}":', sa.Text)
        line = head + stored if line is None else line + head + stored
    return sa.type_coerce(line + sa.literal("}", sa.Text), sa.Text)


def _parse(lines: Sequence[str], ids: Sequence[str], schema: pa.Schema) -> pa.Table:
    """The JSON ``lines`` parsed by Arrow against ``schema``; when Arrow refuses them, the
    lines that do not parse alone are found by halving and read as missing (module note)."""
    import pyarrow as pa

    try:
        return _read_json(lines, schema)
    except pa.ArrowInvalid:
        pass
    # text stored with line breaks (PostgreSQL keeps a json value's text as sent) is
    # written again on one line
    lines = [dumps(_loads_or(line)) if "\n" in line else line for line in lines]
    return _read_json(_parseable(lines, ids, schema), schema)


def _loads_or(line: str) -> Any:
    try:
        return loads(line)
    except ValueError:
        return {}


def _parseable(lines: Sequence[str], ids: Sequence[str], schema: pa.Schema) -> list[str]:
    import pyarrow as pa

    try:
        _read_json(lines, schema)
        return list(lines)
    except pa.ArrowInvalid as exc:
        if len(lines) == 1:
            log.warning(
                "the stored JSON of prediction %s does not parse or has an unexpected shape "
                "(%s); its inputs, context, prediction and outcome are read as missing",
                ids[0],
                str(exc).splitlines()[0],
            )
            return ["{}"]
    half = len(lines) // 2
    return _parseable(lines[:half], ids[:half], schema) + _parseable(
        lines[half:], ids[half:], schema
    )


def _read_json(lines: Sequence[str], schema: pa.Schema) -> pa.Table:
    import pyarrow.json as pj

    data = ("\n".join(lines) + "\n").encode("utf-8")
    block = max(1 << 20, 2 * max(map(len, lines)) + 16)
    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


def read_range(
    store: Store | str,
    part: LogRange,
    *,
    schema: LogSchema | None = None,
    columns: Sequence[str] = LOG_COLUMNS,
    page_rows: int = PAGE_ROWS,
) -> pd.DataFrame:
    """The predictions of ``part`` as one typed DataFrame, oldest first.

    Columns: the log's own ``columns`` (default all: ``prediction_id``, ``created_at``
    (UTC), ``period_id``, ``variant``, ``model_name``, ``model_version``, ``entity_id``,
    ``request_id``, ``prediction``, ``score``, ``probabilities`` (only when some row has
    them), ``latency_ms``, ``outcome``, ``outcome_batch``, ``outcome_at``), then one column
    per input key and per context key that is not an input, none named like a returned
    log column. ``schema`` declares the types; give the schema of the whole window (from
    :func:`log_schema` over every range) so every range has the same columns and dtypes.
    Without it, the range's own schema is used.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabloop.store import Store, split_log
    >>> store = Store(Store.default_url(pathlib.Path(tempfile.mkdtemp())))
    >>> store.open()
    >>> ranges = split_log(store, parts=2)
    >>> ranges
    []
    >>> store.close()
    """
    from tabloop.store._frame import arrow_to_frame

    if schema is None:
        schema = log_schema(store, [part])
    names, spread = typed_columns(schema, columns)
    pages = list(read_pages(store, part, schema=schema, columns=columns, page_rows=page_rows))
    return arrow_to_frame(pages, arrow_schema(schema, names, spread))
