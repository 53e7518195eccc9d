"""The one request path of every protocol: route, check, predict, log; plain data out.

``/predict``, MLflow's ``/invocations`` and the Open Inference Protocol's ``/v2/.../infer``
all turn their body into rows and call :func:`predict_rows`; each renders the returned
:class:`Prediction` in its own shape. So whatever the protocol, a row is routed by the
same traffic split, validated against its variant's schema, logged with its variant and
counted in Prometheus and the A/B report.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import LogFullError, SchemaError
from tabloop.serve._errors import ApiError
from tabloop.serve._scoring import check_rows, score

if TYPE_CHECKING:
    from fastapi import Request

    from tabloop.serve._state import ServeState
    from tabloop.serve._variants import Variant


@dataclass(frozen=True)
class Prediction:
    """The answers of one request, as plain data.

    ``answers`` has one dict per row in request order: ``prediction_id``, ``variant``,
    ``model_version``, ``prediction``, and ``probability`` (binary: the positive class) /
    ``probabilities`` (classification: class -> probability) where they apply; ``history``
    for a model with ``features.lags``: False when every lag and window of the row is
    missing (its entity has no earlier value within their reach).
    """

    request_id: str
    answers: list[dict[str, Any]]

    @property
    def variant(self) -> str | None:
        """The variant that answered every row; None when the rows were split."""
        names = {a["variant"] for a in self.answers}
        return names.pop() if len(names) == 1 else None

    def headers(self) -> dict[str, str]:
        """``x-model-variant`` when one variant answered (each row names its own anyway)."""
        return {"x-model-variant": self.variant} if self.variant else {}


async def predict_rows(
    state: ServeState,
    request: Request,
    rows: list[dict[str, Any]],
    *,
    forced: str | None = None,
    field: str = "records",
) -> Prediction:
    """Route, check, predict and log ``rows``; ``field`` is where they were in the body.

    The answer is returned only when the log has the rows: queued (``serve.log.durability:
    async``) or committed / fsynced to the spool (``sync``); otherwise a 503 with
    ``Retry-After`` says the prediction was not kept.
    """
    prediction, ticket = _predict(state, request, rows, forced=forced, field=field)
    if state.config.serve.log.durability == "sync":
        from starlette.concurrency import run_in_threadpool

        if not await run_in_threadpool(state.writer.wait, ticket):
            state.metrics.log_refused.labels("not_committed").inc(len(rows))
            raise ApiError(
                503,
                "log_unavailable",
                f"The prediction log could not store these rows ({state.writer.last_error}); "
                "do not act on this prediction. Retry later.",
                headers={"Retry-After": str(math.ceil(state.writer.retry_every))},
            )
    return prediction


def _predict(
    state: ServeState,
    request: Request,
    rows: list[dict[str, Any]],
    *,
    forced: str | None,
    field: str,
) -> tuple[Prediction, int]:
    """Route, check, predict, and queue the log records; the answer and its log ticket."""
    from tabloop.store import PredictionRecord

    start = time.perf_counter()
    cfg = state.config
    if not rows:
        raise ApiError(422, "empty", f"No rows to predict: {field!r} is empty.", field=field)
    if len(rows) > cfg.serve.max_rows:
        raise ApiError(
            413,
            "too_many_rows",
            f"{len(rows):,} rows in one request; the limit is {cfg.serve.max_rows:,} "
            "(serve.max_rows). Split the request.",
            field=field,
        )
    with _refused_when_log_is_full(state, len(rows)):  # before the work, when it is clear
        state.writer.check_room(len(rows))
    variants = state.variants  # one snapshot: a reload mid-request does not mix versions
    groups = _route(state, variants, rows, forced, field)
    answers: list[dict[str, Any]] = [{} for _ in rows]
    pending = []
    for name, index in groups.items():
        variant = variants[name]
        try:
            extras = state.extras | set(variant.model.ignored)
            frame = check_rows(variant, [rows[i] for i in index], extras, index=index)
        except SchemaError as exc:
            raise ApiError.from_schema(exc, variant=name if len(variants) > 1 else None) from None
        pending.append((variant, index, score(variant.model, frame)))

    request_id = request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
    latency_ms = (time.perf_counter() - start) * 1e3
    now = datetime.now(UTC)
    records = []
    id_column = cfg.data.id
    for variant, index, scored in pending:
        inputs, context = variant.logged_inputs, variant.logged_context
        for k, i in enumerate(index):
            row = rows[i]
            prediction_id = uuid.uuid4().hex
            answer: dict[str, Any] = {
                "prediction_id": prediction_id,
                "variant": variant.name,
                "model_version": variant.version,
                "prediction": scored.predictions[k],
            }
            if variant.model.task == "binary":
                answer["probability"] = scored.scores[k]
            if scored.probabilities[k] is not None:
                answer["probabilities"] = scored.probabilities[k]
            if scored.history is not None:  # features.lags: false when no past was read
                answer["history"] = scored.history[k]
            answers[i] = answer
            entity = row.get(id_column) if id_column else None
            records.append(
                PredictionRecord(
                    prediction_id=prediction_id,
                    created_at=now,
                    variant=variant.name,
                    model_name=variant.model_name,
                    model_version=variant.version,
                    entity_id=None if entity is None else str(entity),
                    request_id=request_id,
                    inputs={c: row[c] for c in inputs if c in row},
                    context={c: row[c] for c in context if c in row},
                    prediction=scored.predictions[k],
                    score=scored.scores[k],
                    probabilities=scored.probabilities[k],
                    latency_ms=latency_ms,
                )
            )
    with _refused_when_log_is_full(state, len(records)):
        ticket = state.writer.submit(records)
    for variant, _, scored in pending:
        state.metrics.count_predictions(variant, scored)
    return Prediction(request_id=request_id, answers=answers), ticket


@contextlib.contextmanager
def _refused_when_log_is_full(state: ServeState, rows: int) -> Iterator[None]:
    """Turn the log's :class:`LogFullError` into a counted 503 with ``Retry-After``."""
    try:
        yield
    except LogFullError as exc:
        state.metrics.log_refused.labels(exc.reason).inc(rows)
        raise ApiError(
            503,
            "log_full" if exc.reason == "backlog_full" else "log_unavailable",
            f"{exc} Nothing was predicted; retry later.",
            headers={"Retry-After": str(math.ceil(exc.retry_after))},
        ) from None


def _route(
    state: ServeState,
    variants: dict[str, Variant],
    rows: list[dict[str, Any]],
    forced: str | None,
    field: str,
) -> dict[str, list[int]]:
    if forced is not None:
        if forced not in variants:
            raise ApiError(
                404,
                "unknown_variant",
                f"No variant {forced!r}; this service has {', '.join(variants)}.",
                field="variant",
            )
        return {forced: list(range(len(rows)))}
    sticky = state.config.serve.sticky_by
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        key = None
        if sticky:
            key = row.get(sticky)
            if key is None:
                raise ApiError(
                    422,
                    "missing_sticky_key",
                    f"Row {i} has no value in {sticky!r}, the column that picks its variant "
                    "(serve.sticky_by).",
                    field=f"{field}.{i}.{sticky}",
                )
        groups.setdefault(state.router.pick(key), []).append(i)
    return groups
