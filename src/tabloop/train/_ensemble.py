"""Greedy ensemble selection on out-of-fold predictions (Caruana et al., 2004).

Why by hand: scikit-learn's ``VotingClassifier`` takes fixed weights and ``Stacking*``
fits a meta-model (more variance on small data); the greedy forward selection with
replacement is a dozen lines over predictions we already hold, and is what lifts a few
default models above a tuned single one on small tables.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tabloop.train._cv import CVResult, covered, score


def greedy_ensemble(
    results: list[CVResult], y: np.ndarray, *, task: str, metric: str, rounds: int = 25
) -> dict[str, float]:
    """Weights per model name (summing to 1) that maximise ``metric`` on OOF predictions.

    Starts from the best single model and adds, with replacement, whichever model most
    improves the averaged prediction; the best round wins, so weights never do worse
    than the best single model on the out-of-fold rows.
    """
    rows = np.all([covered(r.oof) for r in results], axis=0)
    preds = {r.name: r.oof[rows] for r in results}
    target = y[rows]
    best = max(results, key=lambda r: score(task, metric, target, preds[r.name])).name
    chosen = [best]
    total = preds[best].copy()
    best_score, best_chosen = score(task, metric, target, total), list(chosen)
    for _ in range(rounds - 1):
        trial = {
            name: score(task, metric, target, (total + p) / (len(chosen) + 1))
            for name, p in preds.items()
        }
        name = max(trial, key=lambda k: trial[k])
        chosen.append(name)
        total += preds[name]
        if trial[name] > best_score + 1e-12:
            best_score, best_chosen = trial[name], list(chosen)
    counts = Counter(best_chosen)
    return {name: counts[name] / len(best_chosen) for name in counts}


def blend(results: dict[str, CVResult], weights: dict[str, float]) -> np.ndarray:
    """The weighted average of the chosen models' out-of-fold predictions."""
    return sum(w * results[name].oof for name, w in weights.items())  # type: ignore[return-value]
