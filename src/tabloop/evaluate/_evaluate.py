"""``tabloop.evaluate``: the test split, scored once, as plain data for every renderer.

The :class:`Evaluation` holds metrics with bootstrap confidence intervals beside the
dummy baseline, the decision threshold, requirement checks, fairness, diagnostics and the
data of every chart. ``evaluation.json`` is :meth:`Evaluation.to_dict`; ``evaluation.html``
renders the same object.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.data.frame import json_safe
from tabloop.evaluate._counted import COUNTED_ROWS, counted_test_metrics, decide

if TYPE_CHECKING:
    from tabloop.scale import Runner
    from tabloop.train import TrainResult


@dataclass
class Evaluation:
    """Everything the evaluation report shows; ``to_dict`` is ``evaluation.json``."""

    task: str
    n_test: int
    metrics: dict[str, Any]
    baseline: dict[str, Any]
    threshold: dict[str, Any] | None
    requirements: list[dict[str, Any]]
    fairness: dict[str, Any] | None
    diagnostics: list[dict[str, Any]]
    cv: list[dict[str, Any]]
    ensemble: dict[str, float]
    charts: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    baseline_check: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        """Whether every requirement holds (vacuously true without requirements)."""
        return all(r["passed"] for r in self.requirements)

    @property
    def beats_dummy(self) -> bool:
        """Whether the model beat the dummy in cross-validation (see ``baseline_check``)."""
        return self.baseline_check is None or bool(self.baseline_check["beats_dummy"])

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_html(self) -> str:
        from tabloop.report import render_evaluation

        return render_evaluation(self.to_dict())

    def save(self, out_dir: str | Path = ".") -> dict[str, Path]:
        """Write ``evaluation.html`` and ``evaluation.json`` into ``out_dir``."""
        from tabloop.report import save_report

        return save_report(out_dir, "evaluation", json_text=self.to_json(), html=self.to_html())


def evaluate(result: TrainResult, *, seed: int = 0, runner: Runner | None = None) -> Evaluation:
    """Score ``result.model`` on the held-out test split, with CIs, baseline and checks.

    After ``train.engine: dask`` the metrics and the dummy's are computed on every test
    row where it lies (on ``runner``, default: the cluster the run trained on;
    :mod:`tabloop.evaluate._counted`), the charts, fairness and importance on the
    run's sample of test rows."""
    from tabloop.evaluate._cost import threshold_report
    from tabloop.evaluate._diagnostics import diagnose
    from tabloop.evaluate._metrics import score_metrics
    from tabloop.evaluate._requirements import check_requirements
    from tabloop.train import make_pipeline, predict_scores

    config, model, task = result.config, result.model, result.task
    if task == "clustering":
        return _evaluate_segments(result)
    ev = config.evaluate
    test, target = result.test, model.target
    y = result.encode(test[target]) if task != "regression" else test[target].to_numpy(float)
    scores = model.predict_scores(test)
    pred = decide(task, scores, model.threshold)
    opts = {"n_boot": ev.bootstrap, "confidence": ev.confidence, "seed": seed}
    X_train = result.train.drop(columns=[target])
    dummy = make_pipeline(config, "dummy", task).fit(X_train, result.y_train)
    base_scores = predict_scores(dummy, test.drop(columns=[target]), task)
    if task == "multiclass":
        from tabloop.train import align_classes

        base_scores = align_classes(dummy, base_scores, len(model.classes))
    metrics, baseline, n_test = {}, {}, len(test)
    if result.source is not None or (task == "binary" and n_test > COUNTED_ROWS):
        metrics, baseline, n_test = counted_test_metrics(
            result, y, scores, dummy_scores=base_scores[:1], runner=runner, **opts
        )
    if not metrics or task == "multiclass":  # the sample's probability metrics stay
        proba = None if task == "regression" else scores
        sample = score_metrics(task, y, prediction=pred, proba=proba, **opts)
        base_proba = None if task == "regression" else base_scores
        base_pred = decide(task, base_scores, 0.5)
        sample_base = score_metrics(task, y, prediction=base_pred, proba=base_proba, **opts)
        metrics, baseline = {**sample, **metrics}, {**sample_base, **baseline}

    fairness = None
    if ev.fairness is not None and task == "binary":
        fairness = _fairness(result, y, pred, seed)
    requirements = check_requirements(ev.requirements, metrics, fairness)
    charts = _charts(result, y, scores, pred)
    importance = None
    if ev.importance:
        from tabloop.evaluate._importance import (
            material_effect,
            permutation_importance_table,
            shap_table,
        )

        main, dummy = metrics.get(result.metric) or {}, baseline.get(result.metric) or {}
        importance = permutation_importance_table(
            model,
            test,
            y,
            metric=result.metric,
            seed=seed,
            material=material_effect(main.get("value"), dummy.get("value")),
        )
        charts["importance"] = importance
        charts["shap"] = shap_table(model, test)
    return Evaluation(
        task=task,
        n_test=n_test,
        metrics=metrics,
        baseline=baseline,
        threshold=threshold_report(result, y, scores, seed),
        requirements=requirements,
        fairness=fairness,
        diagnostics=diagnose(result, metrics, importance, y),
        cv=result.cv_table(),
        ensemble=dict(result.weights),
        charts=charts,
        model={
            "project": config.name,
            "target": target,
            "classes": model.classes,
            "inputs": model.inputs,
            "dropped": result.dropped,
            "metric": result.metric,
            "n_train": len(result.train) if result.source is None else result.source.train_rows,
            "test_sample": None if result.source is None else len(test),
            "seconds": round(result.seconds, 1),
            "data_hash": result.data_hash,
            "notes": result.notes,
            "sampling": result.sampling,
        },
        baseline_check=None if result.baseline_check is None else result.baseline_check.to_dict(),
    )


def _evaluate_segments(result: TrainResult) -> Evaluation:
    """Clustering quality (silhouette, Davies–Bouldin, sizes) and a profile per segment."""
    from tabloop.train import segment_profiles

    pipe = result.model.members[0].pipelines[0]
    segments = pipe.named_steps["model"].segments_
    found = segments.to_dict()
    profiles = segment_profiles(result.train[result.model.inputs], segments.labels_)
    metrics = {
        "silhouette": {"value": found["silhouette"], "ci_low": None, "ci_high": None},
        "davies_bouldin": {"value": found["davies_bouldin"], "ci_low": None, "ci_high": None},
        "k": {"value": found["k"], "ci_low": None, "ci_high": None},
    }
    return Evaluation(
        task="clustering",
        n_test=0,
        metrics=metrics,
        baseline={},
        threshold=None,
        requirements=[],
        fairness=None,
        diagnostics=[
            {"kind": "note", "severity": "info", "message": n} for n in found.get("notes", [])
        ],
        cv=[],
        ensemble=dict(result.weights),
        charts={"segments": found, "profiles": profiles.reset_index().to_dict(orient="records")},
        model={
            "project": result.config.name,
            "target": None,
            "classes": [],
            "inputs": result.model.inputs,
            "dropped": result.dropped,
            "metric": "silhouette",
            "n_train": len(result.train),
            "seconds": round(result.seconds, 1),
            "data_hash": result.data_hash,
            "notes": [],
        },
    )


def _fairness(result: TrainResult, y: np.ndarray, pred: np.ndarray, seed: int) -> dict[str, Any]:
    from tabloop.data.frame import require_columns
    from tabloop.evaluate._fairness import compare_threshold_optimizer, fairness_audit

    fc = result.config.evaluate.fairness
    assert fc is not None
    test = result.test
    require_columns(
        test,
        [*fc.protected, *([fc.segment] if fc.segment else [])],
        role="evaluate.fairness column",
    )
    audit = fairness_audit(
        y,
        pred,
        sensitive=test[fc.protected],
        segment=test[fc.segment] if fc.segment else None,
        metric=fc.metric,
        min_group_size=fc.min_group_size,
        max_gap=fc.max_gap,
        intersections=fc.intersections,
        n_boot=result.config.evaluate.bootstrap or 1000,
        confidence=result.config.evaluate.confidence,
        seed=seed,
    )
    out = audit.to_dict()
    if fc.mitigate != "none":
        rows = ~np.isnan(result.oof)
        train = result.train
        out["mitigation"] = compare_threshold_optimizer(
            result.y_train[rows],
            result.oof[rows],
            train[fc.protected].iloc[np.flatnonzero(rows)],
            y,
            result.model.predict_scores(test),
            test[fc.protected],
            constraint=fc.mitigate,
            threshold=result.model.threshold or 0.5,
        )
    return out


def _charts(
    result: TrainResult, y: np.ndarray, scores: np.ndarray, pred: np.ndarray
) -> dict[str, Any]:
    from sklearn import metrics as m

    charts: dict[str, Any] = {"learning_curve": result.learning_curve, "cv": result.cv_table()}
    task = result.task
    if task == "binary" and len(np.unique(y)) == 2:
        fpr, tpr, _ = m.roc_curve(y, scores)
        precision, recall, _ = m.precision_recall_curve(y, scores)
        from sklearn.calibration import calibration_curve

        observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
        charts["roc"] = _thin({"fpr": fpr, "tpr": tpr})
        charts["pr"] = _thin({"recall": recall, "precision": precision})
        charts["calibration"] = {"predicted": predicted.tolist(), "observed": observed.tolist()}
    if task == "regression":
        rng = np.random.default_rng(0)
        rows = rng.choice(len(y), min(len(y), 2000), replace=False)
        charts["residuals"] = {"actual": y[rows].tolist(), "predicted": scores[rows].tolist()}
    if result.threshold is not None:
        charts["threshold_curve"] = result.threshold.to_dict().get("curve")
    charts["imputation"] = _imputation(result)
    charts["imputation_comparison"] = result.imputation_comparison
    return charts


def _thin(curve: dict[str, np.ndarray], points: int = 300) -> dict[str, list[float]]:
    """At most ``points`` points per curve: enough to draw, small enough to embed."""
    n = len(next(iter(curve.values())))
    idx = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int))
    return {k: np.asarray(v)[idx].tolist() for k, v in curve.items()}


def _imputation(result: TrainResult) -> list[dict[str, Any]]:
    """Each imputed column's distribution before (observed) and after (imputed values)."""
    from tabloop.evaluate._importance import prepared_until

    for member in result.model.members:
        pipe = member.pipelines[0]
        pre = pipe.named_steps["preprocess"]
        if pre.strategy_ == "none":
            continue
        X = prepared_until(pipe, "preprocess").transform(
            result.train.drop(columns=[result.model.target])
        )
        after = pre.transform(X)
        out = []
        for col in pre.numeric_:
            if col not in X:  # a part the preprocessing derives itself (a date's year)
                continue
            before = pd.to_numeric(X[col], errors="coerce")
            missing = before.isna().to_numpy()
            if not missing.any() or col not in after:
                continue
            observed = before[~missing].to_numpy(float)
            # linear preparation scales numbers; compare on the original scale
            imputed = _unscale(pre, col, after[col].to_numpy(float))[missing]
            edges = np.histogram_bin_edges(np.concatenate([observed, imputed]), bins=20)
            out.append(
                {
                    "column": col,
                    "strategy": pre.strategy_,
                    "missing": int(missing.sum()),
                    "edges": edges.tolist(),
                    "observed": np.histogram(observed, edges)[0].tolist(),
                    "imputed": np.histogram(imputed, edges)[0].tolist(),
                    "observed_mean": float(observed.mean()),
                    "imputed_mean": float(imputed.mean()),
                }
            )
        return out
    return []


def _unscale(pre: Any, column: str, values: np.ndarray) -> np.ndarray:
    numeric = pre.transformer_.named_transformers_["numeric"]
    steps = getattr(numeric, "named_steps", {})
    scaler = steps.get("standardscaler")
    if scaler is None:
        return values
    i = list(pre.numeric_).index(column)
    return values * scaler.scale_[i] + scaler.mean_[i]
