"""Which MLflow store to use, and a fast, clear failure when it does not answer.

The embedded default is a SQLite store under ``.tabloop/`` (artifacts beside it, re-pointed
when the folder moves: :mod:`._relocate`); a
server is named by ``registry.tracking_uri`` or ``TABLOOP_TRACKING_URI``. MLflow's HTTP
client retries an unreachable server for minutes; we probe it once with a short timeout
and lower MLflow's retries so a wrong URL fails in seconds with the URL in the message.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tabloop.exceptions import RegistryError
from tabloop.registry._relocate import ROOT_NAME, relocate_store

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig

PROBE_TIMEOUT = 5.0


def tracking_uri(config: ProjectConfig | None = None) -> str:
    """``registry.tracking_uri``, else ``TABLOOP_TRACKING_URI``, else ``sqlite:///<home>/mlflow.db``."""
    from tabloop._settings import get_settings

    settings = get_settings()
    if config is not None and config.registry.tracking_uri:
        return config.registry.tracking_uri
    if settings.tracking_uri:
        return settings.tracking_uri
    home = config.resolve(settings.home) if config is not None else settings.home
    return f"sqlite:///{Path(home).resolve() / 'mlflow.db'}"


def store_source(config: ProjectConfig | None = None) -> tuple[str, str]:
    """Where :func:`tracking_uri` found its store, and how to point at another one, in
    words for a message (``config`` None: no project was found or given)."""
    from tabloop._settings import get_settings

    settings = get_settings()
    other = "-c PATH/tabloop.yaml of the project that registered it"
    if config is not None and config.registry.tracking_uri:
        where = config.source or f"the project in {config.root}"
        return f"registry.tracking_uri of {where}", f"point at another project with {other}"
    if settings.tracking_uri:
        return "TABLOOP_TRACKING_URI", f"change TABLOOP_TRACKING_URI, or pass {other}"
    if config is not None:
        return (
            f"the default store of the project in {config.root}",
            f"point at another project with {other}, or set TABLOOP_TRACKING_URI",
        )
    return (
        f"the default store of the current folder, which holds no {settings.config_file}",
        f"run in the project's folder, pass {other}, or set TABLOOP_TRACKING_URI",
    )


def missing_store(uri: str) -> Path | None:
    """The SQLite file of ``uri`` when it does not exist (a lookup must not create it)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return None if path.exists() else path.resolve()


def artifact_root(uri: str) -> str | None:
    """Where runs of an embedded SQLite store keep artifacts (beside the database)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / ROOT_NAME).resolve().as_uri()
    return None


def connect(uri: str) -> str:
    """Point MLflow at ``uri`` after checking it answers; return the URI."""
    import logging

    import mlflow

    # MLflow's INFO chatter (table creation, artifact download bars) is not for our users.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if uri.startswith(("http://", "https://")):
        _probe(uri)
    elif uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        database.parent.mkdir(parents=True, exist_ok=True)
        relocate_store(database)  # the project folder was moved or copied
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _probe(uri: str) -> None:
    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        raise RegistryError(
            f"The MLflow tracking server at {uri} does not answer ({type(exc).__name__}). "
            "Start it, or fix registry.tracking_uri / TABLOOP_TRACKING_URI."
        ) from None
    if response.status_code >= 400:
        raise RegistryError(
            f"The MLflow tracking server at {uri} answered HTTP {response.status_code} to "
            "/health; is that URL an MLflow server?"
        )


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's advisory warnings (type-hint advice, its own SQLAlchemy
    deprecations) around a call: they concern MLflow's internals, not the user's model."""
    with warnings.catch_warnings():
        for category in (UserWarning, DeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        yield
