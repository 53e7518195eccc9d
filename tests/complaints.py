"""A churn table whose free-text ``complaint`` carries signal the other columns lack.

Each customer has a hidden issue; the complaint is a shuffled bag of filler words plus
words typical of that issue (every text differs). Churn depends on tenure and on the
issue, so a model that reads the complaint's words can beat one that cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: issue -> (words typical of it, effect on the log-odds of churn)
ISSUES = {
    "billing": (["overcharged", "refund", "invoice", "charged", "twice"], 1.8),
    "outage": (["outage", "down", "offline", "connection", "dropped"], 1.4),
    "praise": (["thanks", "great", "helpful", "friendly", "quick"], -1.8),
    "question": (["question", "how", "change", "address", "plan"], -0.6),
}
FILLER = ["the", "my", "was", "and", "again", "today", "service", "account", "team", "please"]


def complaints(n: int = 1_200, *, seed: int = 0) -> pd.DataFrame:
    """Columns ``tenure`` (months), ``plan`` (basic/plus/pro), ``complaint`` (free text,
    missing for about 5% of rows) and the target ``churned`` (0/1)."""
    rng = np.random.default_rng(seed)
    names = list(ISSUES)
    issue = rng.choice(names, size=n)
    tenure = rng.integers(1, 72, size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    texts = []
    for kind in issue:
        typical = ISSUES[kind][0]
        words = [*rng.choice(typical, size=rng.integers(2, 4)), *rng.choice(FILLER, size=6)]
        rng.shuffle(words)
        texts.append(" ".join(words))
    effect = np.array([ISSUES[k][1] for k in issue])
    logit = -0.3 - 0.02 * (tenure - 36) + effect
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    complaint = pd.Series(texts, dtype=object)
    complaint[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {"tenure": tenure, "plan": plan, "complaint": complaint, "churned": churned}
    )
