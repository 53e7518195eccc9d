"""Situation 5: a customer event log in long format, for forecasting next month's spend."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabloop.examples._common import check_size

SEGMENTS = {"basic": 0.8, "plus": 1.0, "premium": 1.4}

#: How each month's spend is made.
CUSTOMER_EVENTS_TRUTH = {
    "level": "each customer has a lasting spend level (lognormal around 150, times the segment "
    "factor): what only the customer's own past reveals",
    "persistence": 0.8,  # AR(1) coefficient of the monthly deviation from the level
    "shock_sd": 0.08,  # relative size of a month's new deviation
    "december": 1.3,  # spend multiplier in December (a calendar part of the month)
    "promo_effect": 0.2,  # spend multiplier - 1 in a month with a promotion (known ahead)
    "noise_sd": 0.03,  # relative noise on each month's spend
}


def customer_events(n_customers: int = 500, *, months: int = 24, seed: int = 0) -> pd.DataFrame:
    """One row per customer and month: the monthly event log of a subscription shop.

    Columns: ``customer_id``, ``month`` (ISO date of the month's first day, as text),
    ``segment`` (basic/plus/premium), ``promo`` (1 when a promotion was planned for the
    customer that month, known ahead) and the target ``spend``. Rows are sorted by customer,
    then month.

    Ground truth (:data:`CUSTOMER_EVENTS_TRUTH`): spend = level × segment factor ×
    (1 + deviation) × December factor × promotion factor × (1 + noise), where the
    deviation follows an AR(1) process. The level varies widely between customers and is
    seen only in a customer's own past spend, so per-customer lags and rolling means predict
    most of next month's spend, and a model without them cannot.

    Examples
    --------
    >>> from tabloop.examples import customer_events
    >>> log = customer_events(20, months=6)
    >>> log.shape, log.columns.tolist()
    ((120, 5), ['customer_id', 'month', 'segment', 'promo', 'spend'])
    """
    check_size("n_customers", n_customers, 2)
    check_size("months", months, 2)
    truth = CUSTOMER_EVENTS_TRUTH
    rng = np.random.default_rng(seed)
    segment = rng.choice(list(SEGMENTS), size=n_customers, p=[0.5, 0.35, 0.15])
    level = rng.lognormal(np.log(150), 0.7, n_customers) * np.vectorize(SEGMENTS.get)(segment)
    deviation = np.empty((n_customers, months))
    deviation[:, 0] = rng.normal(0, truth["shock_sd"] / 0.6, n_customers)
    for m in range(1, months):
        shock = rng.normal(0, truth["shock_sd"], n_customers)
        deviation[:, m] = truth["persistence"] * deviation[:, m - 1] + shock
    start = pd.Timestamp("2024-01-01")
    dates = pd.date_range(start, periods=months, freq="MS")
    december = np.where(dates.month == 12, truth["december"], 1.0)
    promo = (rng.random((n_customers, months)) < 0.15).astype(int)
    noise = rng.normal(0, truth["noise_sd"], (n_customers, months))
    spend = (
        level[:, None]
        * np.clip(1 + deviation, 0.05, None)
        * december[None, :]
        * (1 + truth["promo_effect"] * promo)
        * (1 + noise)
    )
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(1, n_customers + 1), months),
            "month": np.tile(dates.strftime("%Y-%m-%d"), n_customers),
            "segment": np.repeat(segment, months),
            "promo": promo.ravel(),
            "spend": np.clip(spend, 0, None).round(2).ravel(),
        }
    )
