"""The compiled request path: a model's scores for a request's rows without per-row pandas.

Maintainer note: why this exists
--------------------------------
Through :meth:`TabloopModel.predict_scores` one row costs about 8 ms on an idle 2-core box
and 20 ms or more on a busy one: each pandas operation in the preparation steps and the
``ColumnTransformer`` costs tens of microseconds whatever the number of rows, and the
boosters start OpenMP threads for a single row. :func:`compile_model` reads every fitted
pipeline once: its preparation becomes a :class:`~tabloop.serve._compiled_prep.PrepPlan`
over numpy columns, its estimator a direct library call
(:mod:`tabloop.serve._compiled_estimators`), single-threaded for small batches. It sits in
``serve`` because only serving needs it and it depends on both ``prepare`` and ``train``.

How equivalence is guaranteed
-----------------------------
1. Only steps with an exact numpy mirror compile. Anything else (KNN, iterative or
   multiple imputation, target encoding, datetime parts, a user's model, an unknown step)
   raises ``Unsupported`` at compile time, and that pipeline alone keeps the DataFrame
   path: its preparation (``frame``) or all of it (``pipeline``).
2. A request value outside the domain where both paths' conversions provably agree (a
   number sent as text, a list, a huge integer as a category) raises ``Unclean``, and the
   request is scored by ``TabloopModel.predict_scores`` instead.
3. ``compile_model`` compares every compiled pipeline with the DataFrame path on probe rows
   built from the schema (every category, unseen and missing values, the range's ends and
   beyond; as a batch and one row at a time) and falls back on any difference > 1e-12.
4. ``tests/serve/test_fast.py`` checks equality to 1e-9 for every zoo model × imputation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop.serve._compiled_estimators import SINGLE_THREAD_ROWS, Predict, estimator_for
from tabloop.serve._compiled_prep import Columns, PrepPlan, Unclean, block_from_frame
from tabloop.serve._row_check import RowCheck

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.data import Schema
    from tabloop.train import TabloopModel

log = logging.getLogger("tabloop.serve")
Rows = Sequence[dict[str, Any]]
_TOLERANCE = 1e-12
_PROBE = "__tabloop_probe__"


@dataclass
class PipelinePlan:
    """How one fitted pipeline is scored: ``compiled`` (numpy preparation and estimator),
    ``frame`` (DataFrame preparation, numpy estimator) or ``pipeline`` (all DataFrame);
    ``reason`` says why it is not ``compiled``."""

    pipeline: Any
    kind: str
    reason: str = ""
    prep: PrepPlan | None = None
    predict: Predict | None = None

    def scores(
        self, cols: Columns, frame: Callable[[], pd.DataFrame], single: bool, task: str
    ) -> np.ndarray:
        if self.kind == "compiled":
            return self.predict(self.prep.block(cols), single)  # type: ignore[misc,union-attr]
        if self.kind == "frame":
            X = frame()
            for _, step in self.pipeline.steps[:-1]:
                if not hasattr(step, "fit_resample"):  # samplers act in fit only
                    X = step.transform(X)
            return self.predict(block_from_frame(X), single)  # type: ignore[misc]
        from tabloop.train._cv import predict_scores

        return predict_scores(self.pipeline, frame(), task)


class CompiledModel:
    """A :class:`TabloopModel` compiled for serving; build it with :func:`compile_model`.

    ``predict_scores(rows)`` returns exactly ``model.predict_scores(frame)`` for the
    DataFrame of ``rows``; ``accepts(rows, extras)`` is a sound shortcut for the model's
    schema validation (True only when ``check_input`` would raise nothing).
    """

    def __init__(self, model: TabloopModel, members: list[tuple[float, list[PipelinePlan]]]):
        self.model = model
        self.members = members
        self.task = model.task if model.task != "clustering" else "regression"
        self.check = RowCheck(model.schema, refuse_unseen=model.unseen == "error")

    @property
    def plans(self) -> list[PipelinePlan]:
        return [plan for _, plans in self.members for plan in plans]

    def summary(self) -> dict[str, int]:
        """How many pipelines take each path, e.g. ``{"compiled": 3, "frame": 1}``."""
        out: dict[str, int] = {}
        for plan in self.plans:
            out[plan.kind] = out.get(plan.kind, 0) + 1
        return out

    def accepts(self, rows: Rows, extras: set[str]) -> bool:
        return self.check.passes(rows, extras)

    def frame(self, rows: Rows) -> pd.DataFrame:
        """The rows as the DataFrame the pipelines read (as the service has always built it)."""
        import pandas as pd

        return pd.DataFrame.from_records(list(rows))[self.model.inputs]

    def predict_scores(self, rows: Rows, *, frame: pd.DataFrame | None = None) -> np.ndarray:
        """The model's scores for ``rows`` (``frame``: their DataFrame, if already built)."""

        def get_frame() -> pd.DataFrame:
            nonlocal frame
            if frame is None:
                frame = self.frame(rows)
            return frame

        cols = Columns(list(rows))
        single = len(rows) <= SINGLE_THREAD_ROWS
        try:
            return self._combine(lambda plan: plan.scores(cols, get_frame, single, self.task))
        except Unclean:
            return self.model.predict_scores(get_frame())

    def _combine(self, scores: Callable[[PipelinePlan], np.ndarray]) -> np.ndarray:
        # the arithmetic of TabloopModel.predict_scores, in the same order
        from tabloop.train._cv import _align_classes

        total: Any = 0.0
        for weight, plans in self.members:
            parts = []
            for plan in plans:
                pred = scores(plan)
                if self.model.task == "multiclass":
                    pred = _align_classes(plan.pipeline, pred, len(self.model.classes))
                parts.append(pred)
            total = total + weight * np.mean(parts, axis=0)
        return np.asarray(total, dtype=float)


def compile_model(model: TabloopModel, *, verify: bool = True) -> CompiledModel:
    """Compile ``model`` for serving; never raises for what it cannot compile.

    Every pipeline that cannot be compiled, or (with ``verify``) whose compiled scores differ
    from the DataFrame path's on probe rows, is scored the DataFrame way.

    Examples
    --------
    >>> compiled = compile_model(model)  # doctest: +SKIP
    >>> compiled.predict_scores([{"age": 40, "gender": "female"}])  # doctest: +SKIP
    array([0.73])
    """
    kinds = {c.name: c.kind for c in model.schema}
    task = model.task if model.task != "clustering" else "regression"
    members = [
        (member.weight, [_plan(pipe, kinds, task) for pipe in member.pipelines])
        for member in model.members
    ]
    compiled = CompiledModel(model, members)
    if verify:
        _verify(compiled)
    return compiled


def _plan(pipeline: Any, kinds: Mapping[str, str], task: str) -> PipelinePlan:
    steps = getattr(pipeline, "steps", None)
    if not isinstance(steps, list) or not steps:
        return PipelinePlan(pipeline, "pipeline", f"{type(pipeline).__name__} is not a Pipeline")
    try:
        predict = estimator_for(steps[-1][1], task)
    except Exception as exc:  # Unsupported, or a fitted state this code did not expect
        return PipelinePlan(pipeline, "pipeline", str(exc))
    try:
        prep = PrepPlan([s for _, s in steps[:-1] if not hasattr(s, "fit_resample")], kinds)
    except Exception as exc:
        return PipelinePlan(pipeline, "frame", str(exc), predict=predict)
    return PipelinePlan(pipeline, "compiled", prep=prep, predict=predict)


# -- verification -----------------------------------------------------------------------------
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


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


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


def _verify(compiled: CompiledModel) -> None:
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
    from tabloop.train._cv import predict_scores

    for i, (rows, frame) in enumerate(probes):
        reference = _outcome(predict_scores, plan.pipeline, frame, task)
        for single in (True, False) if i == 0 else (True,):
            got = _outcome(plan.scores, Columns(list(rows)), _constant(frame), single, task)
            if not _same(reference, got):
                return False
    return True
