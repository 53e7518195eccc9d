"""Situation 2: next month's spend per customer (regression; two competing model families)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabloop.examples._common import check_size

CITIES = {
    "Berlin": 1.15,
    "Hamburg": 1.05,
    "Munich": 1.25,
    "Cologne": 0.95,
    "Leipzig": 0.85,
    "Dresden": 0.9,
}

#: How next month's spend is made.
CUSTOMER_SPEND_TRUTH = {
    "trend": "each customer's spend follows level + slope * month (+ noise); extrapolating it "
    "one month ahead is the 'per-customer linear trend' model",
    "intent": "a latent purchase intent, seen only through recent sessions, events and products "
    "bought, adds intent_effect * level to next month's spend: the session-feature model's signal",
    "intent_effect": 0.3,
    "discount_effect": 0.5,  # spend multiplier per unit of average discount (0-0.4)
    "noise_sd": 0.08,  # relative noise on each month's spend
}


def customer_spend(n_customers: int = 2_000, *, months: int = 12, seed: int = 0) -> pd.DataFrame:
    """Customers with their monthly spend history, recent session aggregates and next month's spend.

    Columns: ``customer_id``, ``city``, ``spend_m01`` ... ``spend_mNN`` (oldest to newest),
    ``sessions``, ``events``, ``products_bought``, ``avg_discount`` (aggregates over the last
    three months) and the target ``next_month_spend``.

    Ground truth (:data:`CUSTOMER_SPEND_TRUTH`): spend = level × city factor + slope × month
    + noise, so a per-customer linear trend predicts most of it; a latent purchase intent,
    visible only in the session aggregates, moves next month's spend by up to ±30% of the
    level, so a session-feature model finds signal the trend cannot.

    Examples
    --------
    >>> from tabloop.examples import customer_spend
    >>> customer_spend(100, months=6).columns[:4].tolist()
    ['customer_id', 'city', 'spend_m01', 'spend_m02']
    """
    check_size("n_customers", n_customers, 10)
    check_size("months", months, 3)
    truth = CUSTOMER_SPEND_TRUTH
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITIES), size=n_customers)
    level = rng.lognormal(np.log(120), 0.5, n_customers) * np.vectorize(CITIES.get)(city)
    slope = rng.normal(0, 0.03, n_customers) * level
    t = np.arange(1, months + 1)
    noise = rng.normal(0, truth["noise_sd"], (n_customers, months))
    history = np.clip((level[:, None] + slope[:, None] * t) * (1 + noise), 0, None).round(2)

    intent = rng.normal(size=n_customers)
    sessions = rng.poisson(np.exp(2.0 + 0.45 * intent + 0.2 * np.log(level / 120)))
    events = rng.poisson(sessions * 7.5) + sessions
    products = rng.binomial(sessions, np.clip(0.12 + 0.05 * intent, 0.01, 0.9))
    discount = np.clip(rng.beta(2, 8, n_customers) + 0.03 * intent, 0, 0.4).round(3)
    next_level = level + slope * (months + 1)
    next_spend = next_level * (
        1 + truth["intent_effect"] * np.tanh(intent) + truth["discount_effect"] * (discount - 0.2)
    )
    next_spend = np.clip(next_spend * (1 + rng.normal(0, truth["noise_sd"], n_customers)), 0, None)

    df = pd.DataFrame({"customer_id": np.arange(1, n_customers + 1), "city": city})
    for m in range(months):
        df[f"spend_m{m + 1:02d}"] = history[:, m]
    df["sessions"] = sessions
    df["events"] = events
    df["products_bought"] = products
    df["avg_discount"] = discount
    df["next_month_spend"] = next_spend.round(2)
    return df
