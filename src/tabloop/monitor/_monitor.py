"""``tabloop monitor``: how the model really does in production, and whether that has moved.

One call reads the production rows (the prediction log, or a file), the model package
(reference summary, reference sample, test metrics, threshold) and the ``monitor`` section
of the config, and returns a :class:`MonitorReport`: plain data that the HTML page, the
JSON file, the terminal and ``GET /monitor`` all render.

Maintainer note: the whole window is judged once (drift, realised and estimated
performance, fairness, requirements); chunks repeat the cheap parts (drift against the
stored reference summary, short metrics, estimates) so the report can draw them over time.
Chunks below ``min_chunk_rows`` are drawn but not judged.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.data.frame import json_safe
from tabloop.exceptions import MonitorError
from tabloop.monitor import _production as prod
from tabloop.monitor._performance import SHORT_METRICS, by_segment, compare_with_test, realised
from tabloop.monitor._requirements import check_production, failed
from tabloop.monitor._windows import chunk_labels, chunk_order, parse_time, select

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.registry import ModelPackage

#: What the progress bar counts.
STEPS = ("drift", "multivariate drift", "performance", "fairness", "chunks")
#: Bootstrap replicates per chunk and per segment (the whole window uses monitor.bootstrap).
SMALL_BOOT = 200


@dataclass(frozen=True, eq=False)
class MonitorReport:
    """The monitor's findings as plain data (``data``), and whether every requirement held."""

    data: dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        """False when a requirement failed on the window (unknown ones do not count)."""
        return not failed(self.data["requirements"])

    @property
    def requirements(self) -> list[dict[str, Any]]:
        return list(self.data["requirements"])

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, default=str, allow_nan=False)

    def to_html(self) -> str:
        from tabloop.report import render_monitor

        return render_monitor(self.data)

    def save(self, out_dir: str | Path = "reports") -> dict[str, Path]:
        """Write ``monitor.html`` and ``monitor.json`` into ``out_dir``."""
        from tabloop.report import save_report

        return save_report(out_dir, "monitor", json_text=self.to_json(), html=self.to_html())


def monitor(
    config: ProjectConfig | None = None,
    *,
    data: str | Path | pd.DataFrame | None = None,
    model: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    chunk: str | None = None,
    variant: str | None = None,
    already_alerted: Collection[str] = (),
    seed: int = 0,
) -> MonitorReport:
    """Monitor the project's champion (or ``model``) on production rows.

    Parameters
    ----------
    config : the project (default: ``tabloop.yaml`` in the working directory).
    data : a CSV/Parquet file or a DataFrame of production rows (model inputs, context,
        ``prediction``, optionally ``score``/``probability``, the outcome as ``outcome``
        or the target's name, and a time column); default: the project's prediction log,
        rows predicted by this model version.
    model : ``models:/NAME@alias`` or ``models:/NAME/VERSION``; default: the champion.
    since, until : the window (``since`` inclusive, ``until`` exclusive; ISO text or datetime).
    chunk : ``'1d'``, ``'1w'``, ``'12h'`` or a row count; default ``monitor.chunk``.
    variant : only rows served by this A/B variant (log only).
    already_alerted : requirements whose failure was alerted before (a scheduled run passes
        the previous run's failures): the webhook is called only when a requirement fails
        that is not among them, so a lasting failure is one alert, not one per run.

    Examples
    --------
    >>> report = monitor(since="2025-03-01", chunk="1w")  # doctest: +SKIP
    >>> report.passed, report.save("reports")  # doctest: +SKIP
    """
    from tabloop.config import load_config
    from tabloop.registry import load_package

    config = config if config is not None else load_config()
    settings = config.monitor
    package = load_package(model, config=config)
    start, end = parse_time(since, name="since"), parse_time(until, name="until")
    frame, source = _production_rows(config, package, data, variant)
    frame = select(frame, time=prod.TIME, since=start, until=end)
    if len(frame) == 0:
        raise MonitorError(
            f"The window holds no production rows ({_window_text(start, end)}, {source}); "
            "widen --since/--until, or send predictions first."
        )
    frame = frame.reset_index(drop=True)
    from tabloop._progress import Bars

    with Bars() as bars:
        bar = bars.add("monitor", total=len(STEPS))

        def step(name: str) -> None:
            bars.update(bar, description=f"monitor: {name}")
            bars.advance(bar)

        chunk = chunk or settings.chunk
        data = _monitor_frame(frame, package, config, source, start, end, chunk, seed, step)
    _alert(data, config.monitor.alert_webhook, set(already_alerted))
    return MonitorReport(data)


def _monitor_frame(
    frame: pd.DataFrame,
    package: ModelPackage,
    config: ProjectConfig,
    source: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    chunk: str | None,
    seed: int,
    step: Any,
) -> dict[str, Any]:
    settings = config.monitor
    task, model = package.model.task, package.model
    classes = list(model.classes or [])
    notes: list[str] = []
    profile = package.reference_profile()
    if profile is None:
        raise MonitorError(
            f"Model {package.uri} has no reference summary (reference_profile.json): it was "
            "registered by an older tabloop. Retrain and register it again (`tabloop "
            "train`) to monitor drift against its training data."
        )
    columns = _drift_columns(config, package, profile, frame)
    drift = _drift(profile, frame, columns, settings)
    drift_dict = drift.to_dict()
    step("drift")
    drift_dict["multivariate"] = _multivariate(package, frame, settings, notes, seed)
    step("multivariate drift")

    labelled = int(frame[prod.OUTCOME].notna().sum())
    performance = realised(frame, task=task, classes=classes, n_boot=settings.bootstrap, seed=seed)
    test_metrics = package.meta.get("metrics", {})
    performance["comparison"] = compare_with_test(performance["metrics"], test_metrics)
    if settings.segment:
        if settings.segment in frame.columns:
            performance["segments"] = {
                "column": settings.segment,
                "rows": by_segment(
                    frame,
                    settings.segment,
                    task=task,
                    classes=classes,
                    n_boot=SMALL_BOOT,
                    seed=seed,
                ),
            }
        else:
            notes.append(
                f"monitor.segment {settings.segment!r} is not in the production rows; log it "
                "with serve.context"
            )
    if labelled == 0:
        notes.append("no outcomes in this window yet: realised performance is not available")
    step("performance")

    estimated = _estimated(frame, model, task)
    fairness_settings = settings.fairness or config.evaluate.fairness
    fairness, fairness_note = None, None
    if fairness_settings is not None and task == "binary":
        from tabloop.monitor._fairness import production_fairness

        fairness, fairness_note = production_fairness(
            frame, fairness_settings, classes=classes, n_boot=settings.bootstrap, seed=seed
        )
        if fairness_note:
            notes.append(fairness_note)
    step("fairness")

    figures = {
        "share_drifted_columns": drift_dict.get("share_drifted"),
        "multivariate_auc": (drift_dict["multivariate"] or {}).get("auc"),
    }
    requirements = check_production(
        settings.requirements,
        metrics=performance["metrics"],
        estimated=_estimated_metrics(estimated),
        drift=figures,
        fairness=(fairness or {}).get("model"),
        fairness_note=fairness_note,
    )
    chunks = _chunks(frame, profile, columns, package, config, chunk, seed)
    step("chunks")
    versions = sorted(str(v) for v in frame[prod.VERSION].dropna().unique() if str(v))
    times = frame[prod.TIME].dropna()
    report = {
        "project": config.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": task,
        "source": source,
        "model": {
            "uri": package.uri,
            "version": package.version,
            "threshold": package.meta.get("threshold"),
            "classes": classes,
            "test_metrics": test_metrics,
        },
        "window": {
            "since": None if start is None else start.isoformat(),
            "until": None if end is None else end.isoformat(),
            "first": None if times.empty else times.min().isoformat(),
            "last": None if times.empty else times.max().isoformat(),
            "rows": len(frame),
            "labelled": labelled,
            "labelled_share": labelled / len(frame),
            "model_versions": versions,
            "chunk": chunk,
        },
        "drift": drift_dict,
        "performance": performance,
        "estimated": estimated,
        "fairness": fairness,
        "chunks": chunks,
        "requirements": requirements,
        "notes": notes,
    }
    report["passed"] = not failed(requirements)
    report["alert"] = None
    return json_safe(report)


# -- parts --------------------------------------------------------------------------------
def _alert(report: dict[str, Any], webhook: str | None, already: set[str]) -> None:
    """POST the alert for failures not alerted before (recorded in ``report["alert"]``)."""
    failing = {r["expression"] for r in failed(report["requirements"])}
    if not failing or not webhook:
        return
    from tabloop.monitor._alerts import alert_payload, send_alert

    if failing <= already:
        report["alert"] = {
            "url": webhook,
            "sent": False,
            "status": None,
            "error": None,
            "skipped": f"already alerted: {', '.join(sorted(failing))}",
        }
        return
    report["alert"] = send_alert(webhook, alert_payload(report))


def _production_rows(
    config: ProjectConfig, package: ModelPackage, data: Any, variant: str | None
) -> tuple[pd.DataFrame, str]:
    if data is not None:
        if variant is not None:
            raise MonitorError("--variant selects rows of the log; it cannot filter --data.")
        frame = prod.from_file(data, outcome=config.data.target, time=config.data.time)
        name = "a DataFrame" if isinstance(data, pd.DataFrame) else f"file {data}"
        return frame.sort_values(prod.TIME, kind="stable"), name
    log, url = prod.read_log(config, variant=variant)
    frame = prod.from_log(log)
    if package.uri.startswith("models:/"):
        name = package.uri.split("/")[1]
        mine = (log["model_name"] == name).to_numpy() & (
            frame[prod.VERSION].astype(str) == package.version
        ).to_numpy()
        if not mine.any() and len(frame):
            others = frame[prod.VERSION].astype(str).value_counts()
            listed = ", ".join(f"version {v}: {n:,} rows" for v, n in others.items())
            raise MonitorError(
                f"The log holds no predictions of {package.uri} ({listed}); a newly promoted "
                f"champion has none yet. Monitor another with --model models:/{name}/"
                f"{others.index[0]}."
            )
        frame = frame[mine]
    where = f"the log at {url}" + (f", variant {variant!r}" if variant else "")
    return frame, f"{where}, model version {package.version}"


def _drift_columns(
    config: ProjectConfig, package: ModelPackage, profile: Any, frame: pd.DataFrame
) -> list[str]:
    chosen = config.monitor.drift.columns
    if chosen:
        unknown = [c for c in chosen if c not in profile.columns]
        if unknown:
            raise MonitorError(
                f"monitor.drift.columns names {unknown[0]!r}, which the model's reference "
                f"summary does not hold; known: {', '.join(profile.columns)}."
            )
        return list(chosen)
    wanted = [*package.model.inputs, *config.serve.context, prod.PREDICTION, prod.SCORE]
    wanted += [c for c in profile.columns if c in frame.columns and c not in prod.RESERVED]
    seen: dict[str, None] = {}
    for column in wanted:
        if column in profile.columns and column != config.data.target:
            seen.setdefault(column, None)
    return list(seen)


def _drift(profile: Any, frame: pd.DataFrame, columns: list[str], settings: Any) -> Any:
    from tabloop.monitor._drift import drift_report

    return drift_report(
        profile,
        frame,
        columns=columns,
        threshold_numeric=settings.drift.numeric_threshold,
        threshold_categorical=settings.drift.categorical_threshold,
        threshold_missing=settings.drift.missing_threshold,
        alpha=settings.drift.alpha,
        missing="report",
    )


def _multivariate(
    package: ModelPackage, frame: pd.DataFrame, settings: Any, notes: list[str], seed: int
) -> dict[str, Any] | None:
    if not settings.drift.multivariate:
        return None
    reference = package.reference_sample()
    if reference is None:
        notes.append(f"model {package.uri} has no reference sample: no multivariate drift")
        return None
    model = package.model
    columns = [c for c in model.inputs if c in frame.columns and c in reference.columns]
    kinds = {c.name: c.kind for c in model.schema if c.name in columns}
    columns = [c for c in columns if kinds.get(c) in ("numeric", "categorical", "boolean")]
    if not columns or len(frame) < 20:
        notes.append("multivariate drift needs at least 20 production rows and one input column")
        return None
    from tabloop.monitor._multivariate import domain_classifier

    try:
        return domain_classifier(reference, frame, columns=columns, kinds=kinds, seed=seed)
    except MonitorError as exc:
        notes.append(f"multivariate drift skipped: {exc}")
        return None


def _estimated(frame: pd.DataFrame, model: Any, task: str) -> dict[str, Any] | None:
    if task != "binary":
        return None
    score = pd.to_numeric(frame[prod.SCORE], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(score)
    if not ok.any():
        return None
    from tabloop.monitor._estimated import estimated_performance
    from tabloop.monitor._performance import outcome_codes

    y = outcome_codes(frame[prod.OUTCOME], list(model.classes))
    threshold = 0.5 if model.threshold is None else float(model.threshold)
    return estimated_performance(score[ok], threshold=threshold, y_true=y[ok])


def _estimated_metrics(estimated: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if estimated is None else estimated["estimated"]["metrics"]


def _chunks(
    frame: pd.DataFrame,
    profile: Any,
    columns: list[str],
    package: ModelPackage,
    config: ProjectConfig,
    chunk: str | None,
    seed: int,
) -> list[dict[str, Any]]:
    if chunk is None:
        return []
    settings = config.monitor
    task, classes = package.model.task, list(package.model.classes or [])
    labels = chunk_labels(frame, time=prod.TIME, chunk=chunk)
    out = []
    for label in chunk_order(labels):
        part = frame[labels == label]
        judged = len(part) >= settings.min_chunk_rows
        row: dict[str, Any] = {"chunk": label, "rows": len(part), "judged": judged}
        row["labelled"] = int(part[prod.OUTCOME].notna().sum())
        drift = _drift(profile, part, columns, settings)
        row["share_drifted"] = drift.share_drifted
        row["drifted_columns"] = list(drift.drifted_columns)
        perf = realised(
            part,
            task=task,
            classes=classes,
            n_boot=SMALL_BOOT if judged else 0,
            seed=seed,
            names=SHORT_METRICS[task],
        )
        row["metrics"] = perf["metrics"]
        estimated = _estimated(part, package.model, task)
        row["estimated"] = _estimated_metrics(estimated)
        row["requirements"] = (
            check_production(
                [r for r in settings.requirements if not r.startswith("fairness.")],
                metrics=perf["metrics"],
                estimated=row["estimated"],
                drift={"share_drifted_columns": drift.share_drifted},
                fairness=None,
            )
            if judged
            else []
        )
        out.append(row)
    return out


def _window_text(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    if start is None and end is None:
        return "all rows"
    return f"from {start or 'the start'} until {end or 'now'}"
