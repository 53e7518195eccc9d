"""Monitoring windows: the rows between ``since`` and ``until``, cut into chunks.

A chunk is a span of time (``12h``, ``1d``, ``1w``, aligned to midnight UTC of the first
row's day) or a run of consecutive rows (``500``). Chunks with fewer than
``min_chunk_rows`` rows are reported but never judged: a metric on 20 rows says little.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd

from tabloop.exceptions import MonitorError

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_ROWS = re.compile(r"^\s*(\d+)\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str | datetime | None, *, name: str) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp; a naive one is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise MonitorError(
            f"{name} {value!r} is not a date or time; use ISO format, e.g. 2025-03-01 or "
            "2025-03-01T12:00."
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def select(
    frame: pd.DataFrame, *, time: str, since: pd.Timestamp | None, until: pd.Timestamp | None
) -> pd.DataFrame:
    """Rows with ``since <= time < until``; rows without a time only when neither is given."""
    if since is not None and until is not None and since >= until:
        raise MonitorError(f"--since {since} is not before --until {until}: the window is empty.")
    if since is None and until is None:
        return frame
    times = frame[time]
    keep = times.notna()
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    return frame[keep.to_numpy()]


def chunk_labels(frame: pd.DataFrame, *, time: str, chunk: str | None) -> np.ndarray:
    """A label per row (its chunk's start time as ISO text, or ``rows a-b``), in row order.

    ``chunk=None`` puts every row in one chunk labelled ``all``.
    """
    n = len(frame)
    if chunk is None:
        return np.full(n, "all", dtype=object)
    rows = _ROWS.match(chunk)
    if rows:
        size = int(rows[1])
        if size < 1:
            raise MonitorError(f"chunk {chunk!r}: a chunk needs at least 1 row.")
        size = min(size, max(n, 1))  # a chunk past the window's end is the whole window
        names = np.array(
            [f"rows {a + 1}-{min(a + size, n)}" for a in range(0, n, size)], dtype=object
        )
        return names[np.arange(n) // size]
    span = _SPAN.match(chunk)
    if not span or int(span[1]) < 1:
        raise MonitorError(
            f"chunk {chunk!r} is not a span like '12h', '1d', '1w' or a row count like '500'."
        )
    times = frame[time]
    if times.isna().any():
        raise MonitorError(
            f"chunk {chunk!r} cuts by time, but {int(times.isna().sum())} rows have no time; "
            "give the rows a time column or chunk by row count."
        )
    try:
        delta = pd.Timedelta(**{_UNITS[span[2]]: int(span[1])})
    except (OverflowError, ValueError):
        raise MonitorError(
            f"chunk {chunk!r} is longer than the span times can hold (about 292 years)."
        ) from None
    origin = times.min().floor("D")
    index = ((times - origin) // delta).to_numpy()
    starts = origin + delta * pd.Series(index)
    return starts.dt.strftime("%Y-%m-%dT%H:%M").to_numpy(dtype=object)


def chunk_order(labels: np.ndarray) -> list[str]:
    """The distinct labels in order of first appearance (rows are sorted by time)."""
    return [str(label) for label in pd.unique(labels)]
