"""Runs, model versions and aliases in MLflow.

Every training is one MLflow run (params, metrics with their confidence intervals, the
reports, the resolved config, a hash of the data) whose pyfunc model is registered under
the project's name. The first version becomes ``champion``; later ones ``challenger``. A
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
from tabloop.registry._tracking import artifact_root, connect, quiet_mlflow, tracking_uri

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
) -> RegisteredVersion:
    """Log ``result`` (a :class:`~tabloop.train.TrainResult`) as an MLflow run and register it.

    Returns the new version with its alias: ``champion`` if the name had no champion yet,
    else ``challenger``; none when the model does not beat the dummy baseline.
    """
    import mlflow

    from tabloop.registry._pyfunc import TabloopPyfunc, user_code, write_artifacts

    config = config or result.config
    uri = connect(tracking_uri(config))
    name = config.model_name
    experiment = _experiment(mlflow, config.name, uri)
    with (
        quiet_mlflow(),
        tempfile.TemporaryDirectory() as tmp,
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        mlflow.log_params(_params(result))
        mlflow.log_metrics(_metrics(result, evaluation))
        useful = bool(getattr(result, "beats_dummy", True))
        mlflow.set_tags(
            {
                "tabloop.task": result.task,
                "tabloop.data_hash": result.data_hash,
                "tabloop.beats_dummy": str(useful).lower(),
            }
        )
        mlflow.log_dict(result.config.model_dump(mode="json"), "config/tabloop.json")
        for path in reports or []:
            mlflow.log_artifact(str(path), artifact_path="reports")
        artifacts = write_artifacts(Path(tmp) / "package", result, evaluation)
        code = [str(path) for path in user_code(result)]  # a team's own model module(s)
        # MLflow prints "Successfully registered ..." on stderr; we report the version ourselves
        with contextlib.redirect_stderr(io.StringIO()):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=TabloopPyfunc(),
                artifacts=artifacts,
                code_paths=code or None,
                pip_requirements=_requirements(),
                registered_model_name=name,
                metadata={"tabloop_task": result.task},
            )
    client = mlflow.MlflowClient()
    version = int(info.registered_model_version)
    if not useful:
        return RegisteredVersion(name, version, (), run.info.run_id, f"models:/{name}/{version}")
    alias = CHALLENGER if _alias_version(client, name, CHAMPION) is not None else CHAMPION
    client.set_registered_model_alias(name, alias, str(version))
    if alias == CHAMPION:
        _push_history(client, name, version)
    return RegisteredVersion(name, version, (alias,), run.info.run_id, f"models:/{name}/{version}")


def list_versions(
    config: ProjectConfig | None = None, *, name: str | None = None
) -> list[dict[str, Any]]:
    """Every version of the model: number, aliases, creation time, run and key test metrics."""
    import mlflow

    connect(tracking_uri(config))
    name = name or _name(config)
    client = mlflow.MlflowClient()
    versions = _versions(client, name)
    rows = []
    for found in sorted(versions, key=lambda v: int(v.version), reverse=True):
        # search results leave aliases out on some stores; the version itself has them
        v = client.get_model_version(name, found.version)
        run = client.get_run(v.run_id) if v.run_id else None
        metrics = (
            {}
            if run is None
            else {
                k.removeprefix("test_"): val
                for k, val in run.data.metrics.items()
                if k.startswith("test_") and not k.endswith(("_ci_low", "_ci_high"))
            }
        )
        rows.append(
            {
                "version": int(v.version),
                "aliases": sorted(v.aliases),
                "created": v.creation_timestamp,
                "run_id": v.run_id,
                "metrics": metrics,
            }
        )
    return rows


def promote(
    version: int | str, config: ProjectConfig | None = None, *, name: str | None = None
) -> RegisteredVersion:
    """Make ``version`` the champion; the previous champion is remembered for rollback."""
    import mlflow

    connect(tracking_uri(config))
    name = name or _name(config)
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

    connect(tracking_uri(config))
    name = name or _name(config)
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


def _experiment(mlflow: Any, name: str, uri: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(mlflow.create_experiment(name, artifact_location=artifact_root(uri)))


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


def _requirements() -> list[str]:
    """The package's pip requirements, pinned to what trained it (no slow inference)."""
    from importlib.metadata import version

    names = [
        "tabloop",
        "mlflow",
        "scikit-learn",
        "pandas",
        "numpy",
        "lightgbm",
        "catboost",
        "xgboost-cpu",
        "imbalanced-learn",
    ]
    out = []
    for n in names:
        try:
            out.append(f"{n}=={version(n)}")
        except Exception:
            out.append(n)
    return out
