"""Storing uploaded outcomes: idempotent, all-or-nothing on conflicts, unknown ids reported.

Runs inside the caller's write transaction. Rules, per id sent:

* no prediction matches → ``unknown`` (never silently dropped);
* no outcome yet → stored; the same value again → ``unchanged`` (not stored twice);
* a different value → a conflict, or ``updated`` when ``overwrite=True``;
* the same id twice in one upload with different values → a conflict, overwrite or not
  (which one the client meant is ambiguous).

Any conflict refuses the whole upload. An upload that stores something gets one row in
``tabloop_outcome_batches``; an updated outcome moves to the new batch (the batch says
which upload last set the value) and keeps its first ``received_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from tabloop.store._records import OutcomeResult
from tabloop.store._tables import outcome_batches, outcomes, predictions

CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit


def chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """``values`` in slices of ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``1 == 1.0``, but ``True != 1`` and ``"1" != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def record(
    connection: sa.Connection,
    items: Iterable[tuple[str, Any]],
    *,
    by: Literal["prediction_id", "entity_id"],
    overwrite: bool,
    period: int,
) -> OutcomeResult:
    """Apply the rules above to ``items`` (id, value); ``period`` is the open period."""
    sent: dict[str, Any] = {}
    conflicts: list[dict[str, Any]] = []
    conflicted: set[str] = set()
    for key, value in items:
        key = str(key)
        if key not in sent:
            sent[key] = value
        elif not same(sent[key], value) and key not in conflicted:
            conflicted.add(key)
            conflicts.append({"id": key, "stored": sent[key], "received": value})
    if not sent:
        return OutcomeResult(batch_id=None)

    targets = _targets(connection, list(sent), by=by, period=period)
    unknown = [key for key in sent if not targets.get(key)]
    existing = _existing(connection, [pid for pids in targets.values() for pid in pids])

    new: list[tuple[str, Any]] = []
    changed: list[tuple[str, Any]] = []
    unchanged = 0
    for key, pids in targets.items():
        value = sent[key]
        for pid in pids:
            if pid not in existing:
                new.append((pid, value))
            elif same(existing[pid], value):
                unchanged += 1
            elif overwrite:
                changed.append((pid, value))
            elif key not in conflicted:
                conflicted.add(key)
                conflicts.append({"id": key, "stored": existing[pid], "received": value})
    if conflicts:
        return OutcomeResult(
            batch_id=None, unchanged=unchanged, unknown=unknown, conflicts=conflicts
        )
    if not new and not changed:
        return OutcomeResult(batch_id=None, unchanged=unchanged, unknown=unknown)

    now = datetime.now(UTC)
    batch_id = connection.execute(
        outcome_batches.insert()
        .values(received_at=now, period_id=period, rows=len(new) + len(changed))
        .returning(outcome_batches.c.id)
    ).scalar_one()
    if new:
        connection.execute(
            outcomes.insert(),
            [
                {"prediction_id": pid, "value": value, "batch_id": batch_id, "received_at": now}
                for pid, value in new
            ],
        )
    if changed:
        connection.execute(
            outcomes.update()
            .where(outcomes.c.prediction_id == sa.bindparam("pid"))
            .values(
                value=sa.bindparam("new_value", type_=outcomes.c.value.type),
                batch_id=batch_id,
                updated_at=now,
            ),
            [{"pid": pid, "new_value": value} for pid, value in changed],
        )
    return OutcomeResult(
        batch_id=batch_id,
        stored=len(new),
        unchanged=unchanged,
        updated=len(changed),
        unknown=unknown,
    )


def _targets(
    connection: sa.Connection, keys: list[str], *, by: str, period: int
) -> dict[str, list[str]]:
    """Each key's prediction ids: itself if logged, or the entity's predictions in ``period``."""
    found: dict[str, list[str]] = {key: [] for key in keys}
    for part in chunks(keys):
        if by == "prediction_id":
            query = sa.select(predictions.c.prediction_id, predictions.c.prediction_id).where(
                predictions.c.prediction_id.in_(part)
            )
        else:
            query = (
                sa.select(predictions.c.entity_id, predictions.c.prediction_id)
                .where(predictions.c.entity_id.in_(part), predictions.c.period_id == period)
                .order_by(predictions.c.created_at, predictions.c.prediction_id)
            )
        for key, pid in connection.execute(query):
            found[key].append(pid)
    return found


def _existing(connection: sa.Connection, pids: list[str]) -> dict[str, Any]:
    """The stored outcome value of each of ``pids`` that has one."""
    stored: dict[str, Any] = {}
    for part in chunks(pids):
        query = sa.select(outcomes.c.prediction_id, outcomes.c.value).where(
            outcomes.c.prediction_id.in_(part)
        )
        stored.update({pid: value for pid, value in connection.execute(query)})
    return stored
