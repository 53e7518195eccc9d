"""The FastAPI application: tabloop's own endpoints for prediction, outcomes and the A/B report.

Maintainer note: a prediction's life
------------------------------------
``POST /predict`` routes each row to a variant (:mod:`tabloop.serve._variants`), checks the
rows of each variant against that model's schema, predicts, hands the rows to the log
writer's queue and answers. The answer is sent before the rows reach the database; the
writer (:mod:`tabloop.store`) makes them durable in batches, spooling to a file when the
database is away, and flushes on shutdown. ``POST /outcomes`` flushes the queue first, so
an outcome for a prediction made a moment ago finds it. MLflow's ``/invocations`` and the
Open Inference Protocol's ``/v2`` routes (:mod:`tabloop.serve.protocols`) take the same
path (:func:`tabloop.serve._predict.predict_rows`) and only render the answer differently.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from tabloop import __version__
from tabloop.serve._ab_http import (
    MAX_INT,
    ab_report_of,
    check_period,
    parse_period,
    variants_info,
)
from tabloop.serve._errors import ApiError, install_handlers
from tabloop.serve._middleware import ServiceMiddleware
from tabloop.serve._openapi import install_openapi
from tabloop.serve._predict import Prediction, predict_rows
from tabloop.serve._responses import (
    ABReport,
    OutcomesPage,
    OutcomesStored,
    Readiness,
    SegmentReport,
    Variants,
    answers,
    errors,
)
from tabloop.serve._scoring import cast_outcome
from tabloop.serve._security import ANY_ROLE, needs
from tabloop.serve.protocols import (
    OutcomesRequest,
    PredictRequest,
    StrictJSONRoute,
    add_protocol_routes,
)

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.serve._state import ServeState

#: Where the documentation pages' scripts and styles are served from (no CDN).
DOCS_STATIC = "/docs/static"


class PredictionOut(BaseModel):
    prediction_id: str
    variant: str
    model_version: str
    prediction: Any
    probability: float | None = None
    probabilities: dict[str, float] | None = None
    history: bool | None = Field(
        None,
        description="features.lags models only: false when the row's entity has no earlier "
        "value within the lags' reach (every lag and window missing)",
    )


class PredictResponse(BaseModel):
    request_id: str
    predictions: list[PredictionOut]


def create_app(config: ProjectConfig, *, state: ServeState | None = None) -> FastAPI:
    """The service for ``config``: loads the variants and opens the log now.

    Raises the typed error of what is wrong (a missing model, an outdated log, an unset key
    variable) before any request is served.
    """
    from tabloop.serve._dashboard import add_dashboard_routes
    from tabloop.serve._monitor_routes import add_monitor_routes
    from tabloop.serve._state import build_state

    state = state or build_state(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.writer.start()
        poller = _start_poller(state)
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
            state.writer.close()

    # Swagger UI (/docs) from the files fastapi-offline ships, not a CDN. No /redoc: ReDoc's
    # page fetches its logo from the vendor's CDN whatever its options, so it is not offline.
    app = FastAPIOffline(
        title=f"tabloop: {config.name}",
        version=__version__,
        description="Predictions with A/B variants, a durable log, outcomes and live reports.",
        lifespan=lifespan,
        static_url=DOCS_STATIC,
        redoc_url=None,
    )
    app.router.route_class = StrictJSONRoute
    app.state.serve = state
    app.state.metrics = state.metrics
    install_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        metrics=state.metrics,
        max_bytes=int(config.serve.max_body_mb * 1024 * 1024),
    )
    _predict_routes(app, state)
    _outcome_routes(app, state)
    _admin_routes(app, state)
    add_dashboard_routes(app, state)
    add_monitor_routes(app, state)
    add_protocol_routes(app, state)
    install_openapi(app, state)
    return app


# -- predict --------------------------------------------------------------------------------
def _predict_routes(app: FastAPI, state: ServeState) -> None:
    @app.post(
        "/predict", response_model=PredictResponse, tags=["predict"], responses=errors(413, 503)
    )
    @needs("predict")
    async def predict(body: PredictRequest, request: Request) -> JSONResponse:
        """Predict rows; each is routed to a variant by the traffic split and logged."""
        return _render(await predict_rows(state, request, body.rows()))

    @app.post(
        "/predict/{variant}",
        response_model=PredictResponse,
        tags=["predict"],
        responses=errors(404, 413, 503),
    )
    @needs("predict")
    async def predict_variant(variant: str, body: PredictRequest, request: Request) -> JSONResponse:
        """Predict rows with one named variant, whatever the traffic split."""
        return _render(await predict_rows(state, request, body.rows(), forced=variant))


def _render(prediction: Prediction) -> JSONResponse:
    body = {"request_id": prediction.request_id, "predictions": prediction.answers}
    return JSONResponse(body, headers=prediction.headers())


# -- outcomes and the report ---------------------------------------------------------------
def _outcome_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/outcomes", tags=["outcomes"], **answers(OutcomesStored, 404, 409))
    @needs("feedback")
    def post_outcomes(body: OutcomesRequest, request: Request) -> JSONResponse:
        """Store true values by prediction_id or entity id; idempotent; unknown ids reported."""
        by = body.key()
        model = state.first.model
        items, problems = [], []
        for i, item in enumerate(body.outcomes):
            key = str(item.prediction_id if by == "prediction_id" else item.id)
            try:
                items.append((key, cast_outcome(item.value, model)))
            except ValueError as exc:
                problems.append({"field": f"outcomes.{i}.value", "problem": str(exc)})
        if problems:
            raise ApiError(
                422,
                "invalid_outcome",
                f"{problems[0]['field']}: {problems[0]['problem']}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                field=problems[0]["field"],
                problems=problems,
            )
        state.writer.flush()
        result = state.store.record_outcomes(items, by=by, overwrite=body.overwrite)
        out = {
            "batch": result.batch_id,
            "stored": result.stored,
            "unchanged": result.unchanged,
            "updated": result.updated,
            "unknown": result.unknown,
            "conflicts": result.conflicts,
        }
        if result.conflicts:
            first = result.conflicts[0]
            raise ApiError(
                409,
                "outcome_conflict",
                f"{len(result.conflicts)} outcome(s) differ from the stored value (first: "
                f"{first['id']!r} has {first['stored']!r}, received {first['received']!r}); "
                "nothing was stored. Send overwrite=true to replace them.",
                problems=[{"field": c["id"], "problem": "conflict", **c} for c in result.conflicts],
            )
        if result.unknown and len(result.unknown) == len(items):
            raise ApiError(
                404,
                "unknown_ids",
                _none_matches(state, by, len(items), result.unknown[0]),
                problems=[{"field": u, "problem": "unknown"} for u in result.unknown],
            )
        state.metrics.outcomes.inc(result.stored + result.updated)
        return JSONResponse(out)

    @app.get("/outcomes", tags=["outcomes"], **answers(OutcomesPage, 404, 422))
    @needs(ANY_ROLE)
    def get_outcomes(
        request: Request,
        period: str | None = Query(None, description="a number, 'current' or 'all'"),
        offset: int = Query(0, ge=0, le=MAX_INT),
        limit: int = Query(100, ge=1, le=10_000),
    ) -> dict[str, Any]:
        """The uploaded true values, oldest first, a page at a time."""
        asked = parse_period(period)
        check_period(state, asked)
        rows, total = state.store.outcomes(period=asked, offset=offset, limit=limit)
        return {"total": total, "offset": offset, "limit": limit, "outcomes": rows}

    @app.get("/report", tags=["report"], **answers(ABReport | SegmentReport, 404, 422))
    @needs(ANY_ROLE)
    def get_report(
        request: Request,
        period: str | None = Query(None, description="a number, 'current' or 'all'"),
    ) -> dict[str, Any]:
        """Per variant: counts, metrics per upload batch and in total, baseline, the verdict.

        A period that does not exist is a 404 naming the periods that do; a clustering
        service answers with the segment shares per variant."""
        return ab_report_of(state, parse_period(period))


def _none_matches(state: ServeState, by: str, count: int, first: str) -> str:
    """Why no id of an upload matched, and how predictions get the id it was sent by.

    An outcome sent by ``id`` is matched to the entity id logged with each prediction of
    the open period: the value of the ``data.id`` column in the /predict row, and only that
    (``serve.sticky_by`` picks a variant; it is not the id outcomes are matched by)."""
    head = f"No prediction matches any of the {count} ids (first: {first!r})"
    if by == "prediction_id":
        return f"{head} by prediction_id. Nothing was stored."
    cfg = state.config
    if cfg.data.id is None:
        named = [cfg.serve.sticky_by, *(lag.by for lag in cfg.features.lags.values())]
        seen = list(dict.fromkeys(n for n in named if n))
        like = f" (e.g. {' or '.join(map(repr, seen))})" if seen else ""
        return (
            f"{head}: an outcome sent by 'id' is matched to the data.id column of the "
            "/predict rows, and this project sets no data.id, so its predictions were "
            "logged without one. Send the prediction_id each /predict answer holds, or set "
            f"data.id to the column naming the entity{like} and restart the service "
            "(predictions logged before keep no id). Nothing was stored."
        )
    return (
        f"{head} by entity id: the {cfg.data.id!r} column (data.id) of the /predict rows "
        f"of the current period ({state.store.current_period()}). Check the ids, or send "
        "the prediction_id each /predict answer holds. Nothing was stored."
    )


# -- admin, health, metrics -----------------------------------------------------------------
def _admin_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/admin/reset", tags=["admin"], responses=errors(422))
    @needs("admin")
    def reset(request: Request, note: str | None = Query(None, max_length=500)) -> dict[str, Any]:
        """Start a new experiment period; earlier rows stay queryable by period."""
        state.writer.flush()
        previous = state.store.current_period()
        return {"previous_period": previous, "period": state.store.reset(note)}

    @app.post("/admin/reload", tags=["admin"])
    @needs("admin")
    def reload(request: Request) -> dict[str, Any]:
        """Resolve the variants' aliases again and swap in changed versions."""
        changed = state.reload()
        return {"changed": changed, "variants": variants_info(state)}

    @app.get("/variants", tags=["admin"], **answers(Variants))
    @needs(ANY_ROLE)
    def variants(request: Request) -> dict[str, Any]:
        """The variants served now, their versions and traffic shares."""
        return {"variants": variants_info(state)}

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get(
        "/health/ready",
        tags=["health"],
        responses={
            200: {"model": Readiness},
            503: {"model": Readiness, "description": "Not ready: the problems say why."},
        },
    )
    def ready(request: Request) -> JSONResponse:
        problems = state.readiness_problems(detailed=state.guard.accepts(request))
        body = {
            "status": "ready" if not problems else "not ready",
            "problems": problems,
            "variants": {n: v.version for n, v in state.variants.items()},
            "log_backlog": state.writer.backlog,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


def _start_poller(state: ServeState) -> Any:
    """A task re-resolving aliases every ``serve.reload_every`` seconds (None when unset)."""
    import asyncio
    import logging

    every = state.config.serve.reload_every
    if not every:
        return None

    async def poll() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(state.reload)
            except Exception as exc:  # keep serving the old models; say why once per attempt
                logging.getLogger("tabloop.serve").warning("reload failed: %s", exc)

    return asyncio.get_running_loop().create_task(poll())
