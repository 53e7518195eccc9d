"""Compile-time verification: every plan against the DataFrame path on probe rows.

Probe rows are built from the model's schema (every category, unseen and missing values,
the range's ends and beyond; as a batch and one row at a time). A plan whose scores, or
whose error, differ from the pipeline's is downgraded: ``compiled`` → ``frame`` →
``pipeline``. A probe the replay calls ``Unclean`` would take the DataFrame path in
service too, so it is not a difference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop.prepare import RequestColumns, Unclean

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.data import Schema
    from tabloop.serve._compiled import CompiledModel, PipelinePlan, Rows

log = logging.getLogger("tabloop.serve")
_TOLERANCE = 1e-12
_PROBE = "__tabloop_probe__"


def probe_rows(schema: Schema, *, n: int = 24) -> list[dict[str, Any]]:
    """Rows exercising every column of ``schema``: each category, missing values, the
    observed range's ends, its middle and beyond it."""
    cycles = []
    for i, col in enumerate(schema.columns):
        values: list[Any]
        if col.kind == "numeric":
            low = float(col.min) if isinstance(col.min, int | float) else 0.0
            high = float(col.max) if isinstance(col.max, int | float) else 1.0
            span = high - low
            values = [low, high, low + span / 2, None, low - 1 - abs(low), 0.0]
            values += [high + span + 1, low + span / 3, low + span / 7]
            if col.integer:
                values = [None if v is None else int(round(v)) for v in values]
        elif col.kind == "categorical" and col.categories:
            values = [*col.categories[:30], None]
        elif col.kind == "boolean":
            values = [True, False, None]
        elif col.kind == "datetime":
            values = [col.min, col.max, None]
        else:
            values = ["a", "b", None]
        cycles.append((col.name, values, 1 + i % 3))
    return [
        {name: values[(j * step + j // len(values)) % len(values)] for name, values, step in cycles}
        for j in range(n)
    ]


def _with_unseen(schema: Schema, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` where every other row has a never-seen value in each categorical column."""
    categorical = [c.name for c in schema.columns if c.kind == "categorical"]
    return [
        {**row, **dict.fromkeys(categorical, _PROBE)} if j % 2 == 0 else row
        for j, row in enumerate(rows)
    ]


def _outcome(fn: Callable[..., np.ndarray], *args: Any) -> tuple[str, Any]:
    try:
        return "value", fn(*args)
    except Unclean:
        return "unclean", None
    except Exception as exc:
        return "error", (type(exc), str(exc))


def _same(reference: tuple[str, Any], got: tuple[str, Any]) -> bool:
    if got[0] == "unclean":
        return True  # that request would take the DataFrame path: nothing to compare
    if reference[0] != got[0]:
        return False
    if reference[0] == "error":
        return bool(reference[1] == got[1])
    a, b = np.asarray(reference[1], dtype=float), np.asarray(got[1], dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=_TOLERANCE, equal_nan=True))


def verify(compiled: CompiledModel) -> None:
    """Downgrade every plan whose scores differ from the DataFrame path on probe rows."""
    schema = compiled.model.schema
    known = probe_rows(schema)
    unseen = _with_unseen(schema, known[:8])
    empty = dict.fromkeys(schema.names)
    cases = [known, known[:1], known[3:4], [empty], unseen, unseen[:1]]
    probes = [(rows, compiled.frame(rows)) for rows in cases]
    for plan in compiled.plans:
        while plan.kind != "pipeline" and not _agrees(plan, probes, compiled.task):
            log.warning("the %s path differs from the pipeline; falling back", plan.kind)
            plan.reason = f"the {plan.kind} path differed from the DataFrame path on probe rows"
            plan.kind = "frame" if plan.kind == "compiled" else "pipeline"


def _agrees(plan: PipelinePlan, probes: Sequence[tuple[Rows, pd.DataFrame]], task: str) -> bool:
    from tabloop.train import predict_scores

    for i, (rows, frame) in enumerate(probes):
        reference = _outcome(predict_scores, plan.pipeline, frame, task)
        for single in (True, False) if i == 0 else (True,):
            got = _outcome(plan.scores, RequestColumns(list(rows)), lambda f=frame: f, single, task)
            if not _same(reference, got):
                return False
    return True
