"""MLflow's ``/invocations`` bodies as rows: the four JSON table shapes, CSV and Parquet.

The rows go to :func:`tabloop.serve._predict.predict_rows`, whose schema checks are the same
as ``/predict``'s; here only what MLflow's protocol defines is checked: the content type and
the table shapes. ``NaN`` is read as a missing value, because MLflow's own serialiser
(``convert_input_example_to_serving_input``) writes missing values that way; ``Infinity``
is refused as on ``/predict``.
"""

from __future__ import annotations

import io
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tabloop.serve._errors import ApiError
from tabloop.serve.protocols._requests import DataframeSplit, Row, parse_json, split_rows

CSV, JSON, PARQUET = "text/csv", "application/json", "application/vnd.apache.parquet"
_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
Columns = dict[str, list[Any]]


class InvocationsRequest(BaseModel):
    """One of MLflow's four table shapes, with optional ``params`` (accepted, ignored)."""

    # no example here: the service's OpenAPI document builds one from the served models
    model_config = ConfigDict(extra="forbid")
    dataframe_split: DataframeSplit | None = None
    dataframe_records: list[Row] | None = None
    instances: list[Row] | Columns | None = Field(None, description="rows, or column -> list")
    inputs: list[Row] | Columns | None = Field(None, description="rows, or column -> list")
    params: dict[str, Any] | None = Field(None, description="accepted and ignored")

    @field_validator("dataframe_records", "instances", "inputs", mode="before")
    @classmethod
    def _rows_are_objects(cls, value: Any) -> Any:
        if isinstance(value, list):
            for i, row in enumerate(value):
                if not isinstance(row, dict):
                    raise ValueError(
                        f"item {i} is a {type(row).__name__}; a row is an object of column -> "
                        "value (a list of lists has no column names: send dataframe_split)"
                    )
        elif isinstance(value, dict):
            for name, column in value.items():
                if not isinstance(column, list):
                    raise ValueError(f"column {name!r} is not a list of values")
        elif value is not None:
            raise ValueError(f"expected rows or column -> values; got a {type(value).__name__}")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> InvocationsRequest:
        given = [k for k in _FORMATS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"send exactly one of {', '.join(_FORMATS)}; got {given or 'none'}")
        return self

    def rows(self) -> tuple[list[Row], str]:
        """The rows and the key they came in."""
        if self.dataframe_split is not None:
            return split_rows(self.dataframe_split.columns, self.dataframe_split.data), (
                "dataframe_split"
            )
        if self.dataframe_records is not None:
            return self.dataframe_records, "dataframe_records"
        key = "instances" if self.instances is not None else "inputs"
        table = self.instances if self.instances is not None else self.inputs
        return (column_rows(table, key) if isinstance(table, dict) else table or []), key


def invocation_rows(body: bytes, content_type: str | None) -> tuple[list[Row], str]:
    """The rows of an ``/invocations`` body and where they were (for messages)."""
    mime = _media_type(content_type)
    if mime == JSON:
        data = parse_json(body, nan_is_missing=True)
        if not isinstance(data, dict):
            raise ApiError(
                422,
                "invalid_request",
                f"The body must be a JSON object with one of {', '.join(_FORMATS)}; "
                f"got a {type(data).__name__}.",
                field="body",
            )
        try:
            return InvocationsRequest.model_validate(data).rows()
        except ValidationError as exc:
            raise ApiError.from_validation(exc) from None
    import pandas as pd

    try:  # a parser's error of any kind is the body's fault
        frame = pd.read_csv(io.BytesIO(body)) if mime == CSV else pd.read_parquet(io.BytesIO(body))
    except Exception as exc:
        kind = "a CSV table with a header row" if mime == CSV else "a Parquet file"
        raise ApiError(
            400, "invalid_body", f"The body is not {kind}: {exc}".strip()[:300], field="body"
        ) from None
    return frame_rows(frame), "body"


def _media_type(content_type: str | None) -> str:
    allowed = f"send {JSON}, {CSV} or {PARQUET}"
    if not content_type:
        raise ApiError(415, "unsupported_media_type", f"No Content-Type header; {allowed}.")
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    if mime not in (JSON, CSV, PARQUET):
        raise ApiError(
            415, "unsupported_media_type", f"Content-Type {mime!r} is not supported; {allowed}."
        )
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Content-Type parameter {parameter!r} is not supported; only charset=utf-8 "
                "(MLflow 1.x's format=pandas-split is now the dataframe_split key).",
            )
    return mime


def column_rows(columns: Columns, field: str) -> list[Row]:
    """``column -> values`` as rows; every column must have one value per row."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        odd = next(n for n, k in lengths.items() if k != lengths[first])
        raise ApiError(
            422,
            "bad_shape",
            f"{field}: every column needs one value per row; {first!r} has {lengths[first]} "
            f"values but {odd!r} has {lengths[odd]}.",
            field=f"{field}.{odd}",
        )
    n = next(iter(lengths.values()), 0)
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def frame_rows(frame: Any) -> list[Row]:
    """A parsed CSV/Parquet table as rows of plain values; refuses infinite numbers."""
    from tabloop.data.frame import python_value

    rows = []
    for i, record in enumerate(frame.to_dict(orient="records")):
        row = {str(k): python_value(v) for k, v in record.items()}
        for name, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ApiError(
                    422,
                    "invalid_value",
                    f"Column {name!r} has {value} in row {i}; send a finite number, or an "
                    "empty cell for a missing value.",
                    field=name,
                )
        rows.append(row)
    return rows
