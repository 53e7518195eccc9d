"""Situation 1: the outcome of an online treatment course (binary, imbalanced, missing values)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabloop.examples._common import blank_out, check_size, intercept_for_rate, sigmoid

COURSES = ("sleep", "stress", "depression", "burnout", "chronic_pain")
COURSE_SHARES = (0.30, 0.25, 0.20, 0.15, 0.10)

#: Share of missing values per column (exact counts: round(share * n)).
TREATMENT_MISSING = {
    "pre_existing_medical_condition": 0.051,
    "alcohol_scale": 0.085,
    "diary_mood_avg": 0.072,
    "diary_sleep_avg": 0.0323,
    "diary_stress_avg": 0.367,
}

#: The true model: logit P(unsuccessful) = intercept (solved for a 23% rate) + these terms.
TREATMENT_TRUTH = {
    "positive_rate": 0.23,
    "engagement": -1.2,  # per SD of the latent engagement behind sign-ins/minutes/progress
    "pre_existing_medical_condition=yes": 0.6,
    "alcohol_scale": 0.15,  # per point above 3
    "diary_mood_avg": -0.35,  # per point above 6
    "diary_stress_avg": 0.2,  # per point above 5
    "age": 0.01,  # per year above 40
    "course": {"sleep": 0.0, "stress": 0.1, "depression": 0.4, "burnout": 0.3, "chronic_pain": 0.6},
    "missingness": "condition, alcohol, sleep missing completely at random; mood and stress "
    "diaries missing more often for less engaged patients (so their missingness is related "
    "to the outcome)",
}


def treatment_outcomes(n: int = 10_000, *, seed: int = 0) -> pd.DataFrame:
    """Patients of an online treatment course and whether the treatment failed.

    Thirteen columns: ``patient_id``, ``sign_ins``, ``engagement_min``, ``to_assessment``
    (progress to the final assessment, %), ``course`` (sleep/stress/depression/burnout/
    chronic_pain), ``gender``, ``age``, ``pre_existing_medical_condition`` (yes/no),
    ``alcohol_scale`` (0-12), ``diary_mood_avg``, ``diary_sleep_avg`` (hours),
    ``diary_stress_avg`` and the target ``unsuccessful_outcome`` (1 = failed, about 23%).

    Ground truth (:data:`TREATMENT_TRUTH`): sign-ins, minutes and progress are noisy views
    of one latent engagement (pairwise correlations about 0.75-0.9), which lowers the risk;
    a pre-existing condition, alcohol, low mood, high stress, age and the course raise it.
    Missing values are at exactly 5.1 / 8.5 / 7.2 / 3.23 / 36.7 % in the condition /
    alcohol / mood / sleep / stress columns; mood and stress are missing more often for
    less engaged patients.

    Examples
    --------
    >>> from tabloop.examples import treatment_outcomes
    >>> df = treatment_outcomes(n=1_000)
    >>> df.shape
    (1000, 13)
    """
    check_size("n", n, 100)
    rng = np.random.default_rng(seed)
    engagement = rng.normal(size=n)
    sign_ins = rng.poisson(np.exp(2.3 + 0.55 * engagement)) + 1
    engagement_min = np.round(sign_ins * rng.gamma(9.0, 2.2, size=n), 1)
    to_assessment = np.round(100 * sigmoid(0.4 + 1.3 * engagement + rng.normal(0, 0.45, n)), 1)

    course = rng.choice(COURSES, size=n, p=COURSE_SHARES)
    gender = rng.choice(["female", "male", "non_binary"], size=n, p=[0.58, 0.39, 0.03])
    age = np.clip(np.round(rng.normal(40, 12, n)), 18, 85).astype(int)
    condition = rng.random(n) < sigmoid(-1.4 + 0.04 * (age - 40))
    alcohol = np.clip(rng.poisson(3, n), 0, 12)
    mood = np.clip(rng.normal(6 + 0.4 * engagement, 1.5), 1, 10).round(2)
    sleep = np.clip(rng.normal(6.8, 1.0, n), 3, 10).round(2)
    stress = np.clip(rng.normal(5 - 0.3 * engagement, 1.8), 1, 10).round(2)

    truth = TREATMENT_TRUTH
    course_effect = np.vectorize(truth["course"].get)(course)
    logit = (
        truth["engagement"] * engagement
        + truth["pre_existing_medical_condition=yes"] * condition
        + truth["alcohol_scale"] * (alcohol - 3)
        + truth["diary_mood_avg"] * (mood - 6)
        + truth["diary_stress_avg"] * (stress - 5)
        + truth["age"] * (age - 40)
        + course_effect
    )
    logit += intercept_for_rate(logit, truth["positive_rate"])
    outcome = (rng.random(n) < sigmoid(logit)).astype(int)

    df = pd.DataFrame(
        {
            "patient_id": np.arange(100_001, 100_001 + n),
            "sign_ins": sign_ins,
            "engagement_min": engagement_min,
            "to_assessment": to_assessment,
            "course": course,
            "gender": gender,
            "age": age,
            "pre_existing_medical_condition": np.where(condition, "yes", "no").astype(object),
            "alcohol_scale": alcohol.astype(float),
            "diary_mood_avg": mood,
            "diary_sleep_avg": sleep,
            "diary_stress_avg": stress,
            "unsuccessful_outcome": outcome,
        }
    )
    disengaged = np.exp(-0.8 * engagement)  # less engaged patients skip their diaries
    weights = {"diary_mood_avg": disengaged, "diary_stress_avg": disengaged}
    for column, share in TREATMENT_MISSING.items():
        mask = blank_out(rng, n, share, weights.get(column))
        df.loc[mask, column] = np.nan
    return df
