"""The one place that reads ``TABLOOP_*`` environment variables.

Explicit arguments win over the project file, which wins over these variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tabloop.exceptions import ConfigError


def _read(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _read_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"Config {name!r} has value {raw!r}. Not a valid bool (use 1/0, true/false).")


@dataclass(frozen=True)
class Settings:
    """Environment-level settings.

    Attributes
    ----------
    config_file : name of the project file looked up in the working directory
        (``TABLOOP_CONFIG``, default ``tabloop.yaml``).
    home : folder for embedded state such as the MLflow store and the prediction log
        (``TABLOOP_HOME``, default ``./.tabloop``).
    progress : whether to draw progress bars on a terminal (``TABLOOP_PROGRESS``).
    tracking_uri : MLflow tracking server or store (``TABLOOP_TRACKING_URI``); empty means
        the embedded SQLite store ``<home>/mlflow.db``.
    store_url : SQLAlchemy URL of the prediction log (``TABLOOP_STORE_URL``); empty means
        the embedded SQLite file ``<home>/log.db``.
    cluster : where batch work runs (``TABLOOP_CLUSTER``): ``local:N`` or a Dask scheduler
        address; empty means in this process.
    """

    config_file: Path
    home: Path
    progress: bool
    tracking_uri: str
    store_url: str
    cluster: str


def batch_threads() -> int:
    """Threads a big batch may use in a library that does not follow OpenMP's setting by
    itself (CatBoost, scipy's k-d tree, LightGBM's predict): ``OMP_NUM_THREADS`` when set
    (a Dask worker sets it to 1, so N workers on N cores do not fight over the cores), else
    -1, every core."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else -1


def get_settings() -> Settings:
    """Read the settings from the environment now (not cached, so tests can set variables)."""
    return Settings(
        config_file=Path(_read("TABLOOP_CONFIG", "tabloop.yaml")),
        home=Path(_read("TABLOOP_HOME", ".tabloop")),
        progress=_read_bool("TABLOOP_PROGRESS", True),
        tracking_uri=_read("TABLOOP_TRACKING_URI", "").strip(),
        store_url=_read("TABLOOP_STORE_URL", "").strip(),
        cluster=_read("TABLOOP_CLUSTER", "").strip(),
    )
