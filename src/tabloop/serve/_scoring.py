"""Rows in, validated predictions out: the request path shared by every protocol.

Rows arrive as JSON objects. They are validated against the variant's model schema with
the same :func:`tabloop.data.validate` that guards training data, so a request fails for
the same reasons a training file would: a missing or extra column, a string in a numeric
column, an unseen category under ``prepare.unseen_categories: error``. A key absent from
some rows but present in others is a missing value in those rows.

When the variant has a compiled request path (:mod:`tabloop.serve._compiled`), rows that a
records-level check finds certainly valid skip the DataFrame entirely; any other request
is validated as above (so its messages are unchanged), then predicted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from tabloop.serve._compiled import CompiledModel
    from tabloop.serve._variants import Variant
    from tabloop.train import TabloopModel


@dataclass
class Scored:
    """The model's answer for a batch of rows, as JSON-ready Python values."""

    predictions: list[Any]
    scores: list[float | None]  # binary: positive-class probability; regression: the value
    probabilities: list[dict[str, float] | None]
    #: features.lags models: per row, whether its entity had an earlier value to read
    history: list[bool] | None = None


@dataclass(frozen=True)
class CheckedRows:
    """Rows that passed validation, with their frame of model inputs if one was built."""

    rows: Sequence[dict[str, Any]]
    frame: Any = None
    compiled: CompiledModel | None = None


def check_rows(
    variant: Variant,
    rows: Sequence[dict[str, Any]],
    extras: Iterable[str],
    *,
    index: Sequence[int] | None = None,
) -> CheckedRows:
    """The checked rows for :func:`score`; :class:`SchemaError` lists every problem.

    ``index`` numbers the rows as in the request, so a message names the request's row.
    """
    import pandas as pd

    compiled, extras = variant.compiled, set(extras)
    if compiled is not None and compiled.accepts(rows, extras):
        return CheckedRows(rows, compiled=compiled)
    frame = pd.DataFrame.from_records(rows, index=list(index) if index is not None else None)
    variant.model.check_input(frame, allow_extra=extras)
    return CheckedRows(rows, frame[variant.model.inputs], compiled)


def score(model: TabloopModel, checked: CheckedRows | Any) -> Scored:
    """Predict checked rows (or an already checked frame); the answer as plain values,
    with ``history`` for a model with ``features.lags``."""
    scored = _score(model, checked)
    if model.reads_history:
        import pandas as pd

        frame = checked.frame if isinstance(checked, CheckedRows) else checked
        if frame is None:  # the compiled path built no frame
            frame = pd.DataFrame.from_records(list(checked.rows))
        alone = model.without_history(frame)
        scored.history = None if alone is None else [not a for a in alone.tolist()]
    return scored


def _score(model: TabloopModel, checked: CheckedRows | Any) -> Scored:
    if not isinstance(checked, CheckedRows):
        raw = model.predict_scores(checked)
    elif checked.compiled is not None:
        raw = checked.compiled.predict_scores(checked.rows, frame=checked.frame)
    else:
        raw = model.predict_scores(checked.frame)
    labels = model.classes
    if model.task == "binary":
        positive = np.asarray(raw, dtype=float)
        picked = positive >= (0.5 if model.threshold is None else model.threshold)
        negative, pos = str(labels[0]), str(labels[1])
        return Scored(
            predictions=[_plain(labels[int(p)]) for p in picked],
            scores=[float(p) for p in positive],
            probabilities=[{negative: 1.0 - float(p), pos: float(p)} for p in positive],
        )
    if model.task == "multiclass":
        matrix = np.asarray(raw, dtype=float)
        names = [str(label) for label in labels]
        return Scored(
            predictions=[_plain(labels[int(i)]) for i in matrix.argmax(axis=1)],
            scores=[None] * len(matrix),
            probabilities=[dict(zip(names, map(float, row), strict=True)) for row in matrix],
        )
    values = [float(v) for v in np.asarray(raw, dtype=float)]
    if model.task == "clustering":
        return Scored([int(v) for v in values], [None] * len(values), [None] * len(values))
    scores: list[float | None] = list(values)
    return Scored(values, scores, [None] * len(values))


def cast_outcome(value: Any, model: TabloopModel) -> Any:
    """A true value as the target's own type; ``ValueError`` says what was expected."""
    if model.task == "regression":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"expected a finite number for {model.target!r}; got {value!r}")
        return float(value)
    for label in model.classes:
        if value == label or str(value) == str(label):
            return _plain(label)
    raise ValueError(
        f"{value!r} is not a class of {model.target!r}; expected one of "
        f"{', '.join(repr(_plain(c)) for c in model.classes)}"
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
