"""Open Inference Protocol (v2) inference requests as rows: one input tensor per column.

The rows go to :func:`tabloop.serve._predict.predict_rows`, whose schema checks (missing and
unknown columns, types, categories) are the same as ``/predict``'s; here only what the
protocol defines is checked: datatype, shape, element types, a numeric column sent as text,
tensors of equal length, and Triton's binary tensor data extension (JSON header, then raw
little-endian values). ``NaN`` is a missing value, as Triton's and MLServer's clients write
it; ``Infinity`` is refused.
"""

from __future__ import annotations

import math
import struct
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tabloop.serve._errors import ApiError
from tabloop.serve.protocols._requests import Row, parse_json

_INTS = {f"{s}INT{b}": b for s in ("", "U") for b in (8, 16, 32, 64)}
_FLOATS = {"FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
DATATYPES = ("BOOL", *_INTS, *_FLOATS, "BYTES")
NUMERIC = frozenset([*_INTS, *_FLOATS])


class TensorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    shape: list[Annotated[int, Field(ge=0)]]
    datatype: str = Field(description=" | ".join(DATATYPES))
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = Field(None, description="flat or nested; absent when binary")


class TensorOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    """An OIP inference request: one input tensor per column."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[TensorIn]
    outputs: list[TensorOut] | None = None


def read_infer_request(body: bytes, header_length: str | None) -> tuple[InferRequest, bytes]:
    """The JSON part of an infer body, and the binary tensor data after it (Triton's
    ``Inference-Header-Content-Length`` extension; empty without it)."""
    binary = b""
    if header_length is not None:
        digits = header_length.isascii() and header_length.isdigit()  # not '¹' or '٣'
        if not digits or int(header_length) > len(body):
            raise ApiError(
                400,
                "invalid_body",
                f"Inference-Header-Content-Length is {header_length[:20]!r}; expected the "
                f"byte length of the JSON part, at most the body's {len(body)} bytes.",
            )
        body, binary = body[: int(header_length)], body[int(header_length) :]
    data = parse_json(body, nan_is_missing=True)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "The body must be a JSON object.", field="body")
    try:
        request = InferRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from None
    if not request.inputs:
        raise ApiError(
            422, "empty", "'inputs' is empty; send one tensor per column.", field="inputs"
        )
    return request, binary


def tensor_rows(request: InferRequest, binary: bytes, kinds: dict[str, str]) -> list[Row]:
    """The input tensors as rows; ``kinds`` maps known columns to their schema kind.

    Every problem is listed (:class:`ApiError` 422): an unknown datatype, a shape that is not
    a column, data of another type than the datatype says, a numeric column sent as text,
    columns of different lengths. Unknown and missing columns are left to the schema check.
    """
    problems: list[dict[str, Any]] = []
    columns: dict[str, list[Any]] = {}
    offset = 0
    for i, tensor in enumerate(request.inputs):
        size = (tensor.parameters or {}).get("binary_data_size")
        try:
            values = _tensor_values(tensor, binary[offset:], kinds.get(tensor.name))
        except _Problem as exc:
            problems.append(
                {
                    "field": f"inputs.{i}.{exc.part}",
                    "problem": f"inputs[{i}] {tensor.name!r}: {exc}",
                }
            )
            continue
        finally:  # the next tensor's bytes start after this one's, whatever went wrong
            offset += size if isinstance(size, int) and size > 0 else 0
        if tensor.name in columns:
            problems.append(
                {
                    "field": f"inputs.{i}.name",
                    "problem": f"inputs[{i}] {tensor.name!r}: a second tensor for this column; "
                    "send each column once.",
                }
            )
        columns[tensor.name] = values
    if not problems and offset != len(binary):
        raise ApiError(
            400,
            "invalid_body",
            f"{len(binary) - offset} bytes of binary data after the last tensor; the "
            "binary_data_size parameters must add up to the binary part of the body.",
        )
    lengths = {name: len(values) for name, values in columns.items()}
    if not problems and len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
        problems.append(
            {
                "field": "inputs",
                "problem": f"inputs have different lengths ({shown}); every column needs one "
                "value per row.",
            }
        )
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApiError(
            422,
            "invalid_tensor",
            problems[0]["problem"] + more,
            field=problems[0]["field"],
            problems=problems,
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


class _Problem(ValueError):
    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


def _tensor_values(tensor: TensorIn, binary: bytes, kind: str | None) -> list[Any]:
    """One tensor's values, flat; ``binary`` is the binary data from this tensor's on."""
    datatype, shape = tensor.datatype, tensor.shape
    if datatype not in DATATYPES:
        raise _Problem(
            "datatype",
            f"{datatype!r} is not an OIP datatype; expected one of {', '.join(DATATYPES)}.",
        )
    if len(shape) not in (1, 2) or shape[1:] not in ([], [1]):
        raise _Problem("shape", f"shape {shape} is not a column; send [n] or [n, 1].")
    if kind == "numeric" and datatype not in NUMERIC:
        raise _Problem(
            "datatype",
            f"the column is numeric but the tensor is {datatype}; send FP64 (or another "
            "numeric datatype).",
        )
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _Problem("parameters", f"binary_data_size {size!r} is not a byte count.")
        if size > len(binary):
            raise _Problem(
                "parameters", f"binary_data_size {size} runs past the body ({len(binary)} left)."
            )
        try:
            values = _decode(binary[:size], datatype)
        except ValueError as exc:
            raise _Problem("parameters", f"binary data: {exc}.") from None
    elif tensor.data is None:
        raise _Problem("data", "no data: send 'data', or binary data with binary_data_size.")
    else:
        values = _flatten(tensor.data)
        bad = next((j for j, v in enumerate(values) if not _fits(v, datatype)), None)
        if bad is not None:
            raise _Problem(
                "data",
                f"{datatype} but data[{bad}] is {_short(values[bad])}; send "
                f"{_EXPECTED.get(datatype, 'numbers')}, or null for a missing value.",
            )
    if len(values) != math.prod(shape):
        raise _Problem(
            "shape", f"{len(values)} values for shape {shape} ({math.prod(shape)} values)."
        )
    return values


_EXPECTED = {"BOOL": "true/false", "BYTES": "strings"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _fits(value: Any, datatype: str) -> bool:
    if value is None:
        return True
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if datatype in _INTS:
        bits = _INTS[datatype]
        low, high = (0, 2**bits) if datatype[0] == "U" else (-(2 ** (bits - 1)), 2 ** (bits - 1))
        return isinstance(value, int) and low <= value < high
    return abs(value) < _FLOAT_MAX  # JSON floats are finite; a huge integer is not a float


_FLOAT_MAX = float(np.finfo(np.float64).max)


def _flatten(data: list[Any]) -> list[Any]:
    """Row-major values of a flat or nested list (without recursion: any depth is safe)."""
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _decode(raw: bytes, datatype: str) -> list[Any]:
    """Triton's binary tensor data: little-endian values; BYTES as 4-byte length + UTF-8."""
    if datatype == "BYTES":
        out, pos = [], 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise ValueError("a BYTES element's 4-byte length is cut off")
            (n,) = struct.unpack_from("<I", raw, pos)
            if pos + 4 + n > len(raw):
                raise ValueError(f"a BYTES element of {n} bytes runs past the data")
            out.append(raw[pos + 4 : pos + 4 + n].decode("utf-8"))  # else a ValueError
            pos += 4 + n
        return out
    if datatype == "BOOL":
        return [byte != 0 for byte in raw]
    if datatype in _FLOATS:
        dtype = np.dtype(_FLOATS[datatype])
    else:
        dtype = np.dtype(f"<{'u' if datatype.startswith('U') else 'i'}{_INTS[datatype] // 8}")
    if len(raw) % dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes are not whole {datatype} values")
    values = np.frombuffer(raw, dtype=dtype).tolist()
    if datatype in _FLOATS:
        if any(math.isinf(v) for v in values):
            raise ValueError("an infinite value; send finite numbers, or NaN for a missing one")
        return [None if math.isnan(v) else v for v in values]
    return values
