"""Schema validation speed: tabloop vs pandera vs pydantic, for 1 row and for 1M rows.

What a user would otherwise pick: pandera for dataframes (lazy mode, to collect every
problem like tabloop does) and per-row pydantic models for a hand-written FastAPI service.
Each tool gets an equivalent schema built from the same inferred tabloop schema (types,
nullability, allowed categories, observed ranges). Prints times and ratios; one run, same
machine, so trust the ratios over the absolute times.

Run: ``make bench`` (installs the ``bench`` extra) or ``python benchmarks/validate_speed.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd

from tabloop.data import Schema, infer_schema, validate
from tabloop.examples import treatment_outcomes

BIG_ROWS = 1_000_000
PYDANTIC_ROWS = 100_000  # per-row validation is linear; timed on 100k and scaled to 1M


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) if repeat > 3 else statistics.median(times)


def pandera_schema(schema: Schema):
    import pandera.pandas as pa

    columns = {}
    for col in schema:
        if col.kind == "numeric":
            checks = [pa.Check.in_range(col.min, col.max)] if col.min is not None else []
            columns[col.name] = pa.Column(float, checks=checks, nullable=col.nullable, coerce=True)
        elif col.kind in ("categorical", "boolean"):
            columns[col.name] = pa.Column(
                str,
                checks=[pa.Check.isin(list(col.categories))],
                nullable=col.nullable,
                coerce=True,
            )
        else:
            columns[col.name] = pa.Column(nullable=col.nullable)
    return pa.DataFrameSchema(columns, strict=True)


def pydantic_model(schema: Schema):
    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for col in schema:
        if col.kind == "numeric":
            fields[col.name] = (Optional[float], Field(None, ge=col.min, le=col.max))  # noqa: UP045
        elif col.kind in ("categorical", "boolean"):
            fields[col.name] = (Optional[Literal[tuple(col.categories)]], None)  # noqa: UP045
        else:
            fields[col.name] = (Any, None)
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


def main() -> None:
    from pydantic import TypeAdapter

    reference = treatment_outcomes(n=10_000)
    schema = infer_schema(reference, target="unsuccessful_outcome", id="patient_id")
    request = reference.drop(columns="unsuccessful_outcome")
    one_record = request.head(1).astype(object).where(request.head(1).notna(), None)
    one_record = one_record.to_dict("records")
    rng = np.random.default_rng(0)
    big = request.iloc[rng.integers(0, len(request), BIG_ROWS)].reset_index(drop=True)
    big["course"] = big["course"].astype(str)
    pydantic_rows = (
        big.head(PYDANTIC_ROWS).astype(object).where(big.head(PYDANTIC_ROWS).notna(), None)
    )
    pydantic_records = pydantic_rows.to_dict("records")
    pandera = pandera_schema(
        infer_schema(request.assign(course=request["course"].astype(str)), id="patient_id")
    )
    Row = pydantic_model(schema)
    rows_adapter = TypeAdapter(list[Row])

    def tabloop_one() -> None:
        validate(pd.DataFrame.from_records(one_record), schema)

    def pandera_one() -> None:
        pandera.validate(pd.DataFrame.from_records(one_record), lazy=True)

    def pydantic_one() -> None:
        rows_adapter.validate_python(one_record)

    def tabloop_big() -> None:
        report = validate(big, schema)
        assert report.ok

    def pandera_big() -> None:
        pandera.validate(big, lazy=True)

    def pydantic_big() -> None:
        rows_adapter.validate_python(pydantic_records)

    print("Validating the treatment-outcome schema (12 columns), best/median of repeats\n")
    one = {
        "tabloop": best_of(tabloop_one, 200),
        "pandera": best_of(pandera_one, 200),
        "pydantic": best_of(pydantic_one, 200),
    }
    print("1 row (a single prediction request, frame built from the JSON record):")
    for tool, seconds in one.items():
        ratio = one["tabloop"] / seconds
        print(f"  {tool:9s} {seconds * 1e3:8.3f} ms   ratio tabloop/{tool}: {ratio:7.2f}")

    many = {
        "tabloop": best_of(tabloop_big, 3),
        "pandera": best_of(pandera_big, 3),
        "pydantic": best_of(pydantic_big, 3) * (BIG_ROWS / PYDANTIC_ROWS),
    }
    print(f"\n{BIG_ROWS:,} rows (a batch; pydantic timed on {PYDANTIC_ROWS:,} rows and scaled):")
    for tool, seconds in many.items():
        ratio = many["tabloop"] / seconds
        print(f"  {tool:9s} {seconds:8.3f} s    ratio tabloop/{tool}: {ratio:7.2f}")
    print("\nratio < 1 means tabloop is faster. tabloop reports every problem with its first")
    print("row; pandera (lazy) reports every failing value; pydantic validates row by row.")


if __name__ == "__main__":
    main()
