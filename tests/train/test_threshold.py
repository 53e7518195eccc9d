"""choose_threshold and parse_objective, checked against brute force, sklearn and scipy."""

import json
import math
import re

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

from tabloop.config import CONSTRAINT_METRICS, config_from_dict, parse_objective
from tabloop.exceptions import ConfigError, TrainError
from tabloop.train._threshold import choose_threshold


def calibrated(n, seed, a=2.0, b=3.0):
    """Scores ~ Beta(a, b) and labels ~ Bernoulli(score): a perfectly calibrated model."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(a, b, n)
    return (rng.random(n) < scores).astype(int), scores


def hand_wilson(successes, trials, confidence, *, upper=False):
    """The Wilson score bound written out, one-sided at ``confidence``."""
    z = {0.95: 1.6448536269514722, 0.9: 1.2815515655446004}[confidence]
    p = successes / trials
    centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z / (1 + z**2 / trials) * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
    return centre + half if upper else centre - half


def brute_force(y, proba, score):
    """The threshold among the distinct values (plus 'predict nothing') with the best score;
    ties go to the higher threshold."""
    best_t, best = None, -math.inf
    for t in [*np.unique(proba), math.inf]:  # ascending, so >= keeps the higher threshold
        value = score(y, (proba >= t).astype(int))
        if value >= best:
            best_t, best = t, value
    return best_t, best


@pytest.mark.parametrize("decimals", [None, 2])  # 2 decimals: many tied probabilities
def test_f1_threshold_equals_brute_force_with_sklearn_f1(decimals):
    y, proba = calibrated(400, seed=1)
    if decimals:
        proba = proba.round(decimals)
    t, f1 = brute_force(y, proba, lambda yt, yp: f1_score(yt, yp, zero_division=0.0))
    choice = choose_threshold(y, proba, objective="f1")
    assert choice.threshold == t
    assert choice.value == pytest.approx(f1)
    assert choice.met and choice.bound is None and choice.margin is None


def test_counts_are_reproduced_by_proba_at_or_above_threshold():
    y, proba = calibrated(300, seed=2)
    choice = choose_threshold(y, proba.round(1), objective="precision >= 0.5")
    tn, fp, fn, tp = confusion_matrix(y, proba.round(1) >= choice.threshold).ravel()
    assert choice.counts == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


@pytest.mark.parametrize(
    "costs", [{"fp": 1, "fn": 5}, {"fp": 2, "fn": 3, "tp": -1, "tn": 0.5}, {"fn": 1, "fp": 0.01}]
)
def test_cost_threshold_equals_brute_force_with_the_cost_formula(costs):
    y, proba = calibrated(300, seed=3)
    c = {"tp": 0, "fp": 0, "tn": 0, "fn": 0, **costs}

    def neg_cost(yt, yp):
        tn, fp, fn, tp = confusion_matrix(yt, yp, labels=[0, 1]).ravel()
        return -(c["tp"] * tp + c["fp"] * fp + c["tn"] * tn + c["fn"] * fn) / len(yt)

    t, best = brute_force(y, proba, neg_cost)
    choice = choose_threshold(y, proba, objective="cost", costs=costs)
    assert choice.value == pytest.approx(-best)
    assert ((proba >= choice.threshold) == (proba >= t)).all()


@pytest.mark.parametrize(
    ("costs", "said"),
    [
        ({"fp": 0, "fn": 0}, "a fp must cost more than a tn (fp > tn); got fp 0 and tn 0"),
        ({"fp": -5, "fn": 1}, "got fp -5 and tn 0, so predicting every row positive"),
        ({"fp": 1, "fn": 2, "tp": 3}, "a fn must cost more than a tp (fn > tp); got fn 2 and tp 3"),
    ],
)
def test_costs_that_no_threshold_can_trade_are_refused_in_python_and_in_the_config(costs, said):
    """fp 0 / fn 0 chose 0.9954 and fp -5 chose 0.0271, silently: one trivial policy is
    always best there, so there is no threshold to choose."""
    y, proba = calibrated(100, seed=4)
    with pytest.raises(TrainError, match=re.escape(said)):
        choose_threshold(y, proba, objective="cost", costs=costs)
    raw = {"name": "p", "data": {"train": "d.csv", "target": "y"}}
    with pytest.raises(ConfigError, match=r"train: .*" + re.escape(said)):
        config_from_dict({**raw, "train": {"threshold": "cost", "costs": costs}})


def test_cost_can_choose_to_predict_no_positive():
    y, proba = np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.3, 1e-3])  # top score is wrong
    choice = choose_threshold(y, proba, objective="cost", costs={"fp": 100, "fn": 1})
    assert (proba >= choice.threshold).sum() == 0
    assert choice.value == pytest.approx(0.5)
    assert choice.counts == {"tp": 0, "fp": 0, "tn": 2, "fn": 2}


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_precision_bound_is_the_one_sided_wilson_bound(confidence):
    y, proba = calibrated(500, seed=5)
    choice = choose_threshold(y, proba, objective="precision >= 0.5", confidence=confidence)
    tp, fp = choice.counts["tp"], choice.counts["fp"]
    assert choice.bound == pytest.approx(hand_wilson(tp, tp + fp, confidence), abs=1e-12)
    # one-sided 95% lower bound = lower end of the two-sided 90% interval
    ci = binomtest(tp, tp + fp).proportion_ci(2 * confidence - 1, method="wilson")
    assert choice.bound == pytest.approx(ci.low, abs=1e-12)
    assert choice.estimate == pytest.approx(precision_score(y, proba >= choice.threshold))
    assert choice.margin == pytest.approx(choice.bound - 0.5)
    assert choice.met and choice.margin >= 0


def test_fpr_bound_is_the_upper_wilson_bound_over_actual_negatives():
    y, proba = calibrated(500, seed=6)
    choice = choose_threshold(y, proba, objective="fpr <= 0.2")
    fp, neg = choice.counts["fp"], int((y == 0).sum())
    ci = binomtest(fp, neg).proportion_ci(0.90, method="wilson")
    assert choice.bound == pytest.approx(ci.high, abs=1e-12)
    assert choice.bound == pytest.approx(hand_wilson(fp, neg, 0.95, upper=True), abs=1e-12)
    assert choice.margin == pytest.approx(0.2 - choice.bound)
    assert choice.optimised == "recall"


@pytest.mark.parametrize(
    ("objective", "successes", "trials", "optimised", "upper", "target"),
    [
        ("precision >= 0.55", "tp", "pp", "recall", False, 0.55),
        ("recall >= 0.8", "tp", "pos", "precision", False, 0.8),
        ("specificity >= 0.7", "tn", "neg", "recall", False, 0.7),
        ("fpr <= 0.25", "fp", "neg", "recall", True, 0.25),
        ("fnr <= 0.1", "fn", "pos", "precision", True, 0.1),
    ],
)
def test_constraint_choice_equals_brute_force_over_hand_wilson_bounds(
    objective, successes, trials, optimised, upper, target
):
    y, proba = calibrated(600, seed=7)
    best_key, best_t = None, None
    for t in np.unique(proba):
        pred = proba >= t
        k = {
            "tp": int((pred & (y == 1)).sum()),
            "fp": int((pred & (y == 0)).sum()),
            "tn": int((~pred & (y == 0)).sum()),
            "fn": int((~pred & (y == 1)).sum()),
        }
        k |= {"pp": k["tp"] + k["fp"], "pos": int(y.sum()), "neg": int((y == 0).sum())}
        bound = hand_wilson(k[successes], k[trials], 0.95, upper=upper)
        if (bound <= target) if upper else (bound >= target):
            score = (precision_score if optimised == "precision" else recall_score)(y, pred)
            key = (score, -bound if upper else bound, t)
            if best_key is None or key > best_key:
                best_key, best_t = key, t
    choice = choose_threshold(y, proba, objective=objective)
    assert choice.met and choice.optimised == optimised
    assert choice.threshold == best_t
    assert choice.value == pytest.approx(best_key[0])


def test_bound_picked_threshold_keeps_precision_on_new_data_where_boundary_picked_does_not():
    """Draw OOF-like and test-like samples from one calibrated model, 200 times."""
    rng = np.random.default_rng(11)
    boundary_met = bound_met = 0
    runs = 200
    for _ in range(runs):
        s = rng.beta(2, 3, 400)
        y = (rng.random(400) < s).astype(int)
        s_new = rng.beta(2, 3, 20_000)
        y_new = (rng.random(20_000) < s_new).astype(int)
        # boundary-picked: the lowest threshold (most recall) whose OOF precision is >= 0.5
        values = np.unique(s)
        pred = s[None, :] >= values[:, None]
        precision = (pred & (y == 1)).sum(axis=1) / pred.sum(axis=1)
        boundary = values[np.flatnonzero(precision >= 0.5)[0]]
        chosen = choose_threshold(y, s, objective="precision >= 0.5").threshold
        boundary_met += y_new[s_new >= boundary].mean() >= 0.5
        bound_met += y_new[s_new >= chosen].mean() >= 0.5
    assert 0.3 <= boundary_met / runs <= 0.65  # about half the time
    assert bound_met / runs >= 0.85


def test_confidence_one_half_makes_the_bound_the_estimate():
    y, proba = calibrated(300, seed=8)
    choice = choose_threshold(y, proba, objective="precision >= 0.5", confidence=0.5)
    assert choice.bound == pytest.approx(choice.estimate)


def test_unreachable_constraint_returns_best_bound_with_met_false_and_a_message():
    y, proba = calibrated(200, seed=9)
    choice = choose_threshold(y, proba, objective="precision >= 0.97")
    assert not choice.met and choice.margin < 0
    assert "cannot be guaranteed with this much data" in choice.message
    assert f"{-choice.margin:.3f} short of 0.97" in choice.message
    best = max(
        hand_wilson(int((y[proba >= t] == 1).sum()), int((proba >= t).sum()), 0.95)
        for t in np.unique(proba)
    )
    assert choice.bound == pytest.approx(best, abs=1e-12)


def test_curve_has_at_most_200_ascending_points_matching_sklearn():
    y, proba = calibrated(2_000, seed=10)
    choice = choose_threshold(y, proba)
    curve = choice.curve
    assert 150 <= len(curve["threshold"]) <= 200
    assert np.all(np.diff(curve["threshold"]) > 0)
    assert choice.threshold in curve["threshold"]
    for i in (0, 57, len(curve["threshold"]) - 1):
        pred = proba >= curve["threshold"][i]
        assert curve["precision"][i] == pytest.approx(precision_score(y, pred))
        assert curve["recall"][i] == pytest.approx(recall_score(y, pred))
        assert curve["f1"][i] == pytest.approx(f1_score(y, pred))


def test_to_dict_is_json_safe():
    y, proba = calibrated(100, seed=12)
    for objective in ("f1", "recall >= 0.99"):
        data = choose_threshold(y, proba, objective=objective).to_dict()
        assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_parse_objective_reads_f1_cost_and_constraints():
    assert parse_objective(" F1 ").kind == "f1"
    assert parse_objective("cost").optimised == "cost"
    obj = parse_objective("Precision>=0.5")
    assert (obj.kind, obj.metric, obj.op, obj.target, obj.text) == (
        "constraint",
        "precision",
        ">=",
        0.5,
        "precision >= 0.5",
    )
    assert parse_objective("fnr <= .1").optimised == "precision"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("accuracy >= 0.9", "may name one of " + ", ".join(CONSTRAINT_METRICS)),
        ("precision > 0.5", r"'precision > 0\.5' is not 'f1', 'cost'"),
        ("precision >= high", "'precision >= high' is not"),
        ("precision <= 0.5", "precision is limited with '>='"),
        ("fpr >= 0.1", "fpr is limited with '<='"),
        ("recall >= 1.5", "strictly between 0 and 1"),
        ("recall >= 0", "strictly between 0 and 1"),
        (0.5, "must be a string"),
    ],
)
def test_bad_objective_text_is_rejected(text, match):
    with pytest.raises(TrainError, match=match):
        parse_objective(text)


@pytest.mark.parametrize(
    ("y", "proba", "kwargs", "match"),
    [
        ([0, 1, 1], [0.2, 0.8], {}, "y_true has 3 rows but proba has 2"),
        ([0, 1, 1], [0.2, np.nan, 0.9], {}, "1 NaN value"),
        ([0, 1, 1], [0.2, 1.3, 0.9], {}, r"must lie in \[0, 1\]"),
        ([0, 1, 1], [-0.1, 0.3, 0.9], {}, r"must lie in \[0, 1\]"),
        ([1, 1, 1], [0.2, 0.3, 0.9], {}, "only class 1"),
        ([0, 2, 1], [0.2, 0.3, 0.9], {}, "0/1 codes.*found 2"),
        (["no", "yes"], [0.2, 0.3], {}, "0/1 codes"),
        ([0, 1], [0.2, 0.3], {"objective": "cost"}, "needs costs"),
        ([0, 1], [0.2, 0.3], {"objective": "cost", "costs": {"false_pos": 1}}, "unknown key"),
        ([0, 1], [0.2, 0.3], {"objective": "cost", "costs": {"fp": "x"}}, r"costs\['fp'\]"),
        ([0, 1], [0.2, 0.3], {"confidence": 1.0}, "confidence must be"),
        ([0, 1], [0.2, 0.3], {"confidence": "95%"}, "confidence must be"),
        ([0, 1], [0.2, 0.3], {"objective": "auc >= 0.5"}, "may name one of"),
    ],
)
def test_bad_inputs_raise_train_error(y, proba, kwargs, match):
    with pytest.raises(TrainError, match=match):
        choose_threshold(y, proba, **kwargs)
