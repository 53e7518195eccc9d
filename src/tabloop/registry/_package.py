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

from tabloop.registry._predict import _project_or_none, load_pyfunc, resolve

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.data import ReferenceProfile
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
        from tabloop.data import ReferenceProfile

        path = self.files.get("reference_profile")
        return ReferenceProfile.load(path) if path is not None and path.exists() else None


def load_package(model: str | None = None, *, config: ProjectConfig | None = None) -> ModelPackage:
    """The package of ``model`` (``models:/NAME@alias``, ``models:/NAME/VERSION`` or a local
    MLflow model folder; default: the project's champion)."""
    uri, registry = resolve(model, config if config is not None else _project_or_none())
    wrapped = load_pyfunc(uri, registry)
    files = dict(getattr(wrapped, "files", {}))
    meta = getattr(wrapped, "meta", None)
    if meta is None and "meta" in files:
        meta = json.loads(files["meta"].read_text())
    return ModelPackage(uri, wrapped.model, dict(meta or {}), files)
