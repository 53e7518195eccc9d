"""The plain data the log stores and returns, and its JSON form (database and spool)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class PredictionRecord:
    """One logged prediction; every field is JSON-able.

    ``created_at`` is stored in UTC (a naive datetime is taken as UTC). ``prediction`` is a
    label or a number, ``score`` the positive-class probability (binary) and
    ``probabilities`` the label -> probability map (multiclass), both None for regression.
    """

    prediction_id: str
    created_at: datetime
    variant: str
    model_name: str
    model_version: str
    entity_id: str | None
    request_id: str | None
    inputs: dict[str, Any]
    context: dict[str, Any]
    prediction: Any
    score: float | None
    probabilities: dict[str, float] | None
    latency_ms: float

    def to_json(self) -> str:
        """One spool line (no newline): the fields, ``created_at`` as an ISO string."""
        data = dataclasses.asdict(self)
        data["created_at"] = as_utc(self.created_at).isoformat()
        return dumps(data)

    @classmethod
    def from_json(cls, line: str) -> PredictionRecord:
        """The record of a spool line written by :meth:`to_json`."""
        data = loads(line)
        data["created_at"] = as_utc(datetime.fromisoformat(data["created_at"]))
        return cls(**data)


@dataclass
class OutcomeResult:
    """What one outcome upload did.

    ``stored`` counts new outcomes, ``unchanged`` values sent again (not stored twice),
    ``updated`` changed values written because ``overwrite=True``. ``unknown`` lists the
    ids that match no prediction, ``conflicts`` the refused changes as
    ``{"id", "stored", "received"}`` (for an id sent twice with different values,
    ``stored`` is the first value sent). When there is any conflict nothing of the upload
    is stored (``batch_id`` None, ``stored == updated == 0``), so the client can fix and
    resend.
    """

    batch_id: int | None
    stored: int = 0
    unchanged: int = 0
    updated: int = 0
    unknown: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _default(value: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars and arrays, datetimes, sets."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


def _clean(value: Any) -> Any:
    """``value`` with NaN/inf as None and every key a string (strict JSON, as PostgreSQL wants)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(_clean(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return _clean(_default(value))


def dumps(value: Any) -> str:
    """Strict JSON text of ``value``: numpy values converted, NaN and infinities as null,
    and always valid Unicode.

    Missing feature values arrive as NaN; PostgreSQL refuses NaN in JSON, so they become
    null here rather than poisoning a batch. A lone UTF-16 surrogate in a string (which
    the service refuses at the door, but a Python caller may log) becomes ``?``: as an
    escape in the log it would break every report that reads the row.
    """
    try:
        text = json.dumps(
            value, default=_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
    except (ValueError, TypeError):
        text = json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"))
    return text if text.isascii() else _valid_unicode(text)


def loads(text: str | bytes) -> Any:
    """JSON text of the log as Python values, lone surrogate escapes of older rows as ``?``."""
    value = json.loads(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _valid_strings(value) if _SURROGATE_ESCAPE.search(text) else value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _valid_strings(value: Any) -> Any:
    if isinstance(value, str):
        return _valid_unicode(value)
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_strings(v) for v in value]
    return value
