"""The A/B report over HTTP: which period a request names, and the report of that period.

``/report`` (``_app``) and ``/dashboard`` (``_dashboard``) both read these, so neither imports
the other. The statistics themselves are :func:`tabloop.evaluate.ab_report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tabloop.evaluate import ab_report
from tabloop.serve._errors import ApiError

if TYPE_CHECKING:
    from tabloop.serve._state import ServeState

Period = int | Literal["all"] | None
MAX_INT = 2**62  # database integers are 64-bit: a larger offset or period is a 422, not a 500


def parse_period(value: str | None) -> Period:
    """The ``period`` query parameter: None (current), ``"all"`` or a period number."""
    if value is None or value == "current":
        return None
    if value == "all":
        return "all"
    if value.isascii() and value.isdigit() and int(value) <= MAX_INT:  # not '¹' or '٣'
        return int(value)
    raise ApiError(
        422, "invalid_request", f"period must be a number, 'current' or 'all'; got {value!r}."
    )


def ab_report_of(state: ServeState, period: Period) -> dict[str, Any]:
    """The A/B report of ``period`` (default: the current one) as plain data."""
    state.writer.flush()
    model = state.first.model
    log = state.store.predictions(period=period)
    report = ab_report(
        log,
        task=model.task,
        classes=list(model.classes) if model.classes else None,
        metric=state.config.serve.metric,
        control=next(iter(state.variants)),
        variants=list(state.variants),  # a variant that has served nothing yet is listed
    )
    out = report.to_dict()
    out["period"] = state.store.current_period() if period is None else period
    return out


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
