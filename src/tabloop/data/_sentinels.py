"""Likely missing-value codes: values that stand for "unknown" but look like data.

The profile flags two kinds, each with the ``prepare.missing_values`` line that declares it:

- text values that are usual spellings of "unknown" (:data:`TEXT_CODES`, compared after
  trimming and lower-casing: ``not_known``, ``n/a``, ``?``, ``unknown`` ...);
- numbers of the usual code shapes (:data:`NUMBER_CODES`: -1, -9, -99, -999, -9999, 99, 999,
  9999, 99999) that lie far outside the rest of their numeric column: beyond 3 interquartile
  ranges of the other values (Tukey's far-out fence), or negative in a column whose other
  values are all at least 0.

A flag is a suggestion, not a decision: ``none`` or ``0`` are left out on purpose (often
real values), and a flagged value may be real; the message says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.data import _frame

#: Lower-cased, trimmed spellings of "unknown".
TEXT_CODES = frozenset(
    {
        "?",
        "-",
        "--",
        "n/a",
        "na",
        "n.a.",
        "#n/a",
        "nan",
        "null",
        "missing",
        "unknown",
        "unk",
        "not_known",
        "not known",
        "notknown",
        "not available",
        "not_available",
        "undefined",
        "no data",
        "",
    }
)
#: Numbers often used as codes.
NUMBER_CODES = (-1, -9, -99, -999, -9999, 99, 999, 9999, 99999)
#: Tukey's far-out fence, in interquartile ranges beyond the quartiles.
FENCE = 3.0


def likely_codes(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """One entry per (column, value) that looks like a missing-value code: ``column``,
    ``value`` (as it appears), ``rows``, ``share`` and ``why``.

    >>> df = pd.DataFrame({"age": [30, 41, 999, 25, 38, 52, -1], "job": list("aab?cab")})
    >>> [(e["column"], e["value"]) for e in likely_codes(df, ["age", "job"])]
    [('age', -1), ('age', 999), ('job', '?')]
    """
    found: list[dict[str, Any]] = []
    for column in columns:
        series = df[column]
        present = series.dropna()
        if present.empty or _frame.is_bool(series) or _frame.is_datetime(series):
            continue
        if _frame.is_numeric(series):
            found += _numeric_codes(column, present.astype("float64"))
        else:
            found += _text_codes(column, present)
    return found


def _numeric_codes(column: str, values: pd.Series) -> list[dict[str, Any]]:
    out = []
    for code in NUMBER_CODES:
        hit = values == code
        rows = int(hit.sum())
        if not rows:
            continue
        rest = values[~hit]
        if len(rest) < 5:
            continue
        q1, q3 = np.quantile(rest, [0.25, 0.75])
        spread = q3 - q1
        why = None
        if code < 0 and rest.min() >= 0:
            why = f"negative in a column whose other values are all >= 0 (min {rest.min():g})"
        elif spread > 0 and (code > q3 + FENCE * spread or code < q1 - FENCE * spread):
            why = (
                f"far outside the other values (quartiles {q1:g} to {q3:g}, "
                f"range {rest.min():g} to {rest.max():g})"
            )
        if why:
            out.append(_entry(column, code, rows, len(values), why))
    return out


def _text_codes(column: str, values: pd.Series) -> list[dict[str, Any]]:
    counts = values.astype("string").value_counts()
    out = []
    for value, rows in counts.items():
        if str(value).strip().lower() in TEXT_CODES:
            why = "a usual spelling of 'unknown'"
            out.append(_entry(column, str(value), int(rows), len(values), why))
    return out


def _entry(column: str, value: Any, rows: int, n: int, why: str) -> dict[str, Any]:
    return {
        "column": column,
        "value": value,
        "rows": rows,
        "share": round(rows / n, 4),
        "why": why,
    }


def missing_values_line(entries: list[dict[str, Any]]) -> str:
    """The ``prepare.missing_values`` line that declares ``entries``.

    >>> missing_values_line([{"column": "job", "value": "not_known"},
    ...                      {"column": "age", "value": -1}, {"column": "age", "value": 999}])
    'prepare.missing_values: {job: [not_known], age: [-1, 999]}'
    """
    return f"prepare.missing_values: {{{', '.join(missing_values_items(entries))}}}"


def missing_values_items(entries: list[dict[str, Any]]) -> list[str]:
    """The ``column: [codes]`` items of ``prepare.missing_values`` that declare ``entries``,
    one per column, in YAML (quoted where YAML must be told it is text).

    >>> missing_values_items([{"column": "age", "value": 999}, {"column": "job", "value": "?"}])
    ['age: [999]', "job: ['?']"]
    """
    by_column: dict[str, list[str]] = {}
    for e in entries:
        by_column.setdefault(e["column"], []).append(_yaml_scalar(e["value"]))
    return [f"{_yaml_key(c)}: [{', '.join(v)}]" for c, v in by_column.items()]


def _yaml_scalar(value: Any) -> str:
    """``value`` as YAML reads it back inside a flow list (quoted when it must be)."""
    if not isinstance(value, str):
        return f"{value:g}" if isinstance(value, float) else str(value)
    import yaml

    try:
        plain_ok = yaml.safe_load(f"[{value}]") == [value]
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok and value.strip() == value else "'" + value.replace("'", "''") + "'"


def _yaml_key(column: str) -> str:
    return _yaml_scalar(column)
