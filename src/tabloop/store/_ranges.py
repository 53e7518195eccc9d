"""A window of the log cut into time ranges of about equal row counts, so each can be read
on its own (a page at a time, or by a worker of a cluster)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tabloop.exceptions import StoreError
from tabloop.store._records import as_utc
from tabloop.store._store import opened
from tabloop.store._tables import predictions

if TYPE_CHECKING:
    from tabloop.store._store import Store


@dataclass(frozen=True)
class LogRange:
    """The predictions with ``since <= created_at < until`` (a None bound is open), of one
    ``variant`` when given, all periods; ``rows`` is how many there were when it was cut.

    Plain data: it pickles, so a range can be sent to another process and read there
    with :func:`tabloop.store.read_range`.
    """

    since: datetime | None
    until: datetime | None
    variant: str | None = None
    rows: int = 0

    def where(self) -> sa.ColumnElement[bool]:
        """The range as a condition on ``tabloop_predictions``."""
        return window(self.since, self.until, self.variant)


def window(
    since: datetime | None, until: datetime | None, variant: str | None = None
) -> sa.ColumnElement[bool]:
    """``since <= created_at < until`` (None bounds open) and the variant, as SQL."""
    conditions: list[sa.ColumnElement[bool]] = []
    if since is not None:
        conditions.append(predictions.c.created_at >= as_utc(since))
    if until is not None:
        conditions.append(predictions.c.created_at < as_utc(until))
    if variant is not None:
        conditions.append(predictions.c.variant == variant)
    return sa.and_(sa.true(), *conditions)


def parse_bound(value: str | datetime | None, *, name: str) -> datetime | None:
    """``value`` (ISO text or a datetime; naive means UTC) as an aware UTC datetime."""
    if value is None or isinstance(value, datetime):
        return None if value is None else as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value).strip()))
    except ValueError:
        raise StoreError(
            f"{name} {value!r} is not an ISO date or time; give e.g. 2026-12-05 or "
            "2026-12-05T08:00:00Z (UTC unless an offset is given)."
        ) from None


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Refuse a window that cannot hold a row: ``since`` not before ``until``."""
    if since is not None and until is not None and since >= until:
        raise StoreError(
            f"since {since.isoformat()} is not before until {until.isoformat()}: the window "
            "is empty (since is inclusive, until exclusive)."
        )


def count(conn: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    """How many predictions match ``where``."""
    query = sa.select(sa.func.count()).select_from(predictions).where(where)
    return int(conn.execute(query).scalar_one())


def split_log(
    store: Store | str,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    variant: str | None = None,
    parts: int | None = None,
    part_rows: int | None = None,
) -> list[LogRange]:
    """Cut the window ``since <= created_at < until`` (all periods) into at most ``parts``
    time ranges of about equal row counts (or ranges of about ``part_rows`` rows), oldest
    first; ``[]`` for an empty window.

    The ranges are adjacent and half-open, so every row of the window is in exactly one.
    Rows logged at the same instant stay in one range, so a range may hold more than its
    share (there are fewer ranges when the window holds fewer distinct instants).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabloop.store import Store
    >>> store = Store(Store.default_url(pathlib.Path(tempfile.mkdtemp())))
    >>> store.open()
    >>> split_log(store, part_rows=100_000)
    []
    >>> store.close()
    """
    for name, value in (("parts", parts), ("part_rows", part_rows)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    if (parts is None) == (part_rows is None):
        raise ValueError("give either parts or part_rows.")
    start, end = parse_bound(since, name="since"), parse_bound(until, name="until")
    check_window(start, end)
    with opened(store, "read the window of") as conn:
        total = count(conn, window(start, end, variant))
        if total == 0:
            return []
        step = math.ceil(total / parts) if parts is not None else int(part_rows or total)
        parts = math.ceil(total / step)
        first = sa.select(sa.func.min(predictions.c.created_at)).where(window(start, end, variant))
        floor: datetime | None = as_utc(conn.execute(first).scalar_one())
        bounds: list[datetime | None] = [start]
        while floor is not None and len(bounds) < parts:
            floor = _boundary(conn, floor, end, variant, step)
            if floor is not None:
                bounds.append(floor)
        bounds.append(end)
        ranges = [LogRange(lo, hi, variant) for lo, hi in zip(bounds, bounds[1:], strict=False)]
        return [LogRange(r.since, r.until, variant, count(conn, r.where())) for r in ranges]


def _boundary(
    conn: sa.Connection, since: datetime, until: datetime | None, variant: str | None, step: int
) -> datetime | None:
    """The start of the range after the one starting at ``since`` (the time of a row): the
    time of the row ``step`` rows later, or the next later instant when that row shares
    ``since``; None when the window ends first."""
    column = predictions.c.created_at
    at: Any = conn.execute(
        sa.select(column)
        .where(window(since, until, variant))
        .order_by(column)
        .offset(step)
        .limit(1)
    ).scalar()
    if at is not None and as_utc(at) <= since:
        at = conn.execute(
            sa.select(sa.func.min(column)).where(window(since, until, variant), column > since)
        ).scalar()
    return None if at is None else as_utc(at)
