"""Request bodies: the shapes clients send, turned into one list of rows.

The pydantic models document the shapes in OpenAPI and check their structure; the table
shapes of MLflow's scoring protocol reach one code path through :meth:`PredictRequest.rows`.
JSON is parsed by :class:`StrictJSONRoute`, which refuses ``NaN`` and ``Infinity``: Python's
``json`` (and so FastAPI's default) accepts them although JSON does not, and a model fed an
infinite value answers nonsense.
"""

from __future__ import annotations

import json
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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"records": [{"age": 41, "course": "sleep", "logins": 12}]}]
        },
    )
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


def parse_json(body: bytes, *, nan_is_missing: bool = False) -> Any:
    """The body as JSON, refusing NaN/Infinity; :class:`ApiError` (400) says where it broke.

    ``nan_is_missing`` reads ``NaN`` as null: MLflow's and Triton's clients write a missing
    value that way, so their protocols accept it (Infinity stays refused).
    """
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


class StrictJSONRequest(Request):
    """A request whose ``json()`` refuses NaN/Infinity and explains a decode error."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes that parse JSON bodies with :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
