"""The A/B report of a clustering service: how each variant spreads rows over its segments.

A clustering model has no outcome to score, so :func:`~tabloop.evaluate.ab_report` has
nothing to compare; what a team can read is how many predictions each variant served and
the share of each segment among them. Segment numbers are each model's own (segment 0 of
one model is not segment 0 of another), so shares are shown side by side, never tested
against each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tabloop.data.frame import python_value, require_columns
from tabloop.evaluate._ab_stats import check_log, pick_control, sorted_labels


@dataclass(frozen=True)
class SegmentShares:
    """The result of :func:`segment_shares`; ``to_dict()`` is what renderers receive.

    Attributes
    ----------
    task : str
        ``"clustering"``.
    control : str or None
        The control variant (listed first).
    segments : list
        Every segment label seen, in order.
    variants : list of dict
        ``{"name", "predictions", "segments": [{"segment", "count", "share"}]}`` per
        variant, one entry per label of ``segments`` (count 0 where it served none).
    verdict : str
        One sentence for renderers.
    """

    task: str
    control: str | None
    segments: list[Any]
    variants: list[dict[str, Any]]
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable plain data."""
        return dataclasses.asdict(self)


def segment_shares(
    log: pd.DataFrame, *, control: str | None = None, variants: Sequence[str] | None = None
) -> SegmentShares:
    """Per variant, the predictions served and the share of each segment among them.

    Parameters
    ----------
    log : pandas.DataFrame
        One row per logged prediction with columns ``variant`` and ``prediction`` (the
        segment label).
    control : str, optional
        The variant listed first; default ``"A"`` if present, else the first in sorted order.
        A name that is neither in the log nor in ``variants`` is a ValueError.
    variants : list of str, optional
        Variants to list even without rows (e.g. the configured ones).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"variant": ["A", "A", "A", "B"], "prediction": [0, 1, 1, 0]})
    >>> shares = segment_shares(log)
    >>> [(s["segment"], s["share"]) for s in shares.variants[0]["segments"]]
    [(0, 0.3333333333333333), (1, 0.6666666666666666)]
    """
    check_log(log)
    if len(log):
        require_columns(log, ["variant", "prediction"], role="log column")
    names = log["variant"].astype(str) if len(log) else pd.Series([], dtype=str)
    labels = log["prediction"] if len(log) else pd.Series([], dtype=object)
    present = labels.notna()
    found = sorted(set(names) | {str(v) for v in variants or ()})
    control = pick_control(control, found)
    order = [control, *(n for n in found if n != control)] if control is not None else found
    segments = sorted_labels(pd.unique(labels[present]))
    out = []
    for name in order:
        mine = labels[(names == name) & present].map(python_value)
        counts = mine.value_counts()
        total = int(len(mine))
        out.append(
            {
                "name": name,
                "predictions": int((names == name).sum()),
                "segments": [
                    {
                        "segment": s,
                        "count": int(counts.get(s, 0)),
                        "share": int(counts.get(s, 0)) / total if total else None,
                    }
                    for s in segments
                ],
            }
        )
    return SegmentShares(
        task="clustering",
        control=control,
        segments=segments,
        variants=out,
        verdict=_verdict(out),
    )


def _verdict(variants: list[dict[str, Any]]) -> str:
    served = [v for v in variants if v["predictions"]]
    if not served:
        return "no predictions yet"
    parts = []
    for v in served:
        used = [s for s in v["segments"] if s["count"]]
        top = max(used, key=lambda s: s["count"])
        parts.append(
            f"{v['name']} {len(used)} segment{'s' * (len(used) != 1)} "
            f"(largest: segment {top['segment']}, {top['share']:.1%} of {v['predictions']:,})"
        )
    return (
        "segment shares per variant: "
        + "; ".join(parts)
        + " (a clustering service has no outcomes, so no variant is called better)"
    )
