"""``tabloop log``: the prediction log joined with its outcomes, on the terminal or in a file.

The terminal shows the most recent predictions as a table that fits 80 columns; ``-o``
writes the selection as CSV or Parquet with the log's typed reader
(:func:`tabloop.store.read_range`, the columns ``tabloop store export`` writes), so the
inputs and context come out as typed columns, not JSON text.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tabloop.cli._app import app
from tabloop.cli._commands import ConfigOption
from tabloop.cli._output import console

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.store import Period, Store

#: Rows the terminal shows unless --limit says otherwise.
SHOWN = 20
#: The formats ``-o`` writes, by suffix.
FORMATS = (".csv", ".parquet")


def _positive(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise typer.BadParameter(f"must be 1 or more; got {value}.")
    return value


@app.command("log")
def log_command(
    period: Annotated[
        str | None,
        typer.Option("--period", help="A period number, 'current' (default) or 'all'."),
    ] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Only predictions of this A/B variant.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            callback=_positive,
            help=f"The N most recent predictions (default: {SHOWN} on the terminal, all with -o).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write a .csv or .parquet file instead."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show the prediction log joined with the outcomes, most recent first; with -o FILE,
    write it (oldest first) as CSV or Parquet, inputs and context as typed columns."""
    from tabloop.config import load_config
    from tabloop.exceptions import StoreError
    from tabloop.store import Store, parse_period

    if out is not None:
        _check_out(out)
    asked = parse_period(period, name="--period")
    store = Store(Store.project_url(load_config(config), create=False))
    try:
        status = store.status()  # reading a log that is not there would create it
        if status.state == "empty":
            if out is not None:
                raise StoreError(
                    f"The log at {store.url} holds no predictions yet: nothing written."
                )
            console.print(
                f"The log at {store.url} holds no predictions yet (tabloop serve writes it).",
                markup=False,
            )
            return
        if status.problem is not None:
            raise StoreError(status.problem)
        periods = store.periods()
        where = _describe(asked, variant, periods)
        if out is None:
            shown = limit or SHOWN
            rows = store.predictions(period=asked, variant=variant, limit=shown, newest_first=True)
            if rows.empty:
                _check_variant(store, variant)
            _print_table(rows, where, periods, asked, shown)
            return
        frame = _typed_selection(store, asked, variant, limit)
        if frame.empty:
            _check_variant(store, variant)
    finally:
        store.close()
    if frame.empty:
        raise StoreError(f"No predictions in {where}: nothing written to {out}.")
    _write(frame, out)
    labelled = int(frame["outcome"].notna().sum())
    console.print(
        f"Wrote {len(frame):,} predictions ({labelled:,} labelled) of {where} and "
        f"{frame.shape[1]} columns to {out}",
        markup=False,
    )


def _check_out(out: Path) -> None:
    """Refuse an output this command cannot write, before anything is read."""
    from tabloop.exceptions import DataError

    if out.suffix.lower() not in FORMATS:
        raise DataError(
            f"-o {str(out)!r}: the file's suffix chooses the format and must be "
            f"{' or '.join(FORMATS)}; got {out.suffix or 'none'!r}."
        )
    if not out.parent.is_dir():
        raise DataError(f"-o {str(out)!r}: the folder {str(out.parent)!r} does not exist.")
    if out.is_dir():
        raise DataError(f"-o {str(out)!r} is a folder; give a file name.")


def _describe(asked: Period, variant: str | None, periods: list[dict[str, Any]]) -> str:
    """``period 2 (current)``, ``all periods``...; an unknown period is a StoreError."""
    from tabloop.store import check_period, open_period_id

    check_period(asked, periods)
    current = open_period_id(periods)
    if asked == "all":
        text = "all periods"
    else:
        number = current if asked is None else asked
        text = f"period {number}" + (" (current)" if number == current else "")
    return text + (f", variant {variant}" if variant else "")


def _check_variant(store: Store, variant: str | None) -> None:
    """A DataError naming the log's variants when ``variant`` served no prediction at all
    (checked only when a selection came back empty: the query scans the log)."""
    from tabloop.exceptions import DataError

    if variant is None:
        return
    known = store.variants()
    if variant not in known:
        raise DataError(
            f"--variant {variant!r}: no prediction of the log is from that variant; "
            f"its variants are {', '.join(known) or 'none'}."
        )


def _typed_selection(
    store: Store, asked: Period, variant: str | None, limit: int | None
) -> pd.DataFrame:
    """The selected predictions with typed input and context columns, oldest first.

    The selection (period, variant, the ``limit`` most recent) is the store's own query;
    the typed columns come from :func:`tabloop.store.read_range` over the time span it
    covers, keeping the selected ids.
    """
    from datetime import timedelta

    from tabloop.store import LogRange, log_schema, read_range

    chosen = store.predictions(
        period=asked, variant=variant, limit=limit, newest_first=limit is not None
    )
    if chosen.empty:
        return chosen
    first, last = chosen["created_at"].min(), chosen["created_at"].max()
    span = LogRange(
        since=first.to_pydatetime(),
        until=last.to_pydatetime() + timedelta(microseconds=1),
        variant=variant,
    )
    frame = read_range(store, span, schema=log_schema(store, [span]))
    keep = frame["prediction_id"].isin(set(chosen["prediction_id"]))
    return frame[keep].reset_index(drop=True)


def _write(frame: pd.DataFrame, out: Path) -> None:
    """Write ``frame`` by the suffix of ``out``, whole or not at all (a temporary file
    beside it is moved into place)."""
    import json

    partial = out.with_name(f".{out.name}.partial")
    try:
        if out.suffix.lower() == ".csv":
            text = frame.copy()
            for name in text.columns:  # a dict (multiclass probabilities) as JSON, not repr
                if text[name].map(lambda v: isinstance(v, dict)).any():
                    text[name] = text[name].map(
                        lambda v: json.dumps(v) if isinstance(v, dict) else v
                    )
            text.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _print_table(
    rows: pd.DataFrame,
    where: str,
    periods: list[dict[str, Any]],
    asked: Period,
    shown: int,
) -> None:
    from rich import box
    from rich.table import Table

    from tabloop.report import TERMINAL_WIDTH

    chosen = [
        p
        for p in periods
        if asked == "all" or p["id"] == asked or (asked is None and p["ended_at"] is None)
    ]
    total = sum(p["predictions"] for p in chosen)
    labelled = sum(p["labelled"] for p in chosen)
    scope = where.split(", variant")[0]
    console.print(
        f"{scope.capitalize()}: {total:,} predictions, {labelled:,} labelled.", markup=False
    )
    if rows.empty:
        console.print(f"No predictions in {where}.", markup=False)
        return
    more = "" if len(rows) < shown else "; --limit N shows more, -o FILE saves all"
    console.print(f"{len(rows):,} most recent of {where}{more}:", markup=False)
    scored = _score_adds(rows)
    # collapsed padding: two spaces between columns keep every header whole at 80 columns;
    # a value wider than its column folds onto the next lines (never cut: the reader needs
    # the whole entity id or variant name), and no column is narrower than its header
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    columns = ["time (UTC)", "variant", "entity", "prediction"]
    columns += ["score"] if scored else []
    columns += ["outcome", "batch"]
    for name in columns:
        table.add_column(
            name,
            no_wrap=name == "time (UTC)",
            overflow="fold",
            justify="right" if name in ("score", "batch") else "left",
            min_width=19 if name == "time (UTC)" else len(name),
        )
    for row in rows.to_dict("records"):
        cells = [
            row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            _text(row["variant"]),
            _text(row["entity_id"]),
            _text(row["prediction"]),
        ]
        cells += [_text(row["score"], digits=3)] if scored else []
        cells += [_text(row["outcome"]), _text(row["outcome_batch"])]
        table.add_row(*cells)
    console.print(table, width=min(TERMINAL_WIDTH, console.width), markup=False)


def _score_adds(rows: pd.DataFrame) -> bool:
    """Whether the score column tells more than the prediction: a binary model's
    probability does; a regression's score is its prediction, shown once."""
    import pandas as pd

    scores = pd.to_numeric(rows["score"], errors="coerce")
    predictions = pd.to_numeric(rows["prediction"], errors="coerce")
    return bool((scores.notna() & (scores != predictions)).any())


def _text(value: Any, *, digits: int = 6) -> str:
    """A cell: numbers to ``digits`` significant digits, missing as a dash."""
    import pandas as pd

    from tabloop.report import MISSING

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
