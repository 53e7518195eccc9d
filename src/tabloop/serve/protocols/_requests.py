"""Request bodies: the shapes clients send, turned into one list of rows.

The pydantic models document the shapes in OpenAPI and check their structure; the table
shapes of MLflow's scoring protocol reach one code path through :meth:`PredictRequest.rows`.
JSON is parsed by :class:`StrictJSONRoute`, which refuses ``NaN`` and ``Infinity``: Python's
``json`` (and so FastAPI's default) accepts them although JSON does not, and a model fed an
infinite value answers nonsense.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tabloop.serve._errors import ApiError

Row = dict[str, Any]


class DataframeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: list[str]
    data: list[list[Any]]
    index: list[Any] | None = None


class PredictRequest(BaseModel):
    """Rows to predict: ``records`` (tabloop), or MLflow's ``dataframe_records`` /
    ``dataframe_split`` (exactly one of them)."""

    # no example here: the service's OpenAPI document builds one from the served models
    model_config = ConfigDict(extra="forbid")
    records: list[Row] | None = Field(None, description="one object per row: column -> value")
    dataframe_records: list[Row] | None = Field(None, description="MLflow: same as records")
    dataframe_split: DataframeSplit | None = Field(None, description="MLflow: columns + data")

    @model_validator(mode="after")
    def _one_shape(self) -> PredictRequest:
        given = [k for k in ("records", "dataframe_records", "dataframe_split") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(
                f"send one of records, dataframe_records, dataframe_split; got {given}"
            )
        return self

    def rows(self) -> list[Row]:
        if self.dataframe_split is not None:
            return split_rows(self.dataframe_split.columns, self.dataframe_split.data)
        return self.records or self.dataframe_records or []


class OutcomeItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prediction_id: str | None = Field(None, min_length=1, max_length=100)
    id: str | int | None = Field(None, description="the entity id (data.id column) instead")
    value: Any = Field(description="the true value of the target")

    @model_validator(mode="after")
    def _one_key(self) -> OutcomeItem:
        if (self.prediction_id is None) == (self.id is None):
            raise ValueError("give exactly one of 'prediction_id' or 'id'")
        return self


class OutcomesRequest(BaseModel):
    """True values for earlier predictions, by ``prediction_id`` or by entity ``id``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcomes": [{"prediction_id": "…", "value": 1}]}]},
    )
    outcomes: list[OutcomeItem] = Field(min_length=1)
    overwrite: bool = Field(False, description="replace values already stored")

    def key(self) -> Literal["prediction_id", "entity_id"]:
        kinds = {item.prediction_id is None for item in self.outcomes}
        if len(kinds) > 1:
            raise ApiError(
                422,
                "mixed_keys",
                "One upload identifies every outcome the same way: all by 'prediction_id' or "
                "all by 'id'. Send the two kinds as separate uploads.",
            )
        return "entity_id" if kinds == {True} else "prediction_id"


def split_rows(columns: list[str], data: list[list[Any]]) -> list[Row]:
    """``columns`` + ``data`` (MLflow's split orientation) as rows, checking row widths."""
    width = len(columns)
    for i, values in enumerate(data):
        if len(values) != width:
            raise ApiError(
                422,
                "bad_shape",
                f"dataframe_split.data[{i}] has {len(values)} values for {width} columns.",
                field=f"dataframe_split.data.{i}",
            )
    return [dict(zip(columns, values, strict=True)) for values in data]


def _refuse_constant(name: str) -> float:
    raise ApiError(400, "invalid_json", f"{name} is not valid JSON; send null for a missing value.")


def _nan_is_missing(name: str) -> None:
    if name != "NaN":
        _refuse_constant(name)


#: Text that may hide a value no column can hold: an integer of 19+ digits, an exponent of
#: 3+ digits (``1e309`` parses as infinity), an escaped UTF-16 surrogate (``"\\ud800"``).
_SUSPECT = re.compile(rb"\d{19}|[eE][+-]?\d{3}|\\[uU][dD][89a-fA-F]")
_INT64 = 2**63


def parse_json(body: bytes, *, nan_is_missing: bool = False) -> Any:
    """The body as JSON, refusing NaN/Infinity; :class:`ApiError` (400) says where it broke.

    ``nan_is_missing`` reads ``NaN`` as null: MLflow's and Triton's clients write a missing
    value that way, so their protocols accept it (Infinity stays refused). Numbers that
    overflow a 64-bit float or integer and strings that are not valid Unicode (a lone
    surrogate) are a 422 naming their field: stored in the log, they would break every
    report that reads it.
    """
    data = _loads(body, nan_is_missing)
    if _SUSPECT.search(body):  # rare: only then walk the values
        found = _hostile(data, "")
        if found is not None:
            field, problem = found
            raise ApiError(422, "invalid_value", f"{field or 'body'}: {problem}", field=field)
    return data


def _hostile(value: Any, path: str) -> tuple[str, str] | None:
    """The path and problem of the first value no column can hold, else None."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, float) and not math.isfinite(value):
        return path, "the number overflows a 64-bit float; send a finite number."
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT64:
        return path, "the integer does not fit 64 bits; send it as a string if it is an id."
    elif isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "the string is not valid Unicode (a lone UTF-16 surrogate escape)."
        return None
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and not key.isascii() and _hostile(key, where) is not None:
            return where, "the key is not valid Unicode (a lone UTF-16 surrogate escape)."
        found = _hostile(item, where)
        if found is not None:
            return found
    return None


def _loads(body: bytes, nan_is_missing: bool) -> Any:
    try:
        return json.loads(
            body, parse_constant=_nan_is_missing if nan_is_missing else _refuse_constant
        )
    except RecursionError:
        raise ApiError(
            400, "invalid_json", "The body nests arrays or objects too deeply."
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "invalid_json",
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
        ) from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "The body is not UTF-8 text.") from None
    except ValueError:  # Python's limit on integer digits (4,300)
        raise ApiError(
            422,
            "invalid_value",
            "A number in the body has more than 4,300 digits; send numbers that fit 64 bits.",
        ) from None


class StrictJSONRequest(Request):
    """A request whose ``json()`` refuses NaN/Infinity and explains a decode error."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes that check the caller's key first (the role set by
    :func:`~tabloop.serve._security.needs`), then refuse a body that is not JSON with 415
    where the route declares a JSON body, and parse it with :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role = getattr(self.endpoint, "tabloop_role", None)
        takes_json = self.body_field is not None

        async def strict(request: Request) -> Response:
            if role is not None:
                request.app.state.serve.guard(request, role)
            if takes_json:
                _check_json_type(request.headers.get("content-type"))
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


def _check_json_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON (``application/json`` or ``*/*+json``); a body
    without a Content-Type is read as JSON, as FastAPI does."""
    if not content_type:
        return
    mime = content_type.split(";", 1)[0].strip().lower()
    json_like = mime.startswith("application/") and mime.endswith("+json")
    if mime != "application/json" and not json_like:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {mime!r} is not supported here; send application/json.",
        )
