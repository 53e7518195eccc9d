"""``tabloop.predict``: a frame in, the same frame with predictions appended out.

The model comes from the registry (``models:/NAME@champion`` by default, read from the
project in the working directory) and validates its input before predicting. Files are
predicted by :mod:`tabloop.registry._batch`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop._extras import missing_extra
from tabloop.exceptions import ModelNotFoundError, RegistryError
from tabloop.registry._registry import resolve_model_uri
from tabloop.registry._tracking import (
    connect,
    missing_store,
    quiet_mlflow,
    store_source,
    tracking_uri,
)

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.train import TabloopModel

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


def load_model(
    model: str | None = None, *, config: ProjectConfig | None = None
) -> tuple[TabloopModel, str]:
    """The fitted :class:`TabloopModel` behind ``model`` and its concrete version URI.

    ``model`` is ``models:/NAME@alias``, ``models:/NAME/VERSION`` or a local MLflow model
    folder; default: the project's champion.
    """
    uri, registry = resolve(model, config)
    return load_pyfunc(uri, registry).model, uri


def resolve(model: str | None, config: ProjectConfig | None) -> tuple[str, str]:
    """The concrete URI of ``model`` (aliases resolved) and the registry it lives in
    (empty for a local folder)."""
    project = config if config is not None else _project_or_none()
    uri = resolve_model_uri(model, project)
    registry = ""
    if uri.startswith("models:/"):
        store = tracking_uri(project)
        source, advice = store_source(project)
        missing = missing_store(store)
        if missing is not None:
            raise ModelNotFoundError(
                f"No MLflow store at {missing} ({source}), so model {_shown(uri)} is not "
                f"there: nothing was registered in it (`tabloop train` registers a project's "
                f"models); {advice}. Nothing was created."
            )
        registry = connect(store)
        uri = _concrete(uri, f"the MLflow store {store} ({source}); {advice}")
    elif not Path(uri).exists() and "://" not in uri:
        raise ModelNotFoundError(f"Model {uri!r} is neither a models:/ URI nor an existing folder.")
    return uri, registry


@lru_cache(maxsize=8)
def load_pyfunc(uri: str, registry: str = "") -> Any:
    """The tabloop pyfunc behind a concrete ``uri`` (``.model``, ``.meta``, ``.files``).

    ``registry`` (the tracking URI it was resolved in) is part of the cache key, since
    ``models:/NAME/1`` of two stores are two models.
    """
    from mlflow.exceptions import MlflowException

    try:
        with quiet_mlflow():
            import mlflow.pyfunc

            loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"Cannot load model {uri!r}: {exc}") from None
    except ImportError as exc:  # a model trained with an extra this install lacks
        missing = missing_extra(exc, f"Model {uri!r}")
        if missing is None:
            raise
        raise missing from None
    wrapped = loaded.unwrap_python_model()
    if getattr(wrapped, "model", None) is None:
        raise RegistryError(f"{uri!r} is an MLflow model but not a tabloop one.")
    return wrapped


def _concrete(uri: str, searched: str) -> str:
    """``models:/NAME@alias`` → ``models:/NAME/VERSION`` (so caches follow alias moves); a
    name, version or alias the store lacks is a ModelNotFoundError naming ``searched``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if not match:
        raise ModelNotFoundError(
            f"Model URI {uri!r} must look like models:/NAME@ALIAS or models:/NAME/VERSION."
        )
    client = mlflow.MlflowClient()
    name = match["name"]
    try:
        with quiet_mlflow():
            if match["version"]:
                version = client.get_model_version(name, match["version"]).version
            else:
                version = client.get_model_version_by_alias(name, match["alias"]).version
    except MlflowException:
        known = _versions_of(client, name)
        found = (
            f"{name!r} has versions {', '.join(known)}"
            if known
            else f"no model is registered as {name!r}"
        )
        raise ModelNotFoundError(
            f"Model {_shown(uri)} is not in {searched}. There, {found} (`tabloop models` "
            "lists them; `tabloop train` registers one)."
        ) from None
    return f"models:/{name}/{version}"


def _shown(uri: str) -> str:
    """``models:/NAME@alias`` as ``'NAME'@'alias'``; a version URI as it is."""
    match = _MODELS_URI.match(uri)
    if match is None or match["version"]:
        return uri
    return f"{match['name']!r}@{match['alias']!r}"


def _versions_of(client: Any, name: str) -> list[str]:
    """The version numbers registered under ``name`` in the store, ascending."""
    from mlflow.exceptions import MlflowException

    try:
        with quiet_mlflow():
            found = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return []
    return sorted({str(v.version) for v in found}, key=int)


def predict(
    df: pd.DataFrame, *, model: str | None = None, config: ProjectConfig | None = None
) -> pd.DataFrame:
    """``df`` with ``prediction`` (and ``probability`` / ``probability_<class>``) appended,
    plus ``model_version`` (the concrete ``models:/NAME/VERSION`` used).

    The input is validated against the model's schema first: a missing column, a wrong
    type or an empty frame raises :class:`~tabloop.exceptions.SchemaError` /
    :class:`~tabloop.exceptions.EmptyDataError` naming the column and value.

    Examples
    --------
    >>> import tabloop
    >>> scored = tabloop.predict(new_patients)  # doctest: +SKIP
    >>> scored[["prediction", "probability", "model_version"]].head()  # doctest: +SKIP
    """
    fitted, uri = load_model(model, config=config)
    out = fitted.predict_frame(df)
    out["model_version"] = uri
    return out


def _project_or_none() -> ProjectConfig | None:
    from tabloop.config import load_config
    from tabloop.exceptions import ConfigNotFoundError

    try:
        return load_config()
    except ConfigNotFoundError:
        return None
