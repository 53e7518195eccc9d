"""Shared helpers for the scenario generators."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def intercept_for_rate(logit: np.ndarray, rate: float) -> float:
    """The intercept b such that mean(sigmoid(logit + b)) == rate (bisection; logit is fixed)."""
    low, high = -30.0, 30.0
    for _ in range(80):
        mid = (low + high) / 2
        if sigmoid(logit + mid).mean() < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def blank_out(
    rng: np.random.Generator, n: int, share: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """A mask with exactly round(share * n) True entries, drawn with optional weights (MAR)."""
    k = int(round(share * n))
    p = None if weights is None else weights / weights.sum()
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False, p=p)] = True
    return mask


def check_size(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
