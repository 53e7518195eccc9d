"""What the service answers, as models for its OpenAPI document.

The handlers return plain data (the same structures the CLI prints); these models only
describe it, through ``responses={200: {"model": ...}}`` on each route, so documenting an
answer never filters or reshapes it. :func:`errors` gives a route the statuses it can fail
with, each with the one error body of :mod:`tabloop.serve._errors`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from tabloop import evaluate


# -- the error body --------------------------------------------------------------------------
def _absent_not_null(schema: dict[str, Any]) -> None:
    """Optional keys of an error are left out, never null: document them so."""
    for name, field in schema.get("properties", {}).items():
        if name in schema.get("required", ()):
            continue
        field.pop("default", None)
        kinds = [k for k in field.pop("anyOf", []) if k != {"type": "null"}]
        if len(kinds) == 1:
            field.update(kinds[0])
        elif kinds:
            field["anyOf"] = kinds


class ErrorProblem(BaseModel):
    """One offending field; schema errors add ``message``, ``row`` and ``value``, outcome
    conflicts ``id``, ``stored`` and ``received``."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_absent_not_null)
    field: str | None = Field(description="the field, column or id at fault")
    problem: str = Field(description="what is wrong with it, e.g. wrong_type, unknown")
    message: str | None = None
    row: int | None = Field(None, description="the request's row (schema errors)")
    value: Any = Field(None, description="the offending value, shortened")


def _error_body_schema(schema: dict[str, Any]) -> None:
    _absent_not_null(schema)
    schema["examples"] = [
        {
            "error": "schema_error",
            "message": "Input does not match the model's schema: Column 'age' must be "
            "numeric; got 'forty' in row 0.",
            "field": "age",
            "problems": [
                {
                    "field": "age",
                    "problem": "wrong_type",
                    "message": "Column 'age' must be numeric; got 'forty' in row 0.",
                    "row": 0,
                    "value": "forty",
                }
            ],
        }
    ]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer. Under ``/v2`` (Open Inference Protocol) ``error`` holds the
    message and the stable code is in ``code``; ``/invocations`` adds MLflow's
    ``error_code``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_error_body_schema)
    error: str = Field(description="a stable code for programs, e.g. schema_error")
    message: str = Field(description="names the field, column or value and what was expected")
    field: str | None = Field(None, description="the first offending field")
    problems: list[ErrorProblem] | None = Field(None, description="every offending field")
    code: str | None = Field(None, description="/v2 only: the stable code")
    error_code: Literal["BAD_REQUEST", "INTERNAL_ERROR"] | None = Field(
        None, description="/invocations only: MLflow's error code"
    )


#: What each status means on this service.
STATUS_MEANING = {
    400: "The body is not JSON (NaN and Infinity included), or not the format declared.",
    401: "No API key, or not a valid one.",
    403: "The key lacks the role this route needs.",
    404: "No such variant, model, version, period or id.",
    409: "An outcome differs from the stored value; nothing was stored.",
    413: "The body is over serve.max_body_mb, or the rows over serve.max_rows.",
    415: "A Content-Type this route does not read.",
    422: "The body or query is well-formed but wrong: its shape, a column, a type, a value.",
    503: "Not ready, or the log cannot keep the rows (Retry-After says when to retry).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that answers ``statuses`` with :class:`ErrorBody`."""
    return {s: {"model": ErrorBody, "description": STATUS_MEANING[s]} for s in statuses}


def answers(model: Any, *statuses: int) -> dict[str, Any]:
    """Route arguments documenting a 200 of ``model`` and the error ``statuses``; the
    handler's plain data is sent as it is (no ``response_model`` to filter it)."""
    return {"response_model": None, "responses": {200: {"model": model}, **errors(*statuses)}}


# -- tabloop's own routes --------------------------------------------------------------------
class OutcomesStored(BaseModel):
    batch: int | None = Field(description="the upload batch id (null when nothing was stored)")
    stored: int
    unchanged: int
    updated: int
    unknown: list[str] = Field(description="ids that match no prediction")
    conflicts: list[dict[str, Any]]


class OutcomeRow(BaseModel):
    prediction_id: str
    entity_id: str | None
    variant: str
    value: Any
    batch_id: int
    received_at: str
    updated_at: str | None


class OutcomesPage(BaseModel):
    total: int
    offset: int
    limit: int
    outcomes: list[OutcomeRow]


class Readiness(BaseModel):
    """Also the body of the 503 that ``/health/ready`` answers when not ready."""

    status: Literal["ready", "not ready"]
    problems: list[str]
    variants: dict[str, str] = Field(description="variant -> model version")
    log_backlog: int = Field(description="rows queued for the log")


def _answer_of(
    name: str, result: type, doc: str, *, narrowed: dict[str, Any], **added: Any
) -> type[BaseModel]:
    """Model ``name`` of ``result.to_dict()`` for a dataclass ``result``: one field per field of
    it, typed as it is (a nested dataclass is described with its own fields), so a field
    added to the result is documented at once. ``narrowed`` gives some fields a narrower
    type than the result declares; ``added`` are the fields the route puts beside them."""
    hints = get_type_hints(result)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(result)}
    unknown = sorted(set(narrowed) - set(fields))
    if unknown:
        raise TypeError(f"{result.__name__} has no field {', '.join(unknown)} to narrow.")
    fields.update({field: (kind, ...) for field, kind in {**narrowed, **added}.items()})
    return create_model(name, __doc__=doc, **fields)


#: The period a report covers, added by the route.
_PERIOD = int | str

ABReport = _answer_of(
    "ABReport",
    evaluate.ABReport,
    "The A/B report of a supervised service (see the README's Concepts): "
    "``tabloop.evaluate.ABReport.to_dict()`` and the period it covers.",
    narrowed={"task": Literal["binary", "multiclass", "regression"]},
    period=_PERIOD,
)
SegmentReport = _answer_of(
    "SegmentReport",
    evaluate.SegmentShares,
    "The report of a clustering service: segment shares per variant "
    "(``tabloop.evaluate.SegmentShares.to_dict()``) and the period it covers.",
    narrowed={"task": Literal["clustering"]},
    period=_PERIOD,
)


class MonitorReport(BaseModel):
    """The monitoring report (``tabloop monitor``'s JSON)."""

    project: str
    generated_at: str
    task: str
    source: Any
    model: dict[str, Any]
    window: dict[str, Any]
    drift: Any
    performance: Any
    estimated: Any
    fairness: Any
    chunks: Any
    requirements: list[dict[str, Any]]
    notes: list[Any]
    passed: bool
    alert: Any


class Variants(BaseModel):
    variants: list[dict[str, Any]] = Field(
        description="name, uri, model_version, resolved, share per variant"
    )


class InvocationsAnswer(BaseModel):
    predictions: list[dict[str, Any]] = Field(
        description="one record per row: its columns, prediction, probabilities, ids"
    )


# -- Open Inference Protocol v2 --------------------------------------------------------------
class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


class ModelReady(BaseModel):
    name: str
    version: str | None = None
    ready: bool


class OutputTensor(TensorMetadata):
    data: list[Any]


class InferParameters(BaseModel):
    request_id: str
    prediction_ids: list[str]
    variants: list[str]
    model_versions: list[str]


class InferResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model_name: str
    model_version: str
    id: str
    parameters: InferParameters
    outputs: list[OutputTensor]
