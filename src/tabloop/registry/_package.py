"""A registered model's whole package: the fitted model plus what the monitor reads.

``load_package`` gives the files logged with a version (``meta.json``, the reference
sample and its summary) beside the model, so monitoring and retraining never need the
training data. Versions registered before a file existed simply lack it: the
accessors return None and callers say what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import RegistryError
from tabloop.registry._predict import _concrete, _project_or_none
from tabloop.registry._registry import resolve_model_uri
from tabloop.registry._tracking import connect, quiet_mlflow, tracking_uri

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.monitor._reference import ReferenceProfile
    from tabloop.train import TabloopModel


@dataclass(frozen=True)
class ModelPackage:
    """A loaded model version: ``uri`` is concrete (``models:/NAME/VERSION``)."""

    uri: str
    model: TabloopModel
    meta: dict[str, Any]
    files: dict[str, Path]

    @property
    def version(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    def reference_sample(self) -> pd.DataFrame | None:
        """The training rows stored with the model (None if this version has none)."""
        import pandas as pd

        path = self.files.get("reference")
        return pd.read_parquet(path) if path is not None and path.exists() else None

    def reference_profile(self) -> ReferenceProfile | None:
        """The summary of the training data made at registration (None if absent)."""
        from tabloop.monitor._reference import ReferenceProfile

        path = self.files.get("reference_profile")
        return ReferenceProfile.load(path) if path is not None and path.exists() else None


def load_package(model: str | None = None, *, config: ProjectConfig | None = None) -> ModelPackage:
    """The package of ``model`` (``models:/NAME@alias``, ``models:/NAME/VERSION`` or a local
    MLflow model folder; default: the project's champion)."""
    from mlflow.exceptions import MlflowException

    config = config if config is not None else _project_or_none()
    uri = resolve_model_uri(model, config)
    if uri.startswith("models:/"):
        connect(tracking_uri(config))
        uri = _concrete(uri)
    try:
        with quiet_mlflow():
            import mlflow.pyfunc

            loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        from tabloop.exceptions import ModelNotFoundError

        raise ModelNotFoundError(f"Cannot load model {uri!r}: {exc}") from None
    wrapped = loaded.unwrap_python_model()
    fitted = getattr(wrapped, "model", None)
    if fitted is None:
        raise RegistryError(f"{uri!r} is an MLflow model but not a tabloop one.")
    files = dict(getattr(wrapped, "files", {}))
    meta = getattr(wrapped, "meta", None)
    if meta is None and "meta" in files:
        meta = json.loads(files["meta"].read_text())
    return ModelPackage(uri, fitted, dict(meta or {}), files)
