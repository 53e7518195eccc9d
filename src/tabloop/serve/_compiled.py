"""The compiled request path: a model's scores for a request's rows without per-row pandas.

Maintainer note
---------------
Through :meth:`TabloopModel.predict_scores` one row costs about 8 ms on an idle 2-core box
and 20 ms or more on a busy one: each pandas operation costs tens of microseconds whatever
the number of rows, and the boosters start OpenMP threads for a single row. So every
preparation step carries a numpy replay of its ``transform`` (``step.compile_replay``,
see ``tabloop/prepare/_replay.py``) and every zoo estimator one of its prediction
(``tabloop/train/_replay.py``). This module only *plans*: which pipelines replay all their
steps (``compiled``), only their estimator (``frame``) or none (``pipeline``); how the
ensemble's members combine; when a request falls back to the DataFrame path.

How equivalence is guaranteed
-----------------------------
1. A step without an exact replay raises ``Unsupported`` at compile time, and that
   pipeline alone keeps the DataFrame path.
2. A request value outside the domain where both paths provably agree raises ``Unclean``,
   and the request is scored by ``TabloopModel.predict_scores`` instead.
3. ``compile_model`` compares every plan with the DataFrame path on probe rows built from
   the schema (:mod:`tabloop.serve._compiled_verify`) and falls back on any difference > 1e-12.
4. ``tests/prepare/test_replay_contract.py`` proves each step and estimator equal to its
   pandas form on generated rows; ``tests/serve/test_fast.py`` the assembled models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop.data.frame import RowCheck
from tabloop.prepare import Block, Preprocess, RequestColumns, Unclean, Unsupported
from tabloop.train import SINGLE_THREAD_ROWS, Predict, replay_estimator

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.train import TabloopModel

log = logging.getLogger("tabloop.serve")
Rows = Sequence[dict[str, Any]]
_KINDS = {"numeric": "num", "categorical": "text"}  # schema kinds -> replay kinds


class Preparation:
    """A pipeline's preparation steps as replays; ``block(cols)`` runs them."""

    def __init__(self, steps: list[Any], kinds: Mapping[str, str]) -> None:
        if not steps or not isinstance(steps[-1], Preprocess):
            raise Unsupported("a pipeline without a final Preprocess step")
        current = {name: _KINDS.get(kind, kind) for name, kind in kinds.items()}
        self.replays = []
        for step in steps:
            if not hasattr(step, "compile_replay"):
                raise Unsupported(f"a {type(step).__name__} step")
            if isinstance(step, Preprocess) and step is not steps[-1]:
                raise Unsupported("a Preprocess step before the last")
            replay = step.compile_replay(current)
            current = replay.kinds
            self.replays.append(replay)

    def block(self, cols: RequestColumns) -> Block:
        view = cols.view()
        for replay in self.replays[:-1]:
            replay.run(view)
        return self.replays[-1].run(view)  # type: ignore[no-any-return]


@dataclass
class PipelinePlan:
    """How one fitted pipeline is scored: ``compiled`` (numpy preparation and estimator),
    ``frame`` (DataFrame preparation, numpy estimator) or ``pipeline`` (all DataFrame);
    ``reason`` says why it is not ``compiled``."""

    pipeline: Any
    kind: str
    reason: str = ""
    prep: Preparation | None = None
    predict: Predict | None = None

    def scores(
        self, cols: RequestColumns, frame: Callable[[], pd.DataFrame], single: bool, task: str
    ) -> np.ndarray:
        if self.kind == "compiled":
            return self.predict(self.prep.block(cols), single)  # type: ignore[misc,union-attr]
        if self.kind == "frame":
            X = frame()
            for _, step in self.pipeline.steps[:-1]:
                if not hasattr(step, "fit_resample"):  # samplers act in fit only
                    X = step.transform(X)
            return self.predict(Block.from_frame(X), single)  # type: ignore[misc]
        from tabloop.train import predict_scores

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

        cols = RequestColumns(list(rows))
        single = len(rows) <= SINGLE_THREAD_ROWS
        try:
            return self.combine(lambda plan: plan.scores(cols, get_frame, single, self.task))
        except Unclean:
            return self.model.predict_scores(get_frame())

    def combine(self, scores: Callable[[PipelinePlan], np.ndarray]) -> np.ndarray:
        """The members' weighted mean, in the order of ``TabloopModel.predict_scores``."""
        from tabloop.train import align_classes

        total: Any = 0.0
        for weight, plans in self.members:
            parts = []
            for plan in plans:
                pred = scores(plan)
                if self.model.task == "multiclass":
                    pred = align_classes(plan.pipeline, pred, len(self.model.classes))
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
    from tabloop.serve._compiled_verify import verify as verify_plans

    kinds = {c.name: c.kind for c in model.schema}
    task = model.task if model.task != "clustering" else "regression"
    members = [
        (member.weight, [_plan(pipe, kinds, task) for pipe in member.pipelines])
        for member in model.members
    ]
    compiled = CompiledModel(model, members)
    if verify:
        verify_plans(compiled)
    return compiled


def _plan(pipeline: Any, kinds: Mapping[str, str], task: str) -> PipelinePlan:
    steps = getattr(pipeline, "steps", None)
    if not isinstance(steps, list) or not steps:
        return PipelinePlan(pipeline, "pipeline", f"{type(pipeline).__name__} is not a Pipeline")
    try:
        predict = replay_estimator(steps[-1][1], task)
    except Exception as exc:  # Unsupported, or a fitted state this code did not expect
        return PipelinePlan(pipeline, "pipeline", str(exc))
    try:
        prep = Preparation([s for _, s in steps[:-1] if not hasattr(s, "fit_resample")], kinds)
    except Exception as exc:
        return PipelinePlan(pipeline, "frame", str(exc), predict=predict)
    return PipelinePlan(pipeline, "compiled", prep=prep, predict=predict)
