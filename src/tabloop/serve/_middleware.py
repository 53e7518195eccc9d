"""One ASGI middleware for what every request needs: the body-size cap, a request id,
Prometheus counts and latency, an access-log line without the query string (where a key
could be), and the JSON 500 of a bug.

A bug is answered here, not by Starlette's ``ServerErrorMiddleware``: that one re-raises
after answering, and Uvicorn then closes the connection, so a keep-alive client's next
request fails with a reset. Here the 500 is sent and the connection stays usable.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``, which costs a task
and a stream copy per request on the latency-critical path.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from tabloop.serve._errors import protocol_body

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from tabloop.serve._metrics import ServiceMetrics

log = logging.getLogger("tabloop.serve.access")
log_errors = logging.getLogger("tabloop.serve")


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, max_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500, "started": False}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, request_id, int(declared))
            self._count(scope, 413, start)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            await self._refuse(send, request_id, received)
            status["code"] = 413
        except Exception as exc:
            if status["started"]:  # half an answer is out: nothing better than to close
                raise
            log_errors.exception("internal error on %s %s", scope["method"], scope["path"])
            error = {"error": "internal_error", "message": f"internal error: {type(exc).__name__}"}
            await self._answer(send, request_id, 500, protocol_body(scope["path"], 500, error))
            status["code"] = 500
        self._count(scope, status["code"], start)

    async def _refuse(self, send: Send, request_id: str, size: int) -> None:
        self.metrics.validation_errors.labels("too_large").inc()
        error = {
            "error": "too_large",
            "message": f"The request body is {size:,} bytes or more; the limit is "
            f"{self.max_bytes:,} bytes (serve.max_body_mb). Send fewer rows per request.",
        }
        await self._answer(send, request_id, 413, error)

    async def _answer(
        self, send: Send, request_id: str, status: int, error: dict[str, Any]
    ) -> None:
        body = json.dumps(error).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _count(self, scope: Scope, status: int, start: float) -> None:
        seconds = time.perf_counter() - start
        route = _route(scope)
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1e3)


def _route(scope: Scope) -> str:
    """The route template (``/predict/{variant}``), so labels stay few; else 'unmatched'."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
