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

from tabloop.exceptions import ModelNotFoundError, RegistryError
from tabloop.registry._registry import resolve_model_uri
from tabloop.registry._tracking import connect, quiet_mlflow, tracking_uri

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
    uri = resolve_model_uri(model, config if config is not None else _project_or_none())
    registry = ""
    if uri.startswith("models:/"):
        registry = connect(tracking_uri(config))
        uri = _concrete(uri)
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
    wrapped = loaded.unwrap_python_model()
    if getattr(wrapped, "model", None) is None:
        raise RegistryError(f"{uri!r} is an MLflow model but not a tabloop one.")
    return wrapped


def _concrete(uri: str) -> str:
    """``models:/NAME@alias`` → ``models:/NAME/VERSION`` (so caches follow alias moves)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if not match:
        raise ModelNotFoundError(
            f"Model URI {uri!r} must look like models:/NAME@ALIAS or models:/NAME/VERSION."
        )
    if match["version"]:
        return uri
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(match["name"], match["alias"]).version
    except MlflowException:
        raise ModelNotFoundError(
            f"No model version {match['name']!r}@{match['alias']!r} in the registry; "
            "train one (`tabloop train`) or check the name and alias (`tabloop models`)."
        ) from None
    return f"models:/{match['name']}/{version}"


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
