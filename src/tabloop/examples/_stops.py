"""Situation 3: traffic stops, searches and contraband (fairness, population shift)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabloop.examples._common import check_size, sigmoid

DEPARTMENTS = ("north", "south", "east", "west", "central", "harbor")
REASONS = {  # reason for the stop: share in the population and suspicion it adds
    "speeding": (0.38, -0.6),
    "moving_violation": (0.2, -0.2),
    "equipment": (0.14, -0.3),
    "registration": (0.12, 0.0),
    "investigative": (0.09, 0.9),
    "suspicious_activity": (0.07, 1.4),
}
RACES = {"white": 0.55, "black": 0.25, "asian": 0.08, "other": 0.12}
AGE_GROUPS = {"16-24": 0.22, "25-34": 0.3, "35-49": 0.28, "50+": 0.2}

#: Calibrated once (bisection on 400k stops) for a 0.33 hit rate among searched training stops.
FIND_INTERCEPT = -2.31

#: How stops, searches and finds are made.
TRAFFIC_STOPS_TRUTH = {
    "suspicion": "observed = reason effect + 0.35 * prior_citations + 0.4 * night (hour 22-4); "
    "suspicion = observed + hidden, hidden ~ N(0, 0.8) perceived only by the officer",
    "contraband": "logit P(contraband) = FIND_INTERCEPT + 1.8 * observed + 0.4 * hidden "
    "+ 0.08 * (vehicle_age - 8): it depends on the stop and the vehicle only; "
    "race, ethnicity and sex have no effect on it (hit rate about 0.33 in training, higher in "
    "production because suspicious stops are over-represented)",
    "search_decision": "officers search with P rising in suspicion; in departments 'east' and "
    "'harbor' they also search black and hispanic drivers more (logit +0.9): a human baseline "
    "that is unfair by design, so precision differs by race there",
    "search_authorization": "'N' when not searched (so it predicts `searched` perfectly: a pure "
    "segment / leakage example); C consent, P probable cause, I incident to arrest, W warrant",
    "production": "production=True draws stops with weight rising in suspicion, so suspicious "
    "reasons, night stops and prior citations are over-represented, and dates are later",
    "biased_departments": ("east", "harbor"),
}


def traffic_stops(n: int = 20_000, *, seed: int = 0, production: bool = False) -> pd.DataFrame:
    """Police traffic stops with the officer's search decision and whether contraband was found.

    Columns: ``stop_id``, ``date``, ``department``, ``hour``, ``reason_for_stop``, ``race``,
    ``ethnicity``, ``sex``, ``age_group``, ``prior_citations``, ``vehicle_age``,
    ``search_authorization`` (N when not searched), ``searched`` (bool) and ``contraband``
    (nullable bool: missing when there was no search).

    ``production=True`` gives the population a deployed model would see: stops drawn with a
    weight rising in suspicion (only the suspicious ones reach it), dated a year later.
    Ground truth: :data:`TRAFFIC_STOPS_TRUTH`.

    Examples
    --------
    >>> from tabloop.examples import traffic_stops
    >>> df = traffic_stops(2_000)
    >>> df["contraband"].isna().equals(~df["searched"])
    True
    """
    check_size("n", n, 100)
    rng = np.random.default_rng(seed + (7919 if production else 0))
    pool = 3 * n if production else n
    reason = rng.choice(list(REASONS), size=pool, p=[v[0] for v in REASONS.values()])
    hour = rng.choice(24, size=pool, p=_hour_shares())
    night = (hour >= 22) | (hour <= 4)
    priors = rng.poisson(0.6, pool)
    # What the record shows, and what only the officer on the spot perceives.
    observed = np.vectorize(lambda r: REASONS[r][1])(reason) + 0.35 * priors + 0.4 * night
    hidden = rng.normal(0, 0.8, pool)
    suspicion = observed + hidden
    if production:
        # sorted: weighted sampling picks the likeliest first, which would make suspicion
        # fall with the date instead of being shifted evenly over the whole period
        keep = np.sort(rng.choice(pool, size=n, replace=False, p=_weights(suspicion)))
        reason, hour, priors = reason[keep], hour[keep], priors[keep]
        observed, hidden, suspicion = observed[keep], hidden[keep], suspicion[keep]

    department = rng.choice(DEPARTMENTS, size=n)
    race = rng.choice(list(RACES), size=n, p=list(RACES.values()))
    ethnicity = np.where(
        rng.random(n) < np.where(race == "white", 0.25, 0.08), "hispanic", "non_hispanic"
    )
    sex = rng.choice(["male", "female"], size=n, p=[0.68, 0.32])
    age_group = rng.choice(list(AGE_GROUPS), size=n, p=list(AGE_GROUPS.values()))
    vehicle_age = np.clip(rng.gamma(2.5, 3.2, n), 0, 35).round(1)

    biased = np.isin(department, TRAFFIC_STOPS_TRUTH["biased_departments"]) & (
        (race == "black") | (ethnicity == "hispanic")
    )
    # Fixed intercepts: officers and contraband behave the same in both populations; only
    # who gets stopped changes. They give 15% searched and a 0.33 hit rate in training.
    searched = rng.random(n) < sigmoid(-2.56 + 1.3 * suspicion + 0.9 * biased)
    found = rng.random(n) < sigmoid(
        FIND_INTERCEPT + 1.8 * observed + 0.4 * hidden + 0.08 * (vehicle_age - 8)
    )
    contraband = pd.array(np.where(searched, found, False), dtype="boolean")
    contraband[~searched] = pd.NA

    strength = np.digitize(suspicion, [0.5, 1.5, 2.5])  # how strong the grounds were
    authorization = np.array(["C", "P", "I", "W"])[np.clip(strength + rng.integers(-1, 2, n), 0, 3)]
    start = pd.Timestamp("2025-01-01" if production else "2023-01-01")
    days = 180 if production else 730
    date = start + pd.to_timedelta(np.sort(rng.integers(0, days, n)), unit="D")

    return pd.DataFrame(
        {
            "stop_id": np.arange(1, n + 1) + (10_000_000 if production else 0),
            "date": date,
            "department": department,
            "hour": hour,
            "reason_for_stop": reason,
            "race": race,
            "ethnicity": ethnicity,
            "sex": sex,
            "age_group": age_group,
            "prior_citations": priors,
            "vehicle_age": vehicle_age,
            "search_authorization": np.where(searched, authorization, "N"),
            "searched": searched,
            "contraband": contraband,
        }
    )


def _hour_shares() -> np.ndarray:
    hours = np.arange(24)
    shares = 1 + 0.8 * np.sin((hours - 9) / 24 * 2 * np.pi)
    return shares / shares.sum()


def _weights(suspicion: np.ndarray) -> np.ndarray:
    w = sigmoid(2.0 * (suspicion - np.median(suspicion)))
    return w / w.sum()
