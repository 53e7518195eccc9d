"""One error shape for every 4xx/5xx answer, and the handlers that produce it.

Every error body is ``{"error": code, "message": text, "field": name?, "problems": [...]}``:
``code`` is stable for programs, ``message`` names the field, column or value and what was
expected, ``problems`` lists every offending field when there are several. Nothing from the
request is echoed beyond the offending value itself, and never an API key. The OpenAPI
document describes it as ``ErrorBody`` (:mod:`tabloop.serve._responses`): change both.

Two protocols read other keys, so their paths get a superset of that shape
(:func:`protocol_body`): the Open Inference Protocol (``/v2/...``) says an error is
``{"error": message}``, so there ``error`` holds the message and the stable code moves to
``code``; MLflow's clients read ``error_code`` and ``message`` from ``/invocations``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tabloop.exceptions import SchemaError, TabloopError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from pydantic import ValidationError

log = logging.getLogger("tabloop.serve")
_MAX_VALUE_CHARS = 80
#: Refusals the log writer reports as one state (and /metrics counts): not a line each.
_COUNTED_ELSEWHERE = frozenset({"log_full", "log_unavailable"})


class ApiError(HTTPException):
    """An answer with a status, a stable code and a message naming what was wrong."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        problems: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.message = message
        self.field = field
        self.problems = problems or []

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.problems:
            out["problems"] = self.problems
        return out

    @classmethod
    def from_validation(cls, exc: ValidationError | RequestValidationError) -> ApiError:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ()) if part != "body"]
            field = ".".join(loc) or "body"
            message = error.get("msg", "invalid")
            if error.get("type") == "json_invalid":
                field = "body"
                message = f"not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
            problems.append({"field": field, "problem": message})
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        status = 400 if first["problem"].startswith("not valid JSON") else 422
        return cls(
            status,
            "invalid_json" if status == 400 else "invalid_request",
            f"{first['field']}: {first['problem']}{more}",
            field=first["field"],
            problems=problems,
        )

    @classmethod
    def from_schema(cls, exc: SchemaError, *, variant: str | None = None) -> ApiError:
        problems = []
        if exc.report is not None:
            for p in exc.report.errors:
                problems.append(
                    {
                        "field": p.column,
                        "problem": p.kind,
                        "message": p.message,
                        **({"row": _plain(p.first_row)} if p.first_row is not None else {}),
                        **({"value": _short(p.value)} if p.value is not None else {}),
                    }
                )
        where = f" (variant {variant!r})" if variant else ""
        return cls(
            422,
            "schema_error",
            f"{exc}{where}",
            field=problems[0]["field"] if problems else None,
            problems=problems,
        )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _short(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, list):
        return [_short(v) for v in value[:5]]
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
        return value[:_MAX_VALUE_CHARS] + "…"
    return value if isinstance(value, int | float | bool | type(None)) else str(value)


def install_handlers(app: FastAPI) -> None:
    """Answer every error with the one JSON shape; count it; log one line. (A bug's 500 is
    answered by :class:`~tabloop.serve._middleware.ServiceMiddleware`.)"""

    def answer(request: Request, error: ApiError) -> JSONResponse:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None and error.status_code in (400, 413, 422):
            metrics.validation_errors.labels(error.code).inc()
        quiet = error.code in _COUNTED_ELSEWHERE  # thousands a second under overload
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s -> %d %s: %s",
            request.method,
            request.url.path,
            error.status_code,
            error.code,
            error.message,
        )
        body = protocol_body(request.url.path, error.status_code, error.body())
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(request, ApiError.from_validation(exc))

    @app.exception_handler(SchemaError)
    async def _schema(request: Request, exc: SchemaError) -> JSONResponse:
        return answer(request, ApiError.from_schema(exc))

    @app.exception_handler(StarletteHTTPException)  # the router's 404/405 too
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return answer(request, ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(TabloopError)
    async def _tabloop(request: Request, exc: TabloopError) -> JSONResponse:
        status = 422 if isinstance(exc, ValueError) else 503
        return answer(request, ApiError(status, type(exc).__name__, str(exc)))


def protocol_body(path: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the protocol of ``path`` expects it; tabloop's own keys all stay."""
    if path == "/v2" or path.startswith("/v2/"):
        return {**body, "error": body["message"], "code": body["error"]}
    if path == "/invocations":
        return {**body, "error_code": "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"}
    return body
