"""Multiple imputation and the imputation comparison of `tabloop train --compare-imputation`."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from tabloop.config import config_from_dict
from tabloop.examples import treatment_outcomes
from tabloop.prepare import MultipleImputation, Preprocess
from tabloop.train import train
from tabloop.train._imputation import compare_imputation


def _config(**prepare):
    return config_from_dict(
        {
            "name": "t",
            "data": {"train": "(memory)", "target": "unsuccessful_outcome", "id": "patient_id"},
            "prepare": prepare,
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
        }
    )


@pytest.fixture(scope="module")
def patients():
    return treatment_outcomes(n=1_500, seed=3)


def test_one_draw_equals_sklearns_posterior_sampling_mice(patients):
    X = patients[["age", "alcohol_scale", "diary_mood_avg", "diary_stress_avg"]]
    ours = Preprocess(family="tree", imputation="multiple", missing_indicators=False, seed=4)
    mice = IterativeImputer(random_state=4, max_iter=10, sample_posterior=True)
    expected = mice.fit(X).transform(X)  # Preprocess fits, then transforms (a fresh draw)
    np.testing.assert_allclose(ours.fit_transform(X).to_numpy(), expected)


def test_multiple_imputation_averages_m_pipelines_with_different_draws(patients):
    result = train(patients, config=_config(imputation="multiple", imputations=3))
    (fitted,) = result.model.members[0].pipelines
    assert isinstance(fitted, MultipleImputation) and len(fitted.pipelines_) == 3
    seeds = [p.named_steps["preprocess"].seed for p in fitted.pipelines_]
    assert seeds == [0, 1, 2]
    X = result.test.drop(columns="unsuccessful_outcome")
    each = [p.predict_proba(X)[:, 1] for p in fitted.pipelines_]
    assert not np.allclose(each[0], each[1])  # the draws differ
    np.testing.assert_allclose(result.model.predict_scores(X), np.mean(each, axis=0))
    # prediction imputes with the conditional mean: the same row always gets the same answer
    one_row = result.model.predict_scores(X.iloc[[4]])
    np.testing.assert_allclose(one_row, result.model.predict_scores(X)[[4]])


def test_comparison_scores_every_strategy_and_recommends_within_one_standard_error(patients):
    result = train(patients, config=_config())
    found = compare_imputation(result)
    labels = {(r["strategy"], r["indicators"]) for r in found["rows"]}
    assert ("none", False) not in labels  # the linear model cannot take NaN
    assert {("median", True), ("knn", False), ("iterative", True), ("multiple", False)} <= labels
    top = max(found["rows"], key=lambda r: r["mean"])
    pick = next(
        r
        for r in found["rows"]
        if (r["strategy"], r["indicators"]) == tuple(found["recommended"].values())
    )
    assert pick["mean"] >= top["mean"] - top["std"] / np.sqrt(3)
    within = [r for r in found["rows"] if r["mean"] >= top["mean"] - top["std"] / np.sqrt(3)]
    nominal = {"median": 1.0, "knn": 1.5, "iterative": 2.5, "multiple": 3.0}  # + 10% indicators
    cost = {id(r): nominal[r["strategy"]] * (1.1 if r["indicators"] else 1.0) for r in within}
    assert cost[id(pick)] == min(cost.values())  # the simplest, not the luckiest timing


def test_the_comparison_runs_nothing_past_its_budget_and_names_what_it_left_out(patients):
    """30 s of budget ran 3 min 25 s: a variant now runs only when its estimate fits what
    is left. Counted in variants, not seconds: with no time left none is cross-validated."""
    result = train(patients, config=_config())
    found = compare_imputation(result, seconds=0.0)
    assert found["scheduled"] == 0 and found["rows"] == []
    assert len(found["skipped"]) == 8  # 4 strategies x with/without indicators (no 'none')
    assert found["recommended"] is None
    assert "Not run within the 0 s left of the time budget: median" in found["message"]
    linear = next(r for r in result.cv if r.name == "linear")
    some = compare_imputation(result, seconds=linear.seconds * 1.5)
    assert some["scheduled"] + len(some["skipped"]) == 8
    assert some["scheduled"] < 8  # knn, iterative and multiple cost more than the rest


def test_train_prints_the_imputation_recommendation(patients, tmp_path):
    from tabloop.workflows import summary_lines, train_and_register

    run = train_and_register(
        _config(), df=patients, out_dir=tmp_path, register=False, compare_imputation=True
    )
    lines = summary_lines(run)
    text = " ".join(line.strip() for line in lines)
    found = run.result.imputation_comparison
    assert found["message"] in text
    # the recommendation, recomputed from the compared rows: the simplest (nominal cost,
    # indicators +10%; then the higher mean) within one standard error of the best mean
    means = np.array([r["mean"] for r in found["rows"]])
    best = int(means.argmax())
    within = np.flatnonzero(means >= means[best] - found["rows"][best]["std"] / np.sqrt(3))
    nominal = {"median": 1.0, "knn": 1.5, "iterative": 2.5, "multiple": 3.0}
    rows = found["rows"]
    pick = rows[
        min(
            within,
            key=lambda i: (
                nominal[rows[i]["strategy"]] * (1.1 if rows[i]["indicators"] else 1.0),
                -rows[i]["mean"],
            ),
        )
    ]
    assert found["recommended"] == {"strategy": pick["strategy"], "indicators": pick["indicators"]}
    label = pick["strategy"] + (" + indicators" if pick["indicators"] else "")
    said = f"{label!r} scores best" if pick is found["rows"][best] else f"recommend {label!r}"
    assert f"Imputation for linear: {said} (CV roc_auc " in text
    assert all(len(line) <= 80 for line in lines)


def test_one_strategy_compared_is_not_called_the_best():
    from tabloop.train._imputation import recommend

    one = [{"strategy": "median", "indicators": False, "mean": 0.8, "std": 0.01, "seconds": 2}]
    found = recommend(one, model="linear", metric="roc_auc", folds=3, skipped=["knn"], seconds=4)
    assert found["recommended"] is None
    assert found["message"].startswith("Imputation for linear: only 'median' was compared")
    assert found["message"].endswith("Not run within the 4 s left of the time budget: knn.")
    two = [*one, {"strategy": "knn", "indicators": True, "mean": 0.81, "std": 0.03, "seconds": 5}]
    # 0.80 >= 0.81 - 0.03 / sqrt(3): median is within one standard error and cheaper
    assert recommend(two, model="linear", metric="roc_auc", folds=3)["recommended"] == {
        "strategy": "median",
        "indicators": False,
    }
