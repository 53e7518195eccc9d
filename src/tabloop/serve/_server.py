"""``tabloop serve``: run the app under Uvicorn, refusing unsafe binds.

With ``--workers`` above 1 each worker builds its own app from the project file, and their
Prometheus metrics are summed through ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary folder,
or the user's, emptied of earlier runs' files at start). A ``PROMETHEUS_MULTIPROC_DIR`` the
user set puts prometheus_client in multiprocess mode when it is imported, even for one
worker, so that folder is created and emptied before anything builds a metric.

Uvicorn turns SIGTERM and Ctrl-C into a graceful shutdown: in-flight requests finish, then
the app's lifespan closes the log writer, which flushes every acknowledged prediction.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tabloop.config import ProjectConfig

_CONFIG_VARIABLE = "TABLOOP_SERVE_CONFIG"
#: Seconds Uvicorn waits for in-flight requests at shutdown before closing the log.
GRACEFUL_SECONDS = 30


def run(
    config: ProjectConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    insecure: bool = False,
    say: object = print,
) -> None:
    """Serve ``config`` until stopped. Errors in the setup raise before the port is bound."""
    import uvicorn

    from tabloop.serve._app import create_app
    from tabloop.serve._metrics import MULTIPROC_VARIABLE, prepare_multiprocess_dir
    from tabloop.serve._security import check_bind, load_keys
    from tabloop.serve._state import build_state

    host = host or config.serve.host
    port = port or config.serve.port
    workers = workers or config.serve.workers
    note = check_bind(host, load_keys(config), insecure=insecure)
    user_folder = os.environ.get(MULTIPROC_VARIABLE)
    if user_folder:  # prometheus_client is in multiprocess mode, even for one worker:
        prepare_multiprocess_dir(user_folder)  # the folder must exist, with no stale counts
    state = build_state(config)  # load models and open the log now: fail before binding
    if note:
        say(note)  # type: ignore[operator]
    say(f"Serving {', '.join(f'{n} = {v.resolved}' for n, v in state.variants.items())}")  # type: ignore[operator]
    say(f"on http://{host}:{port}  (docs: /docs, dashboard: /dashboard, log: {state.store.url})")  # type: ignore[operator]
    _configure_logging()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # our middleware logs paths without query strings
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "log_level": "info",
    }
    if workers == 1:
        uvicorn.run(create_app(config, state=state), **common)
        return
    if config.source is None:
        raise ConfigError("--workers above 1 needs a project file (each worker reads it).")
    state.store.close()
    state.metrics.close()  # this process serves nothing: no backlog refresh of its own
    os.environ[_CONFIG_VARIABLE] = str(config.source)
    # each worker keeps its metrics in files there; a scrape sums them (tabloop.serve._metrics);
    # emptied again: the files this process wrote while checking the setup are not a worker's
    folder, ours = prepare_multiprocess_dir(user_folder)
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    try:
        uvicorn.run(
            "tabloop.serve._server:app_from_environment", factory=True, workers=workers, **common
        )
    finally:
        if ours:
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop(MULTIPROC_VARIABLE, None)


def app_from_environment() -> FastAPI:
    """The app of the project file named by ``TABLOOP_SERVE_CONFIG`` (one per worker)."""
    from tabloop.config import load_config
    from tabloop.serve._app import create_app

    return create_app(load_config(os.environ[_CONFIG_VARIABLE]))


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("tabloop.serve", "tabloop.store"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
