"""The A/B report over HTTP: which period a request names, and the report of that period.

``/report`` (``_app``) and ``/dashboard`` (``_dashboard``) both read these, so neither imports
the other. The statistics themselves are :func:`tabloop.evaluate.ab_report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tabloop.evaluate import ab_report, segment_shares
from tabloop.exceptions import DataError, StoreError
from tabloop.serve._errors import ApiError
from tabloop.store import MAX_PERIOD, Period
from tabloop.store import check_period as store_check_period
from tabloop.store import parse_period as store_parse_period

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.serve._state import ServeState

#: The largest offset a query may ask for (database integers are 64-bit: a 422, not a 500).
MAX_INT = MAX_PERIOD


def parse_period(value: str | None) -> Period:
    """The ``period`` query parameter (:func:`tabloop.store.parse_period`); a 422 if bad."""
    try:
        return store_parse_period(value)
    except DataError as exc:
        raise ApiError(422, "invalid_request", str(exc), field="period") from None


def check_period(state: ServeState, period: Period) -> None:
    """A 404 naming ``period`` and the periods that exist, when it is not one of them
    (:func:`tabloop.store.check_period`)."""
    periods = state.store.periods()  # a log that cannot be read stays a 503
    try:
        store_check_period(period, periods)
    except StoreError as exc:
        raise ApiError(404, "unknown_period", str(exc), field="period") from None


def ab_report_of(state: ServeState, period: Period) -> dict[str, Any]:
    """The A/B report of ``period`` (default: the current one) as plain data.

    With ``serve.sticky_by`` the report resamples by that column's entities (a customer
    predicted twice is one customer); a clustering service gets the segment shares per
    variant instead.
    """
    check_period(state, period)
    state.writer.flush()
    model = state.first.model
    log = state.store.predictions(period=period)
    control, names = next(iter(state.variants)), list(state.variants)
    if model.task == "clustering":
        out = segment_shares(log, control=control, variants=names).to_dict()
    else:
        cluster_by = _entity_column(state, log)
        report = ab_report(
            log,
            task=model.task,
            classes=list(model.classes) if model.classes else None,
            metric=state.config.serve.metric,
            control=control,
            variants=names,  # a variant that has served nothing yet is listed
            cluster_by=cluster_by,
        )
        out = report.to_dict()
    out["period"] = state.store.current_period() if period is None else period
    return out


def _entity_column(state: ServeState, log: pd.DataFrame) -> str | None:
    """Add the ``serve.sticky_by`` value of each row to ``log``, under that name; None
    without ``sticky_by``. The value is the logged entity id when sticky_by is
    ``data.id``, else the logged input or context field of that name (a row lacking it
    is an entity of its own)."""
    import pandas as pd

    sticky = state.config.serve.sticky_by
    if not sticky:
        return None
    if sticky == state.config.data.id:
        keys = log["entity_id"]
    else:
        keys = pd.Series(
            [_field(sticky, c, i) for c, i in zip(log["context"], log["inputs"], strict=True)],
            index=log.index,
            dtype=object,
        )
    name = sticky if sticky not in log.columns else f"{sticky} (sticky_by)"
    log[name] = keys
    return name


def _field(name: str, *rows: Any) -> str | None:
    for row in rows:
        if isinstance(row, dict) and row.get(name) is not None:
            return str(row[name])
    return None


def variants_info(state: ServeState) -> list[dict[str, Any]]:
    """Each variant's name, model URI and version, and traffic share."""
    return [
        {
            "name": name,
            "uri": v.uri,
            "model_version": v.version,
            "resolved": v.resolved,
            "share": state.router.shares.get(name, 0.0),
        }
        for name, v in state.variants.items()
    ]
