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

#: A test set whose main-metric CI is wider than this share of the metric's scale gets a
#: "too small" diagnostic (see :func:`_metric_scale`).
WIDE_CI = 0.1
#: A minority class below this share gets an imbalance diagnostic.
IMBALANCED_SHARE = 0.2


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
        threshold=_threshold(result, y, scores, seed),
        requirements=requirements,
        fairness=fairness,
        diagnostics=_diagnostics(result, metrics, importance, y),
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


def _threshold(
    result: TrainResult, y: np.ndarray, scores: np.ndarray, seed: int
) -> dict[str, Any] | None:
    """The threshold choice; for a cost threshold also ``test``: its cost per test row
    beside all positive and all negative, with intervals (:func:`policy_costs`)."""
    if result.threshold is None:
        return None
    out = result.threshold.to_dict()
    if result.threshold.optimised == "cost" and result.task == "binary":
        from tabloop.evaluate._cost import policy_costs

        ev = result.config.evaluate
        out["test"] = policy_costs(
            y,
            scores,
            threshold=result.threshold.threshold,
            costs=dict(result.config.train.costs),
            n_boot=ev.bootstrap,
            confidence=ev.confidence,
            seed=seed,
        )
    return out


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


def _diagnostics(
    result: TrainResult,
    metrics: dict[str, Any],
    importance: list[dict[str, Any]] | None,
    y: np.ndarray,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    check = result.baseline_check
    if check is not None and not check.beats_dummy:
        out.append({"kind": "baseline", "severity": "bad", "message": check.message})
    for message in result.warnings:
        if check is None or message != check.message:
            out.append({"kind": "budget", "severity": "warn", "message": message})
    for column, reason in result.dropped.items():
        if reason.startswith("possible leakage"):
            out.append(
                {
                    "kind": "leakage",
                    "severity": "bad",
                    "column": column,
                    "message": f"{column!r} was dropped: {reason}.",
                }
            )
    out.extend(_importance_diagnostics(importance or [], len(y)))
    if result.task in ("binary", "multiclass"):
        shares = np.bincount(result.y_train, minlength=len(result.model.classes)) / len(
            result.y_train
        )
        if shares.min() < IMBALANCED_SHARE:
            rare = result.model.classes[int(shares.argmin())]
            out.append(
                {
                    "kind": "class_imbalance",
                    "severity": "warn",
                    "message": f"Class {rare!r} is {shares.min():.1%} of training rows. "
                    f"train.imbalance is {result.config.train.imbalance!r}; the "
                    "threshold was chosen for that (see Threshold).",
                }
            )
    wide = _wide_interval(result.metric, metrics, y)
    if wide is not None:
        out.append({"kind": "small_test_set", "severity": "warn", "message": wide})
    for note in result.notes:
        out.append({"kind": "budget", "severity": "info", "message": note})
    if result.imputation_comparison:
        out.append(
            {
                "kind": "imputation",
                "severity": "info",
                "message": result.imputation_comparison["message"],
            }
        )
    return out


def _importance_diagnostics(importance: list[dict[str, Any]], n_test: int) -> list[dict[str, Any]]:
    """One diagnostic per column judged ``irrelevant`` or ``undetermined`` (see
    :func:`~tabloop.evaluate._importance.importance_verdict`)."""
    out = []
    for row in importance:
        verdict = row.get("verdict")
        if verdict not in ("irrelevant", "undetermined"):
            continue
        ci = f"95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f}"
        material = f"a material effect (±{row['material']:.4f})"
        if verdict == "irrelevant":
            message = (
                f"{row['column']!r}: permutation importance {row['mean']:+.4f} ({ci}) "
                f"excludes {material}; the model does not rely on it."
            )
        else:
            message = (
                f"{row['column']!r}: undetermined, permutation importance {row['mean']:+.4f} "
                f"({ci}) is compatible with no effect and with {material} on {n_test} "
                "test rows."
            )
        out.append(
            {
                "kind": f"{verdict}_feature",
                "severity": "info",
                "column": row["column"],
                "message": message,
            }
        )
    return out


def _metric_scale(metric: str, y: np.ndarray) -> tuple[float, str]:
    """The scale a metric's interval width is judged on, and its name for people: the
    test target's standard deviation for RMSE and MAE (its variance for MSE), which is
    also the dummy's RMSE; 1 for the other metrics (probabilities, shares, R², log loss)."""
    if metric in ("rmse", "mae", "mse"):
        sd = float(np.std(y))
        if metric == "mse":
            return sd**2, f"the target's variance, {sd**2:.4g}"
        return sd, f"the target's standard deviation, {sd:.4g}"
    return 1.0, ""


def _wide_interval(metric: str, metrics: dict[str, Any], y: np.ndarray) -> str | None:
    """The "test set too small" message when the main metric's interval is wider than
    :data:`WIDE_CI` of the metric's scale (absolute 0.1 on RMSE fired on every
    regression project), else ``None``."""
    main = metrics.get(metric) or {}
    if main.get("ci_low") is None or main.get("ci_high") is None:
        return None
    width = main["ci_high"] - main["ci_low"]
    scale, named = _metric_scale(metric, y)
    if scale <= 0 or width <= WIDE_CI * scale:
        return None
    relative = f" ({width / scale:.0%} of {named})" if named else ""
    return (
        f"The 95% CI of {metric} spans {width:.4g}{relative} with {len(y)} test rows: "
        "differences smaller than that are noise."
    )
