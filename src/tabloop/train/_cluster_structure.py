"""How strong the structure a segmentation found is, read from its silhouettes.

:func:`cluster_structure` follows Kaufman and Rousseeuw's reading of the average
silhouette (*Finding Groups in Data*, 1990): at most 0.25, no substantial structure; up
to 0.50, weak (possibly artificial); up to 0.70, reasonable; above, strong. And when the
silhouette moves by less than :data:`FLAT_SPREAD` over three or more k, no number of
segments is better supported than another: the segments then cut a continuum rather than
find groups, whatever k was chosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Silhouette bounds of Kaufman and Rousseeuw: (upper bound, strength), checked in order.
STRENGTHS = ((0.25, "none"), (0.50, "weak"), (0.70, "reasonable"), (1.0, "strong"))
#: Silhouettes over three or more k within this spread are flat: k is not determined.
FLAT_SPREAD = 0.02


def cluster_structure(silhouette_by_k: dict[int, float], silhouette: float) -> dict[str, Any]:
    """How much cluster structure the silhouettes show, as plain data.

    ``strength`` is ``none``/``weak``/``reasonable``/``strong`` by the bounds of
    :data:`STRENGTHS` on ``silhouette``; ``flat`` is True when three or more k were tried
    and their silhouettes lie within :data:`FLAT_SPREAD`; ``warn`` is True for ``none``,
    ``weak`` (Kaufman and Rousseeuw: "could be artificial"; one Gaussian cloud in two
    dimensions scores about 0.34) or ``flat``; ``message`` says it in one sentence of
    clauses joined by ``"; "`` (the terminal prints one clause a line).

    Examples
    --------
    >>> found = cluster_structure({2: 0.177, 3: 0.183, 4: 0.18}, 0.183)
    >>> found["strength"], found["flat"], found["warn"]
    ('none', True, True)
    """
    scored = {int(k): float(v) for k, v in silhouette_by_k.items() if np.isfinite(v)}
    if not np.isfinite(silhouette):
        return {
            "strength": None,
            "flat": False,
            "warn": True,
            "message": "no silhouette could be computed (fewer than two occupied segments)",
        }
    strength = next(name for bound, name in STRENGTHS if silhouette <= bound)
    low, high = (min(scored.values()), max(scored.values())) if scored else (0.0, 0.0)
    flat = len(scored) >= 3 and high - low < FLAT_SPREAD
    span = f"{low:.3f}–{high:.3f} for k = {min(scored)}..{max(scored)}" if scored else ""
    readings = {
        "none": f"no substantial structure (silhouette {silhouette:.3f} <= 0.25)",
        "weak": f"weak structure, possibly artificial (silhouette {silhouette:.3f} <= 0.50)",
        "reasonable": f"reasonable structure (silhouette {silhouette:.3f})",
        "strong": f"strong structure (silhouette {silhouette:.3f})",
    }
    clauses = [readings[strength]]
    if flat:
        clauses += [
            f"flat across k ({span}): no k fits better than another",
            "the segments cut a continuum rather than find groups",
        ]
    return {
        "strength": strength,
        "flat": bool(flat),
        "warn": strength in ("none", "weak") or bool(flat),
        "message": "; ".join(clauses),
    }
