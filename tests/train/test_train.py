"""Training as a user relies on it: hold-out first, CV per model, ensemble, threshold, refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from tabloop.config import config_from_dict
from tabloop.data import split
from tabloop.exceptions import ConfigError, DataError, FormulaError, TargetError, TrainError
from tabloop.train import train
from tabloop.train._threshold import choose_threshold

FAST = {"learning_curve": False}


def project(target: str, **sections) -> object:
    raw = {"name": "t", "data": {"train": "(memory)", "target": target}, **sections}
    raw["train"] = {**FAST, **raw.get("train", {})}
    return config_from_dict(raw)


@pytest.fixture(scope="module")
def titanic_result(load):
    cfg = project("survived", train={"models": ["linear", "lightgbm"], "folds": 4})
    return train(load("titanic"), config=cfg)


def test_test_rows_are_held_out_exactly_as_split_puts_them(titanic_result, load):
    expected_train, expected_test = split(load("titanic"), target="survived", seed=0)
    assert list(titanic_result.test.index) == list(expected_test.index)
    assert list(titanic_result.train.index) == list(expected_train.index)


def test_folds_are_stratified_k_fold_on_the_training_rows(titanic_result):
    y = titanic_result.y_train
    folds = StratifiedKFold(4, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
    linear = next(r for r in titanic_result.cv if r.name == "linear")
    for score, (_, val) in zip(linear.fold_scores, folds, strict=True):
        assert score == pytest.approx(roc_auc_score(y[val], linear.oof[val]))


def test_dummy_baseline_is_always_compared(titanic_result):
    dummy = next(r for r in titanic_result.cv if r.name == "dummy")
    assert dummy.mean == pytest.approx(0.5)


def test_ensemble_is_no_worse_than_its_best_member_out_of_fold(titanic_result):
    y, weights = titanic_result.y_train, titanic_result.weights
    assert sum(weights.values()) == pytest.approx(1.0)
    best = max(roc_auc_score(y, r.oof) for r in titanic_result.cv if r.name != "dummy")
    assert roc_auc_score(y, titanic_result.oof) >= best - 1e-12


def test_threshold_is_chosen_on_the_out_of_fold_blend(titanic_result):
    expected = choose_threshold(titanic_result.y_train, titanic_result.oof, objective="f1")
    assert titanic_result.model.threshold == expected.threshold


def test_winners_are_refit_on_all_training_rows(titanic_result):
    for member in titanic_result.model.members:
        (pipe,) = member.pipelines
        assert pipe.named_steps["model"].n_features_in_ > 0
        assert pipe.named_steps["derive"].n_features_in_ == titanic_result.train.shape[1] - 1
        assert len(pipe.named_steps["select"].scores_) > 0


def test_prediction_frame_appends_label_and_probability(titanic_result):
    test = titanic_result.test
    out = titanic_result.model.predict_frame(test.drop(columns="survived"))
    assert list(out.columns[-2:]) == ["prediction", "probability"]
    assert out["probability"].between(0, 1).all()
    expected = (out["probability"] >= titanic_result.model.threshold).astype(int)
    assert (out["prediction"] == expected).all()
    assert out["prediction"].dtype == test["survived"].dtype


def test_multiclass_probabilities_have_one_column_per_class(load):
    df = load("hr").drop(columns=["Unnamed: 0"], errors="ignore").sample(1500, random_state=0)
    result = train(df, config=project("status", train={"models": ["lightgbm"], "folds": 3}))
    assert result.model.classes == sorted(df["status"].unique())
    out = result.model.predict_frame(result.test.drop(columns="status"))
    proba = out[[f"probability_{c}" for c in result.model.classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (out["prediction"] == np.asarray(result.model.classes)[proba.argmax(axis=1)]).all()


def test_regression_predicts_numbers_and_scores_rmse(load):
    df = load("apartments").drop(columns=["Unnamed: 0"], errors="ignore")
    result = train(df, config=project("m2_price", train={"models": ["linear"], "folds": 3}))
    linear = next(r for r in result.cv if r.name == "linear")
    assert linear.mean < 0  # rmse, oriented so that higher is better
    out = result.model.predict_frame(result.test)
    assert out["prediction"].dtype == float
    assert result.model.threshold is None


def test_user_model_by_import_path(tmp_path, monkeypatch, load):
    (tmp_path / "team_models.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class Simple:\n"
        "    tabloop_family = 'linear'\n"
        "    def fit(self, X, y):\n"
        "        self.m = LogisticRegression(max_iter=1000).fit(X, y); return self\n"
        "    def predict(self, X):\n"
        "        return self.m.predict(X)\n"
        "    def predict_proba(self, X):\n"
        "        return self.m.predict_proba(X)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = project("survived", train={"models": ["team_models:Simple"], "folds": 3})
    result = train(load("titanic"), config=cfg)
    assert result.weights == {"team_models:Simple": 1.0}
    ours = next(r for r in result.cv if r.name == "team_models:Simple")
    assert 0.7 < ours.mean < 0.95


def test_user_model_that_cannot_be_imported_is_named(load):
    with pytest.raises(TrainError, match="cannot import module 'no_such_pkg'"):
        train(load("titanic"), config=project("survived", train={"models": ["no_such_pkg:M"]}))


def test_single_class_target_is_rejected(load):
    df = load("titanic").assign(survived=1)
    with pytest.raises(TargetError, match="1 distinct value"):
        train(df, config=project("survived"))


def test_fewer_rows_than_folds_is_rejected_with_the_numbers():
    df = pd.DataFrame({"x": range(8), "y": [0, 1] * 4})
    with pytest.raises(
        TrainError, match=r"train.folds is 5 but the training split has only 6 rows"
    ):
        train(df, config=project("y", split={"strategy": "random", "test_size": 0.25}))


def test_every_feature_dropped_is_an_error_listing_why(load):
    df = load("titanic")[["survived"]].assign(const=1, name=[f"p{i}" for i in range(2207)])
    with pytest.raises(DataError, match="dropped every column.*const: constant"):
        train(df, config=project("survived", train={"models": ["linear"]}))


def test_formula_with_unknown_column_is_named_at_training(load):
    cfg = project("survived", features={"derive": {"x": "agee * 2"}})
    with pytest.raises(FormulaError, match="unknown column 'agee'.*Did you mean 'age'"):
        train(load("titanic"), config=cfg)


def test_unsafe_formula_is_refused_when_the_config_loads():
    with pytest.raises(ConfigError, match="features.derive: x: calling anything but a listed"):
        project("y", features={"derive": {"x": "__import__('os').system('ls')"}})


def test_unknown_model_name_is_a_config_error_with_the_choices():
    with pytest.raises(ConfigError, match="unknown model 'lgbm'.*lightgbm"):
        project("y", train={"models": ["lgbm"]})


def test_requirement_naming_an_unknown_metric_fails_at_config_load():
    with pytest.raises(ConfigError, match="unknown metric 'precison'.*Did you mean 'precision'"):
        project("y", task="binary", evaluate={"requirements": ["precison >= 0.5"]})


def test_a_budget_too_small_for_any_model_says_so(load):
    with pytest.raises(TrainError, match=r"Within --time-budget 1e-06 s no model finished "
                       r"cross-validation \(dummy: not started; linear: not started; "
                       r"lightgbm: not started; catboost: not started\); a budget that fits "
                       r"one is more than \d+ s"):  # fmt: skip
        train(load("titanic"), config=project("survived"), time_budget=1e-6)


def test_the_smallest_budget_is_the_time_before_plus_the_dummy_plus_the_quickest_model():
    from tabloop.train._cv import CVResult
    from tabloop.train._sampled_cv import budget_too_small
    from tabloop.train._zoo_cv import ZooScores

    dummy = CVResult("dummy", {}, np.zeros(4), [0.5] * 5, seconds=1.0)
    zoo = ZooScores([dummy], ["linear", "random_forest"], {"random_forest": 50.0, "linear": 80.0})
    # (2 s before + 1 s dummy + 50 s forest) / 0.8 of the budget for CV = 66.25 -> 70 s
    assert str(budget_too_small(30, zoo, before=2.0)) == (
        "Within --time-budget 30 s no model but the dummy finished cross-validation (linear: "
        "about 80 s for all folds; random_forest: about 50 s for all folds); the smallest "
        "budget that fits one is about 70 s: raise --time-budget or train.time_budget. "
        "Nothing was registered."
    )
    # the dummy cut short after 2 of 5 folds in 4 s (10 s for all) and no model started
    cut = ZooScores([], ["dummy", "linear"], {"dummy": 10.0})
    assert str(budget_too_small(5, cut, before=2.0)) == (
        "Within --time-budget 5 s no model finished cross-validation (dummy: about 10 s for "
        "all folds; linear: not started); a budget that fits one is more than 15 s: raise "
        "--time-budget or train.time_budget (or lower train.sample). Nothing was registered."
    )


def test_class_weight_and_smote_train_inside_folds(load):
    df = load("german_credit")
    for imbalance in ("class_weight", "smote"):
        cfg = project("risk", train={"models": ["linear"], "folds": 3, "imbalance": imbalance})
        result = train(df, config=cfg)
        assert result.cv[1].mean > 0.65
    pipe = result.model.members[0].pipelines[0]
    assert "smote" in pipe.named_steps


def test_optuna_tunes_within_the_search_space_and_refits_with_the_best(load):
    cfg = project("risk", train={"models": ["lightgbm"], "folds": 3, "trials": 3})
    result = train(load("german_credit"), config=cfg)
    tuned = next(r for r in result.cv if r.name == "lightgbm")
    assert set(tuned.params) == {
        "n_estimators",
        "learning_rate",
        "num_leaves",
        "min_child_samples",
        "reg_lambda",
    }
    model = result.model.members[0].pipelines[0].named_steps["model"]
    assert model.get_params()["num_leaves"] == tuned.params["num_leaves"]


def test_clustering_segments_rows_and_reports_silhouette_like_sklearn(load):
    from sklearn.metrics import silhouette_score

    from tabloop.evaluate import evaluate

    df = load("apartments").drop(columns=["Unnamed: 0", "m2_price"], errors="ignore")
    cfg = config_from_dict(
        {
            "name": "a",
            "task": "clustering",
            "data": {"train": "(memory)"},
            "train": {"clusters": {"k_min": 2, "k_max": 4}},
        }
    )
    result = train(df, config=cfg)
    (pipe,) = result.model.members[0].pipelines
    labels = result.model.predict_frame(df)["segment"].to_numpy()
    evaluation = evaluate(result)
    expected = silhouette_score(pipe[:-1].transform(df), labels)
    assert evaluation.metrics["silhouette"]["value"] == pytest.approx(expected)
    assert 2 <= evaluation.metrics["k"]["value"] <= 4
    profiles = evaluation.charts["profiles"]
    assert sum(p["count"] for p in profiles) == len(df)


def test_a_refit_that_would_overrun_the_budget_averages_the_fold_models():
    from tabloop.train._assemble import refit_mode
    from tabloop.train._cv import CVResult

    chosen = [CVResult("linear", {}, np.zeros(3), [0.8] * 5, seconds=50.0)]  # 10 s a fold
    assert refit_mode("full", chosen, now=100.0, deadline=None) == ("full", None)
    assert refit_mode("full", chosen, now=100.0, deadline=114.0) == ("full", None)
    mode, note = refit_mode("full", chosen, now=100.0, deadline=112.0)  # needs ~13 s
    assert mode == "folds" and note.startswith("refit: averaged the fold models")
    assert refit_mode("folds", chosen, now=100.0, deadline=101.0) == ("folds", None)
