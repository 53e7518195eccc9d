"""Runs, model versions and aliases in MLflow.

Every training is one MLflow run (params, metrics with their confidence intervals, the
reports, the resolved config, a hash of the data) whose pyfunc model is registered under
the project's name, laid out as MLflow users expect: a named run (``train treatment``)
tagged with tabloop's version and kind, its splits as dataset inputs (:mod:`._datasets`),
a signature and input example (:mod:`._signature`), the model's own requirements
(:mod:`._requirements`), a described and tagged version, and an experiment tagged for
MLflow's classic ML view. The first version becomes ``champion``; later ones
``challenger``. A
model that does not beat the dummy baseline (``result.beats_dummy`` is False) is registered
with no alias, so nothing serves it unless someone promotes it by hand.
Promotions are remembered in a registered-model tag, so ``rollback`` can walk back.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import ModelNotFoundError, RegistryError
from tabloop.registry._datasets import log_datasets
from tabloop.registry._tracking import (
    artifact_root,
    connect,
    missing_store,
    quiet_mlflow,
    tracking_uri,
)

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig

CHAMPION, CHALLENGER = "champion", "challenger"
_HISTORY_TAG = "tabloop.champion_history"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: int
    aliases: tuple[str, ...]
    run_id: str
    uri: str


def register(
    result: Any,
    evaluation: dict[str, Any] | None = None,
    *,
    reports: list[Path] | None = None,
    config: ProjectConfig | None = None,
    kind: str = "train",
) -> RegisteredVersion:
    """Log ``result`` (a :class:`~tabloop.train.TrainResult`) as an MLflow run and register it.

    The run is named ``<kind> <project>`` (``train treatment``; a retrain's run becomes
    ``retrain stops v2`` once its version is known) and tagged with tabloop's version and
    ``tabloop.kind``; the train and test splits are its dataset inputs; the model carries
    a signature, an input example and the requirements of its own pickle; the version a
    description and tags. Returns the new version with its alias: ``champion`` if the name
    had no champion yet, else ``challenger``; none when the model does not beat the dummy
    baseline.
    """
    import mlflow

    from tabloop.registry._pyfunc import user_code, write_artifacts

    config = config or result.config
    uri = connect(tracking_uri(config))
    name = config.model_name
    experiment = _experiment(mlflow, config.name, uri)
    useful = bool(getattr(result, "beats_dummy", True))
    with (
        quiet_mlflow(),
        tempfile.TemporaryDirectory() as tmp,
        mlflow.start_run(experiment_id=experiment, run_name=f"{kind} {config.name}") as run,
    ):
        mlflow.log_params(_params(result))
        mlflow.log_metrics(_metrics(result, evaluation))
        mlflow.set_tags(
            {
                **run_tags(kind, config.name),
                "tabloop.task": result.task,
                "tabloop.data_hash": result.data_hash,
                "tabloop.beats_dummy": str(useful).lower(),
            }
        )
        log_datasets(run.info.run_id, result, config)
        mlflow.log_dict(result.config.model_dump(mode="json"), "config/tabloop.json")
        for path in reports or []:
            mlflow.log_artifact(str(path), artifact_path="reports")
        artifacts = write_artifacts(Path(tmp) / "package", result, evaluation)
        code = [str(path) for path in user_code(result)]  # a team's own model module(s)
        info = _log_model(result, artifacts, code, name)
    client = mlflow.MlflowClient()
    version = int(info.registered_model_version)
    _describe_version(client, name, version, result, evaluation, kind)
    if kind == "retrain":  # the challenger's run says which version it became
        client.update_run(run.info.run_id, name=f"{kind} {config.name} v{version}")
    if not useful:
        return RegisteredVersion(name, version, (), run.info.run_id, f"models:/{name}/{version}")
    alias = CHALLENGER if _alias_version(client, name, CHAMPION) is not None else CHAMPION
    client.set_registered_model_alias(name, alias, str(version))
    if alias == CHAMPION:
        _push_history(client, name, version)
    return RegisteredVersion(name, version, (alias,), run.info.run_id, f"models:/{name}/{version}")


def _log_model(result: Any, artifacts: dict[str, str], code: list[str], name: str) -> Any:
    """Log and register the pyfunc package in the active run, with its signature and input
    example when they agree (:func:`~._signature.described`); else without them, and the
    run's ``tabloop.signature`` tag says why."""
    import mlflow

    from tabloop.registry._pyfunc import TabloopPyfunc
    from tabloop.registry._requirements import model_requirements
    from tabloop.registry._signature import described

    fields, reason = described(result.model, result.train)
    if reason is not None:
        mlflow.set_tag("tabloop.signature", f"not logged: {reason}")
    # MLflow prints "Successfully registered ..." on stderr; we report the version
    with contextlib.redirect_stderr(io.StringIO()):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=TabloopPyfunc(),
            artifacts=artifacts,
            code_paths=code or None,
            pip_requirements=model_requirements(result.model),
            registered_model_name=name,
            metadata={"tabloop_task": result.task},
            **fields,
        )


def run_tags(kind: str, project: str) -> dict[str, str]:
    """The tags every tabloop run carries: its kind, the project, tabloop's version."""
    from tabloop import __version__

    return {"tabloop.kind": kind, "tabloop.project": project, "tabloop.version": __version__}


def list_versions(
    config: ProjectConfig | None = None, *, name: str | None = None
) -> list[dict[str, Any]]:
    """Every version of the model, newest first: ``version``, ``aliases``, ``created`` (ISO
    8601, UTC), ``run_id``, ``selection_metric`` (the metric its training selected by) and
    each test metric as ``{value, ci_low, ci_high}`` (95% interval). A missing SQLite store
    is a :class:`ModelNotFoundError` (a lookup creates no empty store)."""
    from datetime import UTC, datetime

    import mlflow

    name = name or _name(config)
    _connect_existing(config, name)
    client = mlflow.MlflowClient()
    versions = _versions(client, name)
    rows = []
    for found in sorted(versions, key=lambda v: int(v.version), reverse=True):
        # search results leave aliases out on some stores; the version itself has them
        v = client.get_model_version(name, found.version)
        run = client.get_run(v.run_id) if v.run_id else None
        logged = run.data.metrics if run is not None else {}
        metrics = {
            k.removeprefix("test_"): {
                "value": value,
                "ci_low": logged.get(f"{k}_ci_low"),
                "ci_high": logged.get(f"{k}_ci_high"),
            }
            for k, value in sorted(logged.items())
            if k.startswith("test_") and not k.endswith(("_ci_low", "_ci_high"))
        }
        created = datetime.fromtimestamp(v.creation_timestamp / 1000, tz=UTC)
        rows.append(
            {
                "version": int(v.version),
                "aliases": sorted(v.aliases),
                "created": created.isoformat(timespec="seconds"),
                "run_id": v.run_id,
                "selection_metric": run.data.params.get("metric") if run is not None else None,
                "metrics": metrics,
            }
        )
    return rows


def promote(
    version: int | str, config: ProjectConfig | None = None, *, name: str | None = None
) -> RegisteredVersion:
    """Make ``version`` the champion; the previous champion is remembered for rollback."""
    import mlflow

    name = name or _name(config)
    _connect_existing(config, name)
    client = mlflow.MlflowClient()
    known = {int(v.version) for v in _versions(client, name)}
    if int(version) not in known:
        raise ModelNotFoundError(
            f"Model {name!r} has no version {version}; versions: {sorted(known)}."
        )
    client.set_registered_model_alias(name, CHAMPION, str(version))
    if _alias_version(client, name, CHALLENGER) == int(version):
        client.delete_registered_model_alias(name, CHALLENGER)
    _push_history(client, name, int(version))
    return _version_info(client, name, int(version))


def rollback(config: ProjectConfig | None = None, *, name: str | None = None) -> RegisteredVersion:
    """Move ``champion`` back to the version that held it before the last promotion."""
    import mlflow

    name = name or _name(config)
    _connect_existing(config, name)
    client = mlflow.MlflowClient()
    history = _history(client, name)
    if len(history) < 2:
        raise RegistryError(
            f"Model {name!r} has no earlier champion to roll back to (history: {history})."
        )
    demoted, previous = history[-1], history[-2]
    client.set_registered_model_alias(name, CHAMPION, str(previous))
    client.set_registered_model_alias(name, CHALLENGER, str(demoted))
    client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history[:-1]))
    return _version_info(client, name, previous)


def resolve_model_uri(model: str | None, config: ProjectConfig | None = None) -> str:
    """``models:/NAME@champion`` of the project when ``model`` is not given."""
    if model:
        return model
    return f"models:/{_name(config)}@{CHAMPION}"


# -- helpers -------------------------------------------------------------------------------
def _name(config: ProjectConfig | None) -> str:
    if config is None:
        raise RegistryError("No model named: pass a model URI or run inside a project folder.")
    return config.model_name


def _connect_existing(config: ProjectConfig | None, name: str) -> None:
    """Point MLflow at the project's store; a SQLite store that does not exist is a
    :class:`ModelNotFoundError`, as looking a model up must not create an empty store."""
    uri = tracking_uri(config)
    missing = missing_store(uri)
    if missing is not None:
        whose = f"project {config.name!r}" if config is not None else f"model {name!r}"
        raise ModelNotFoundError(
            f"No MLflow store at {missing}: nothing was registered for {whose} yet "
            "(`tabloop train` registers its model). Nothing was created."
        )
    connect(uri)


#: MLflow 3's experiment tag that picks the UI's layout; tabloop's runs are classic ML.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def _experiment(mlflow: Any, name: str, uri: str) -> str:
    """The project's experiment (created with its artifacts beside an embedded store),
    tagged so the MLflow UI opens on its classic ML view (runs, metrics, models)."""
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        tags = dict([EXPERIMENT_KIND])
        return str(mlflow.create_experiment(name, artifact_location=artifact_root(uri), tags=tags))
    if found.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:  # made by an older tabloop
        mlflow.MlflowClient().set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
    return str(found.experiment_id)


def _versions(client: Any, name: str) -> list[Any]:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        raise ModelNotFoundError(
            f"No registered model {name!r} in {tracking_uri_of(client)}; run `tabloop train` first."
        ) from None
    return list(client.search_model_versions(f"name='{name}'"))


def tracking_uri_of(client: Any) -> str:
    return str(getattr(client, "_registry_uri", "") or getattr(client, "tracking_uri", ""))


def _alias_version(client: Any, name: str, alias: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _history(client: Any, name: str) -> list[int]:
    tags = client.get_registered_model(name).tags or {}
    return [int(v) for v in json.loads(tags.get(_HISTORY_TAG, "[]"))]


def _push_history(client: Any, name: str, version: int) -> None:
    history = _history(client, name)
    if not history or history[-1] != version:
        history.append(version)
    client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history))


def _version_info(client: Any, name: str, version: int) -> RegisteredVersion:
    v = client.get_model_version(name, str(version))
    return RegisteredVersion(
        name, version, tuple(sorted(v.aliases)), v.run_id, f"models:/{name}/{version}"
    )


def _params(result: Any) -> dict[str, Any]:
    cfg = result.config
    return {
        "task": result.task,
        "models": ",".join(cfg.train.models),
        "ensemble": ",".join(f"{k}:{w:.3f}" for k, w in result.weights.items()),
        "folds": cfg.train.folds,
        "metric": result.metric,
        "imputation": cfg.prepare.imputation,
        "imbalance": cfg.train.imbalance,
        "threshold_objective": cfg.train.threshold,
        "threshold": None if result.model.threshold is None else round(result.model.threshold, 6),
        "split": cfg.split_strategy,
        "n_train": len(result.train),
        "n_test": len(result.test),
        "data_hash": result.data_hash,
    }


def _metrics(result: Any, evaluation: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in result.cv:
        out[f"cv_{r.name}_mean"] = r.mean
        out[f"cv_{r.name}_std"] = r.std
    for name, entry in ((evaluation or {}).get("metrics") or {}).items():
        if not isinstance(entry, dict) or "value" not in entry:
            continue
        for key, suffix in (("value", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            if entry.get(key) is not None:
                out[f"test_{name}{suffix}"] = float(entry[key])
    out["train_seconds"] = result.seconds
    return out


def _describe_version(
    client: Any,
    name: str,
    version: int,
    result: Any,
    evaluation: dict[str, Any] | None,
    kind: str,
) -> None:
    """A version's description (one sentence a person reads in the registry) and tags."""
    from tabloop import __version__

    metric = result.metric
    entry = ((evaluation or {}).get("metrics") or {}).get(metric) or {}
    value = entry.get("value") if isinstance(entry, dict) else None
    score = "" if value is None else f", test {metric} {value:.4f}"
    if value is not None and entry.get("ci_low") is not None:
        score += f" [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"
    models = ", ".join(m.name for m in result.model.members)
    rows = _training_rows(result)
    verdict = "" if getattr(result, "beats_dummy", True) else "; does not beat the dummy"
    description = (
        f"{result.task} model of {result.config.name} ({models}) by tabloop {kind}"
        f"{score}; {rows:,} training rows, data {result.data_hash[:12]}{verdict}."
    )
    client.update_model_version(name, str(version), description=description)
    tags = {
        "project": result.config.name,
        "task": result.task,
        "metric": metric,
        "training_rows": str(rows),
        "kind": kind,
        "tabloop_version": __version__,
    }
    if value is not None:
        tags[f"test_{metric}"] = f"{value:.6g}"
    for key, text in tags.items():
        client.set_model_version_tag(name, str(version), key, text)


def _training_rows(result: Any) -> int:
    """Training rows: all of them when the table was read in pieces, else the frame's."""
    source = getattr(result, "source", None)
    return int(getattr(source, "train_rows", None) or len(result.train))
