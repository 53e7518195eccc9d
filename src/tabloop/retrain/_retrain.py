"""``tabloop retrain``: train a challenger on fresher data and promote it only with evidence.

Steps: assemble the data (:mod:`._assemble`), train and evaluate the challenger with the
project's own config, score champion and challenger on the same held-out production
rows (paired bootstrap of the metric difference, fairness audit of both, the project's
requirements), register the challenger with the comparison attached, and, when asked,
move the ``champion`` alias. A running server follows the alias at its next reload
(``serve.reload_every`` or ``POST /admin/reload``); nothing restarts.

The decision rule: promote when the lower end of the paired interval of the improvement
is above ``retrain.margin`` (the challenger is better on these rows beyond sampling noise),
no requirement fails for the challenger on those rows, and the challenger beats the dummy
baseline in its own cross-validation (``TrainResult.beats_dummy``): a challenger that
learned nothing is never promoted, even over a champion that has decayed, and is registered
without an alias. Requirements are checked as in
production (pass / fail / unknown): a fairness violation blocks promotion, a gap the held-out
rows are too few to judge does not, and the report says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.exceptions import RetrainError

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.train import BaselineCheck, TabloopModel


@dataclass(frozen=True, eq=False)
class RetrainResult:
    """What ``retrain`` did: ``data`` is the report (plain data), ``version`` the new one."""

    data: dict[str, Any] = field(repr=False)

    @property
    def promoted(self) -> bool:
        return bool(self.data["decision"]["promoted"])

    @property
    def better(self) -> bool:
        return bool(self.data["decision"]["better"])

    @property
    def beats_dummy(self) -> bool:
        """Whether the challenger beat the dummy baseline in cross-validation."""
        return bool(self.data["decision"].get("beats_dummy", True))

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, default=str, allow_nan=False)

    def to_html(self) -> str:
        from tabloop.report import render_retrain

        return render_retrain(self.data)

    def save(self, out_dir: str | Path = "reports") -> dict[str, Path]:
        from tabloop.report import save_report

        return save_report(out_dir, "retrain", json_text=self.to_json(), html=self.to_html())


def retrain(
    config: ProjectConfig | None = None,
    *,
    promote_if_better: bool = False,
    out_dir: str | Path | None = None,
    time_budget: float | None = None,
    seed: int = 0,
) -> RetrainResult:
    """Train a challenger on the original (filtered) plus labelled production rows and
    compare it with the champion on the newest labelled rows; see the module docstring.

    Examples
    --------
    >>> result = retrain(promote_if_better=True)  # doctest: +SKIP
    >>> result.data["decision"]["reason"]  # doctest: +SKIP
    """
    from tabloop.config import load_config
    from tabloop.data import load_training_data
    from tabloop.registry import load_package, promote
    from tabloop.retrain._assemble import assemble
    from tabloop.workflows import train_and_register

    config = config if config is not None else load_config()
    champion = load_package(None, config=config)
    original = load_training_data(config)
    production = _production(config, original) if config.retrain.production else None
    data = assemble(config, original=original, production=production)
    out = Path(out_dir) if out_dir is not None else config.resolve("reports")
    # the challenger's table (the original rows joined with production's) is in memory:
    # it trains in this process whatever train.engine says
    here = config.model_copy(update={"train": config.train.model_copy(update={"engine": "local"})})
    run = train_and_register(
        here,
        df=data.train,
        time_budget=time_budget,
        out_dir=out / "challenger",
        register=False,
    )
    challenger = run.result.model
    metric = config.retrain.metric or run.result.metric
    holdout = data.holdout if len(data.holdout) else run.result.test
    where = "held-out production rows" if len(data.holdout) else "the challenger's test split"
    comparison = compare(champion.model, challenger, holdout, config, metric=metric, seed=seed)
    decision = _decide(comparison, config.retrain.margin, run.result.baseline_check)
    report: dict[str, Any] = {
        "project": config.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "champion": champion.uri,
        "challenger": None,
        "data": {**data.counts, "holdout_from": data.holdout_from, "compared_on": where},
        "comparison": comparison,
        "challenger_evaluation": {
            k: run.evaluation.to_dict().get(k)
            for k in ("metrics", "threshold", "requirements", "baseline_check")
        },
        "decision": decision,
        "warnings": list(run.result.warnings),
    }
    if not len(data.holdout):
        report["notes"] = [
            "retrain.production is false: compared on the challenger's test split, which the "
            "champion may have been trained on (its figure may be flattered)"
        ]
    from tabloop.registry import register

    result = RetrainResult(report)
    paths = result.save(out)
    version = register(
        run.result,
        run.evaluation.to_dict(),
        reports=[*run.reports.values(), *paths.values()],
        config=config,
        kind="retrain",
    )
    report["challenger"] = version.uri
    if (
        promote_if_better
        and decision["better"]
        and decision["requirements_met"]
        and decision["beats_dummy"]
    ):
        promote(version.version, config)
        decision["promoted"] = True
        decision["reason"] += f"; version {version.version} is now the champion"
    elif promote_if_better and decision["beats_dummy"]:
        decision["reason"] += f"; version {version.version} stays challenger"
    elif not decision["beats_dummy"]:
        decision["reason"] += f"; version {version.version} is registered without an alias"
    _attach(version.run_id, result.save(out), report)
    return result


def _attach(run_id: str, paths: dict[str, Path], report: dict[str, Any]) -> None:
    """Replace the run's retrain report with the final one (version and decision filled
    in) and log the comparison as the run's metrics (:func:`comparison_metrics`)."""
    import time

    import mlflow
    from mlflow.entities import Metric, RunTag

    from tabloop.registry import quiet_mlflow

    now = int(time.time() * 1000)
    tags = {
        "tabloop.champion": report["champion"],
        "tabloop.retrain_metric": report["comparison"]["metric"],
        "tabloop.decision": report["decision"]["reason"][:5000],
    }
    with quiet_mlflow():
        client = mlflow.MlflowClient()
        for path in paths.values():
            client.log_artifact(run_id, str(path), artifact_path="reports")
        client.log_batch(  # one request (one transaction) rather than one per figure
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in comparison_metrics(report).items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )


def comparison_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Challenger vs champion as MLflow metrics: ``retrain_rows`` compared on, the paired
    ``retrain_improvement`` of the decision metric with its interval, every metric of
    each model on those rows (``champion_f1``, ``challenger_f1``) and the decision as 0/1
    (``retrain_better``, ``retrain_requirements_met``, ``retrain_beats_dummy``,
    ``retrain_promoted``)."""
    comparison, decision = report["comparison"], report["decision"]
    diff = comparison["difference"]
    out: dict[str, float] = {"retrain_rows": float(comparison["rows"])}
    for key, name in (("improvement", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
        if diff.get(key) is not None:
            out[f"retrain_improvement{name}"] = float(diff[key])
    for model, scores in comparison["metrics"].items():
        for metric, entry in scores.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if value is not None and np.isfinite(value):
                out[f"{model}_{metric}"] = float(value)
    for flag in ("better", "requirements_met", "beats_dummy", "promoted"):
        out[f"retrain_{flag}"] = float(bool(decision.get(flag)))
    return out


def compare(
    champion: TabloopModel,
    challenger: TabloopModel,
    rows: pd.DataFrame,
    config: ProjectConfig,
    *,
    metric: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Both models on ``rows``: the paired metric difference, every metric of each, the
    fairness audit of each (when configured) and the requirements on the challenger."""
    from tabloop.evaluate import paired_difference, score_metrics
    from tabloop.monitor import check_production

    target, task = config.data.target, challenger.task
    assert target is not None
    if len(rows) == 0:
        raise RetrainError("No held-out rows to compare champion and challenger on.")
    y = _encode(rows[target], challenger)
    a, b = _outputs(champion, rows), _outputs(challenger, rows)
    n_boot = config.evaluate.bootstrap
    difference = paired_difference(task, y, metric=metric, a=a, b=b, n_boot=n_boot, seed=seed)
    metrics = {
        name: score_metrics(task, y, prediction=p, proba=q, n_boot=n_boot, seed=seed)
        for name, (p, q) in (("champion", a), ("challenger", b))
    }
    for scores in metrics.values():
        scores.pop("confusion_matrix", None)
    fairness = _fairness(config, rows, y, {"champion": a[0], "challenger": b[0]}, seed)
    requirements = [
        *config.evaluate.requirements,
        *(r for r in config.monitor.requirements if not r.startswith(("drift.", "estimated."))),
    ]
    checked = check_production(
        requirements,
        metrics=metrics["challenger"],
        estimated=None,
        drift={},
        fairness=(fairness or {}).get("challenger"),
        fairness_note="no fairness audit on the held-out rows (not configured, or its "
        "columns are not in them)",
    )
    return {
        "rows": len(rows),
        "metric": metric,
        "difference": difference,
        "metrics": metrics,
        "fairness": fairness,
        "requirements": checked,
    }


def _decide(
    comparison: dict[str, Any], margin: float, baseline_check: BaselineCheck | None = None
) -> dict[str, Any]:
    diff = comparison["difference"]
    sign = 1.0 if diff["higher_is_better"] else -1.0
    low = diff["ci_low"] if sign > 0 else diff["ci_high"]
    bound = None if low is None else sign * low
    better = bound is not None and bound > margin
    failed = [r["expression"] for r in comparison["requirements"] if r["status"] == "fail"]
    metric = comparison["metric"]
    if better:
        reason = (
            f"challenger better on {metric} by {diff['improvement']:+.4f} (95% CI of the "
            f"improvement starts at {bound:+.4f} > margin {margin})"
        )
    elif bound is None:
        reason = f"no interval for {metric} on {comparison['rows']} rows"
    else:
        reason = (
            f"challenger not proven better on {metric}: improvement {diff['improvement']:+.4f}, "
            f"its 95% CI starts at {bound:+.4f}, not above margin {margin}"
        )
    if failed:
        reason += f"; requirements not met: {', '.join(failed)}"
    beats_dummy = baseline_check is None or baseline_check.beats_dummy
    if baseline_check is not None and not beats_dummy:
        reason = (
            f"the challenger does not beat the dummy baseline: {baseline_check.reason}; " + reason
        )
    return {
        "better": bool(better),
        "requirements_met": not failed,
        "beats_dummy": beats_dummy,
        "promoted": False,
        "margin": margin,
        "reason": reason,
    }


def _production(config: ProjectConfig, original: pd.DataFrame) -> pd.DataFrame:
    """Every logged row (all periods, all model versions) as the monitor's flat frame."""
    from tabloop.monitor import production as prod

    log, _ = prod.read_log(config)
    frame = prod.from_log(log)
    if config.data.id and config.data.id not in frame.columns:
        # the service keeps the id column's value as the entity id
        frame[config.data.id] = _like(log["entity_id"], original[config.data.id])
    return frame


def _like(values: pd.Series, original: pd.Series) -> pd.Series:
    """Logged ids (text) in the type of the original id column, so duplicates match."""
    if pd.api.types.is_integer_dtype(original):
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if pd.api.types.is_float_dtype(original):
        return pd.to_numeric(values, errors="coerce")
    return values


def _encode(values: pd.Series, model: TabloopModel) -> np.ndarray:
    if model.task == "regression":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    from tabloop.monitor import encode_labels

    codes = encode_labels(values, list(model.classes))
    if (codes < 0).any():
        bad = values.to_numpy()[codes < 0][0]
        raise RetrainError(f"Held-out outcome {bad!r} is not a class of the model.")
    return codes


def _outputs(model: TabloopModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    scores = model.predict_scores(rows)
    if model.task == "binary":
        threshold = 0.5 if model.threshold is None else model.threshold
        return (scores >= threshold).astype(int), scores
    if model.task == "multiclass":
        return scores.argmax(axis=1), scores
    return scores, None


def _fairness(
    config: ProjectConfig,
    rows: pd.DataFrame,
    y: np.ndarray,
    predictions: dict[str, np.ndarray],
    seed: int,
) -> dict[str, Any] | None:
    settings = config.monitor.fairness or config.evaluate.fairness
    if settings is None or config.task not in (None, "binary"):
        return None
    needed = [*settings.protected, *([settings.segment] if settings.segment else [])]
    if any(c not in rows.columns for c in needed):
        return None
    from tabloop.evaluate import fairness_audit

    out = {}
    for name, pred in predictions.items():
        audit = fairness_audit(
            y,
            pred,
            sensitive=rows[list(settings.protected)].reset_index(drop=True),
            segment=rows[settings.segment].reset_index(drop=True) if settings.segment else None,
            metric=settings.metric,
            min_group_size=settings.min_group_size,
            max_gap=settings.max_gap,
            intersections=settings.intersections,
            n_boot=config.evaluate.bootstrap,
            seed=seed,
        )
        out[name] = audit.to_dict()
    return out
