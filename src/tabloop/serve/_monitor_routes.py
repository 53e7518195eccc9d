"""``GET /monitor``: the monitoring report of the service's own log, as JSON or HTML.

The same :func:`tabloop.monitor.monitor` as ``tabloop monitor``, run on demand over the
log this service writes (flushed first, so the answer includes every acknowledged
prediction). It reads the whole window, so it is a report to open, not a health probe:
an empty window answers 422 with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tabloop.serve._responses import MonitorReport, errors
from tabloop.serve._security import ANY_ROLE, needs

if TYPE_CHECKING:
    from tabloop.serve._state import ServeState


def add_monitor_routes(app: FastAPI, state: ServeState) -> None:
    @app.get(
        "/monitor",
        tags=["report"],
        response_model=None,
        responses={
            200: {"model": MonitorReport, "content": {"text/html": {"schema": {"type": "string"}}}},
            **errors(404, 422),
        },
    )
    @needs(ANY_ROLE)
    def get_monitor(
        request: Request,
        since: str | None = Query(None, description="window start, ISO date or time"),
        until: str | None = Query(None, description="window end (exclusive)"),
        chunk: str | None = Query(None, description="'1d', '1w', '12h' or a row count"),
        variant: str | None = Query(None, description="only rows of this variant"),
        format: Literal["json", "html"] = Query("json", description="json or html"),
    ) -> Any:
        """Drift, production and estimated performance, fairness and requirements of the
        model serving ``variant`` (default: the first variant) over the log."""
        from tabloop.monitor import monitor

        state.writer.flush()
        chosen = state.variants.get(variant) if variant else state.first
        if chosen is None:
            from tabloop.serve._errors import ApiError

            raise ApiError(
                404,
                "unknown_variant",
                f"No variant {variant!r}; known: {', '.join(state.variants)}.",
                field="variant",
            )
        report = monitor(
            state.config,
            model=chosen.resolved,
            since=since,
            until=until,
            chunk=chunk,
            variant=variant,
        )
        if format == "html":
            return HTMLResponse(report.to_html())
        return JSONResponse(report.to_dict())
