"""The production rows ``monitor`` reads (the prediction log or a file), shared with ``retrain``.

Like :mod:`tabloop.data.frame`: public to the other tabloop packages, not part of the user's
API. The column names are those of the log's frame (``TIME``, ``OUTCOME``, ...).
"""

from __future__ import annotations

from tabloop.monitor._production import (
    OUTCOME,
    PREDICTION,
    PREDICTION_ID,
    RESERVED,
    SCORE,
    TIME,
    VARIANT,
    VERSION,
    from_file,
    from_log,
    read_log,
)

__all__ = [
    "OUTCOME",
    "PREDICTION",
    "PREDICTION_ID",
    "RESERVED",
    "SCORE",
    "TIME",
    "VARIANT",
    "VERSION",
    "from_file",
    "from_log",
    "read_log",
]
