"""The dataframe helpers every stage shares (STYLE.md habit 8: dataframe access in one place).

A deliberate middle ground: these are public to the other tabloop packages, which import them
from here (``from tabloop.data.frame import json_safe``) and never from ``data._frame``, the
module that defines them; they are not part of the user's API (``tabloop.__all__``,
``tabloop.data.__all__``). The import-linter contract in ``pyproject.toml`` lets only
``tabloop.data`` import ``_frame``. :class:`RowCheck` (``data/_row_check.py``), the
records-level shortcut for :func:`tabloop.data.validate` that the service runs on request
rows, is shared the same way.
"""

from __future__ import annotations

from tabloop.data._frame import (
    BOOL_STRINGS,
    EXACT_INTEGER,
    Unclean,
    as_texts,
    category_key,
    category_keys,
    column_not_found,
    float_category_key,
    invalid_bool_array,
    is_bool,
    is_datetime,
    is_numeric,
    json_safe,
    missing_mask,
    not_in,
    numeric_array,
    python_value,
    require_columns,
    require_frame,
    row_label,
    strict_category_key,
    time_values,
    to_datetime,
    to_numeric,
    unseen_message,
)
from tabloop.data._row_check import RowCheck

__all__ = [
    "BOOL_STRINGS",
    "EXACT_INTEGER",
    "RowCheck",
    "Unclean",
    "as_texts",
    "category_key",
    "category_keys",
    "column_not_found",
    "float_category_key",
    "invalid_bool_array",
    "is_bool",
    "is_datetime",
    "is_numeric",
    "json_safe",
    "missing_mask",
    "not_in",
    "numeric_array",
    "python_value",
    "require_columns",
    "require_frame",
    "row_label",
    "strict_category_key",
    "time_values",
    "to_datetime",
    "to_numeric",
    "unseen_message",
]
