"""Experiment periods as a reader names them: a number, ``current`` or ``all``.

``tabloop log`` and the service's ``period`` query parameter (``/report``, ``/dashboard``,
``/outcomes``) read the same words and refuse the same periods with the same sentence: the
parsing and the check live here, and each caller only says how it reports a refusal (a CLI
line, a 422 or 404 over HTTP).
"""

from __future__ import annotations

from typing import Any, Literal

from tabloop.exceptions import DataError, StoreError

#: A period as :meth:`Store.predictions` takes it: an id, ``"all"``, or None (the open one).
Period = int | Literal["all"] | None
#: Database integers are 64-bit: a larger period number is refused before it reaches SQL.
MAX_PERIOD = 2**62


def parse_period(value: str | None, *, name: str = "period") -> Period:
    """``"current"`` or None -> None, ``"all"`` -> ``"all"``, digits -> the period number.

    Anything else (a negative, ``"last"``, digits beyond 64-bit or outside ASCII such as
    ``'¹'``) is a :class:`DataError` naming ``name`` (``--period`` on the command line).

    Examples
    --------
    >>> parse_period("3"), parse_period("current"), parse_period("all")
    (3, None, 'all')
    """
    if value is None or value == "current":
        return None
    if value == "all":
        return "all"
    if value.isascii() and value.isdigit() and int(value) <= MAX_PERIOD:
        return int(value)
    raise DataError(f"{name} must be a number, 'current' or 'all'; got {value!r}.")


def open_period_id(periods: list[dict[str, Any]]) -> int | None:
    """The id of the open period among ``periods`` (:meth:`Store.periods`); None if none."""
    return next((p["id"] for p in reversed(periods) if p["ended_at"] is None), None)


def check_period(period: Period, periods: list[dict[str, Any]]) -> None:
    """A :class:`StoreError` naming the periods of the log when ``period`` is a number
    that is not one of them (``periods`` as :meth:`Store.periods` returns them).

    Examples
    --------
    >>> periods = [{"id": i, "ended_at": None if i == 3 else "x"} for i in (1, 2, 3, 5)]
    >>> check_period(4, periods)
    Traceback (most recent call last):
    ...
    tabloop.exceptions.StoreError: No period 4; this log has period(s) 1-3, 5 (current: 3). \
Choose one of them, 'current' or 'all'.
    """
    if not isinstance(period, int):
        return
    ids = [p["id"] for p in periods]
    if period in ids:
        return
    raise StoreError(
        f"No period {period}; this log has period(s) {_spans(ids)} "
        f"(current: {open_period_id(periods)}). Choose one of them, 'current' or 'all'."
    )


def _spans(ids: list[int]) -> str:
    """``1-3, 5`` for ids 1, 2, 3, 5."""
    spans: list[list[int]] = []
    for i in ids:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"
