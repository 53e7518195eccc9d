"""The parts of the reference profile that drift statistics read, shared with ``monitor``.

Like :mod:`tabloop.data.frame`: public to the other tabloop packages (``monitor`` computes
drift against these summaries), not part of the user's API; users need only
:class:`tabloop.data.ReferenceProfile` (also :class:`tabloop.monitor.ReferenceProfile`).
"""

from __future__ import annotations

from tabloop.data._reference import (
    PROFILED_KINDS,
    CategoricalSummary,
    NumericSummary,
    ReferenceProfile,
    bin_shares,
    count_keys,
    present_numbers,
)

__all__ = [
    "CategoricalSummary",
    "NumericSummary",
    "PROFILED_KINDS",
    "ReferenceProfile",
    "bin_shares",
    "count_keys",
    "present_numbers",
]
