"""The fitted model a team ships: input schema, preparation + estimators, threshold.

One picklable object holds everything ``predict`` needs, so it loads and predicts in a
process that never ran training (the MLflow pyfunc package wraps exactly this object).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.data.frame import require_frame
from tabloop.exceptions import EmptyDataError, SchemaError

if TYPE_CHECKING:
    from tabloop.data import Schema, ValidationReport


@dataclass
class Member:
    """One model of the ensemble: its weight and its fitted pipeline(s), averaged."""

    name: str
    weight: float
    pipelines: list[Any] = field(repr=False)


@dataclass
class TabloopModel:
    """A trained tabloop model.

    Attributes
    ----------
    task : ``binary``, ``multiclass``, ``regression`` or ``clustering``.
    target : the target column's name (``None`` for clustering).
    classes : the class labels, in the column order of :meth:`predict_proba`; for a
        binary task the second one is the positive class.
    members : the ensemble (a single member when no ensemble was chosen).
    threshold : positive-class probability at or above which a binary prediction is positive.
    schema : the input columns the model reads, with kinds, categories and ranges.
    unseen : ``ignore`` or ``error``: what an unseen category does at prediction time.
    """

    task: str
    target: str | None
    classes: list[Any]
    members: list[Member]
    schema: Schema
    threshold: float | None = None
    unseen: str = "ignore"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def positive(self) -> Any:
        return self.classes[1] if self.task == "binary" else None

    @property
    def _labels(self) -> np.ndarray:
        # numpy infers the target's own type: int labels stay ints, strings stay strings
        return np.asarray(self.classes)

    @property
    def _threshold(self) -> float:
        return 0.5 if self.threshold is None else self.threshold

    @property
    def inputs(self) -> list[str]:
        return self.schema.names

    @property
    def ignored(self) -> list[str]:
        """Training columns the model does not read; a request may carry them."""
        return list(self.info.get("ignored", []))

    # -- validation ---------------------------------------------------------------------------
    def check_input(
        self, df: pd.DataFrame, *, allow_extra: Iterable[str] | bool = True
    ) -> ValidationReport:
        """Validate ``df`` against the input schema; raise :class:`SchemaError` on errors.

        Extra columns are allowed (they are passed through) unless ``allow_extra`` names the
        only ones allowed; an unseen category is an error only under
        ``prepare.unseen_categories: error``.
        """
        from tabloop.data import validate

        require_frame(df)
        if len(df) == 0:
            raise EmptyDataError("The frame to predict has no rows.")
        report = validate(df, self.schema, allow_extra=allow_extra)
        if self.unseen != "error":
            report.problems = [
                replace(p, severity="warning") if p.kind == "unseen_category" else p
                for p in report.problems
            ]
        if report.errors:
            shown = "; ".join(p.message for p in report.errors[:5])
            more = f" (+{len(report.errors) - 5} more)" if len(report.errors) > 5 else ""
            raise SchemaError(
                f"Input does not match the model's schema: {shown}{more}", report=report
            )
        return report

    # -- prediction ---------------------------------------------------------------------------
    def predict_scores(self, df: pd.DataFrame) -> np.ndarray:
        """Averaged scores: positive-class probability, class probabilities, or values.

        Preparation steps that several pipelines share (identical fitted steps from the
        start of their pipelines, see :meth:`_plan`) run once per call, not once per
        pipeline; the scores are the same as predicting pipeline by pipeline.
        """
        from tabloop.train._cv import align_classes, predict_scores

        task = self.task if self.task != "clustering" else "regression"
        # features.lags reads earlier rows' values of the target when the frame carries it
        history = [c for c in self.info.get("history", []) if c in df.columns]
        X = df[[*self.inputs, *history]]
        prepared: dict[tuple[str, ...], Any] = {(): X}
        total: Any = 0.0
        for member, plans in zip(self.members, self._plan(), strict=True):
            parts = []
            for pipe, plan in zip(member.pipelines, plans, strict=True):
                if plan is None:  # not a plain pipeline (multiple imputation, a user model)
                    pred = predict_scores(pipe, X, task)
                else:
                    Xt = _prepare(prepared, plan)
                    pred = predict_scores(plan.final, Xt, task)
                if self.task == "multiclass":
                    pred = align_classes(pipe, pred, len(self.classes))
                parts.append(pred)
            total = total + member.weight * np.mean(parts, axis=0)
        return np.asarray(total, dtype=float)

    @property
    def reads_history(self) -> bool:
        """Whether the model reads earlier rows of an entity (``features.lags``)."""
        return self._lag_step() is not None

    def without_history(self, df: pd.DataFrame) -> np.ndarray | None:
        """Per row of ``df``, True when ``features.lags`` finds no earlier value of its
        entity (every lag and rolling statistic missing: an entity unseen at training, or
        a period before its first row), so the forecast rests on the other features
        alone; ``None`` for a model without lags."""
        found = self._lag_step()
        if found is None:
            return None
        before, lags = found
        history = [c for c in self.info.get("history", []) if c in df.columns]
        X = df[[*self.inputs, *history]]
        for step in before:  # prepare.missing_values: its codes are missing to the lags too
            X = step.transform(X)
        return np.asarray(lags.without_history(X), dtype=bool)

    def _lag_step(self) -> tuple[list[Any], Any] | None:
        """The steps before the first pipeline's lag step, and that step (None: no lags)."""
        from tabloop.prepare import LagFeatures

        for member in self.members:
            for pipe in member.pipelines:
                steps = [step for _, step in getattr(pipe, "steps", [])]
                for i, step in enumerate(steps):
                    if isinstance(step, LagFeatures):
                        return steps[:i], step
        return None

    def _plan(self) -> list[list[_Plan | None]]:
        """Per member and pipeline, its preparation steps keyed by the fingerprint of the
        fitted steps up to each one: pipelines whose first steps pickle to the same bytes
        share those steps' output. Computed once, kept out of the pickle."""
        plan = self.__dict__.get("_plans")
        if plan is None:
            plan = [[_plan_of(pipe) for pipe in m.pipelines] for m in self.members]
            self.__dict__["_plans"] = plan
        return plan

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_plans", None)
        return state

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`classes`."""
        scores = self.predict_scores(df)
        return np.column_stack([1 - scores, scores]) if self.task == "binary" else scores

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification, with the chosen threshold), values or segments."""
        scores = self.predict_scores(df)
        if self.task == "binary":
            codes = (scores >= self._threshold).astype(int)
        elif self.task == "multiclass":
            codes = scores.argmax(axis=1)
        else:
            return scores if self.task == "regression" else scores.astype(int)
        return self._labels[codes]

    def predict_frame(self, df: pd.DataFrame, *, validate: bool = True) -> pd.DataFrame:
        """``df`` with ``prediction`` appended, plus ``probability`` (binary: positive class)
        or one ``probability_<class>`` column per class (multiclass)."""
        if validate:
            self.check_input(df)
        scores = self.predict_scores(df)
        out = df.copy()
        if self.task == "binary":
            out["prediction"] = self._labels[(scores >= self._threshold).astype(int)]
            out["probability"] = scores
        elif self.task == "multiclass":
            out["prediction"] = self._labels[scores.argmax(axis=1)]
            for i, label in enumerate(self.classes):
                out[f"probability_{label}"] = scores[:, i]
        elif self.task == "regression":
            out["prediction"] = scores
        else:
            out["segment"] = scores.astype(int)
        return out


@dataclass(frozen=True)
class _Plan:
    """A fitted pipeline as its preparation steps (with the fingerprint of the chain of
    steps ending at each) and its final estimator."""

    steps: list[tuple[tuple[str, ...], Any]]
    final: Any


def _plan_of(pipe: Any) -> _Plan | None:
    # joblib's hash pickles sets and dicts in sorted order: two equal fitted steps get one
    # fingerprint even when their sets were filled in different orders (plain pickle bytes
    # then differ, and the sharing silently did not happen)
    from joblib import hash as fingerprint

    steps = getattr(pipe, "steps", None)
    if not isinstance(steps, list) or not steps:
        return None
    chain: tuple[str, ...] = ()
    prepared = []
    for _, step in steps[:-1]:
        if step is None or step == "passthrough" or hasattr(step, "fit_resample"):
            continue  # what Pipeline skips at prediction time (samplers only resample fit)
        chain = (*chain, str(fingerprint(step)))
        prepared.append((chain, step))
    return _Plan(prepared, steps[-1][1])


def _prepare(prepared: dict[tuple[str, ...], Any], plan: _Plan) -> Any:
    """The input of ``plan``'s final estimator, reusing (and filling) ``prepared``, which
    maps a chain of step fingerprints to that chain's output."""
    Xt = prepared[()]
    for chain, step in plan.steps:
        if chain not in prepared:
            prepared[chain] = step.transform(Xt)
        Xt = prepared[chain]
    return Xt
