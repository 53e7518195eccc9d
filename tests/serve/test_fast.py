"""The compiled request path returns exactly what ``TabloopModel.predict_scores`` returns.

Every zoo model × imputation on titanic (with missing values blanked in) and on the
treatment scenario (derived formulas, a log transform, KNN imputation that falls back),
fed 300 rows one at a time and as one batch, with missing values and unseen categories.
The models are small (two folds, few trees): equivalence does not depend on their size.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tabloop.config import config_from_dict
from tabloop.exceptions import SchemaError
from tabloop.prepare import Formula, RequestColumns, Unsupported
from tabloop.prepare._replay_formula import compile_formula
from tabloop.serve._compiled import compile_model
from tabloop.train import Member, TabloopModel

ZOO = ["linear", "random_forest", "lightgbm", "xgboost", "catboost"]
SMALL = {
    "random_forest": {"n_estimators": 15},
    "lightgbm": {"n_estimators": 25},
    "xgboost": {"n_estimators": 25},
    "catboost": {"iterations": 25},
}
# (imputation, missing indicators)
TITANIC_PREP = [("auto", True), ("median", True), ("median", False)]


def _config(raw: dict[str, Any], models: list[str], imputation: str, indicators: bool) -> Any:
    raw = {
        **raw,
        "train": {
            "models": models,
            "folds": 2,
            "learning_curve": False,
            "ensemble": False,
            "refit": "folds",
            "params": SMALL,
        },
        "evaluate": {"bootstrap": 0, "importance": False},
    }
    raw["prepare"] = {
        **raw.get("prepare", {}),
        "imputation": imputation,
        "missing_indicators": indicators,
        "unseen_categories": "ignore",
    }
    return config_from_dict(raw)


def titanic_with_gaps(load: Any) -> pd.DataFrame:
    df = load("titanic")
    rng = np.random.default_rng(0)
    for column, share in (("age", 0.15), ("fare", 0.05), ("embarked", 0.08), ("class", 0.03)):
        df.loc[rng.random(len(df)) < share, column] = np.nan
    return df


def _datasets(load: Any) -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    from tabloop.examples import scenario_config, treatment_outcomes

    treatment = yaml.safe_load(scenario_config("treatment"))
    treatment["data"]["train"] = "(memory)"
    return {
        "titanic": (
            titanic_with_gaps(load),
            {"name": "fast", "data": {"train": "(memory)", "target": "survived"}},
        ),
        "treatment": (treatment_outcomes(n=2000), treatment),
    }


@pytest.fixture(scope="module")
def trained(load):
    """``trained(dataset, imputation, indicators)``: the train result (cached per module)."""
    from tabloop.train import train

    data = _datasets(load)
    cache: dict[tuple[Any, ...], Any] = {}

    def get(
        dataset: str, imputation: str, indicators: bool, models: tuple[str, ...] = tuple(ZOO)
    ) -> Any:
        key = (dataset, imputation, indicators, models)
        if key not in cache:
            df, raw = data[dataset]
            cache[key] = train(df, config=_config(raw, list(models), imputation, indicators))
        return cache[key]

    return get


def model_of(result: Any, names: list[str]) -> TabloopModel:
    """A model whose members are the fold pipelines of ``names`` (as ``refit: folds``)."""
    from tabloop.train._assemble import _input_schema

    by_name = {r.name: r for r in result.cv}
    members = [Member(n, 1 / len(names), list(by_name[n].fold_models)) for n in names]
    X = result.train.drop(columns=[result.model.target])
    schema, _ = _input_schema(members, X, result.config)
    return replace(result.model, members=members, schema=schema)


def request_rows(result: Any, n: int = 300) -> list[dict[str, Any]]:
    """``n`` rows as JSON clients send them (null for missing), a tenth of them with a
    category never seen in training and one with every value missing."""
    df = pd.concat([result.test, result.train]).drop(columns=[result.model.target]).head(n)
    rows = json.loads(df.to_json(orient="records"))
    categorical = [c.name for c in result.model.schema if c.kind == "categorical"]
    for i in range(0, n, 10):
        rows[i][categorical[i % len(categorical)]] = "never seen"
    rows[1] = dict.fromkeys(rows[1])
    return rows


def assert_same(model: TabloopModel, rows: list[dict[str, Any]], monkeypatch: Any) -> Any:
    """Compile ``model``, check it against the DataFrame path; return the compiled model."""
    expected = model.predict_scores(pd.DataFrame.from_records(rows))
    singles = {i: model.predict_scores(pd.DataFrame.from_records([rows[i]])) for i in range(12)}
    compiled = compile_model(model)
    # from here on, every score must come from the compiled plans, never from the model
    monkeypatch.setattr(TabloopModel, "predict_scores", _forbidden)
    batch = compiled.predict_scores(rows)
    one_by_one = np.concatenate([compiled.predict_scores([row]) for row in rows])
    np.testing.assert_allclose(batch, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(one_by_one, expected, rtol=0, atol=1e-9)
    for i, single in singles.items():
        np.testing.assert_allclose(one_by_one[i], single[0], rtol=0, atol=1e-9)
    monkeypatch.undo()
    return compiled


def _forbidden(self: Any, df: Any) -> Any:
    raise AssertionError("the compiled path fell back to TabloopModel.predict_scores")


@pytest.mark.parametrize(("imputation", "indicators"), TITANIC_PREP)
@pytest.mark.parametrize("name", ZOO)
def test_titanic_compiled_scores_equal_the_pipeline(
    trained, monkeypatch, name, imputation, indicators
):
    result = trained("titanic", imputation, indicators)
    rows = request_rows(result)
    assert sum(v is None for row in rows[2:] for v in row.values()) > 30  # and one empty row
    compiled = assert_same(model_of(result, [name]), rows, monkeypatch)
    assert compiled.summary() == {"compiled": 2}


def test_treatment_derived_formulas_and_log_equal_the_pipeline(trained, monkeypatch):
    result = trained("treatment", "median", True)
    compiled = assert_same(model_of(result, ZOO), request_rows(result), monkeypatch)
    assert compiled.summary() == {"compiled": 2 * len(ZOO)}


def test_knn_imputation_keeps_the_dataframe_preparation_and_matches(trained, monkeypatch):
    trio = ("linear", "lightgbm", "catboost")
    result = trained("treatment", "knn", True, trio)  # the scenario's own configuration
    # one at a time, every row pays pandas here: 60 rows keep the test short
    compiled = assert_same(model_of(result, list(trio)), request_rows(result, 60), monkeypatch)
    assert compiled.summary() == {"frame": 6}


def test_the_trained_model_itself_compiles(trained, monkeypatch):
    result = trained("titanic", "auto", True)
    assert_same(result.model, request_rows(result, 60), monkeypatch)


class Threshold:
    """A team's own model (fit/predict/predict_proba): not compiled, scored as before."""

    tabloop_family = "linear"

    def fit(self, X: Any, y: Any) -> Threshold:
        self.classes_ = np.unique(y)
        self.mean_ = np.asarray(X, dtype=float)[:, 0].mean()
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        high = (np.asarray(X, dtype=float)[:, 0] > self.mean_).astype(float)
        return np.column_stack([1 - high * 0.8, high * 0.8])

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def test_an_unsupported_member_falls_back_and_the_ensemble_still_matches(load, monkeypatch):
    from tabloop.train import train

    df, raw = _datasets(load)["titanic"]
    models = ["lightgbm", "tests.serve.test_fast:Threshold"]
    result = train(df, config=_config(raw, models, "median", True))
    model = model_of(result, models)
    compiled = compile_model(model)
    assert compiled.summary() == {"compiled": 2, "pipeline": 2}
    assert {p.reason for p in compiled.plans if p.kind == "pipeline"} == {"estimator UserModel"}
    rows = request_rows(result, 100)
    np.testing.assert_allclose(
        compiled.predict_scores(rows),
        model.predict_scores(pd.DataFrame.from_records(rows)),
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.parametrize(
    ("target", "task", "metric"),
    [("embarked", "multiclass", "accuracy"), ("fare", "regression", "rmse")],
)
def test_multiclass_and_regression_models_match(load, monkeypatch, target, task, metric):
    from tabloop.train import train

    df = titanic_with_gaps(load).dropna(subset=[target])
    raw = {"name": "fast", "data": {"train": "(memory)", "target": target}}
    config = _config(raw, ZOO, "most_frequent" if task == "multiclass" else "median", True)
    config.train.metric = metric
    result = train(df, config=config)
    assert result.task == task
    compiled = assert_same(model_of(result, ZOO), request_rows(result, 100), monkeypatch)
    assert compiled.summary() == {"compiled": 2 * len(ZOO)}


def test_values_outside_the_compiled_domain_take_the_dataframe_path(trained):
    result = trained("titanic", "median", True)
    model = model_of(result, ["lightgbm", "linear"])
    rows = request_rows(result, 4)
    rows[0]["age"], rows[2]["fare"], rows[3]["gender"] = "42", True, 7  # text, bool, number
    compiled = compile_model(model)
    for batch in ([rows[0]], [rows[2]], rows):
        np.testing.assert_allclose(
            compiled.predict_scores(batch),
            model.predict_scores(pd.DataFrame.from_records(batch)),
            rtol=0,
            atol=1e-9,
        )


def test_an_unseen_category_under_error_fails_with_the_pipelines_message(trained):
    import copy

    model = copy.deepcopy(model_of(trained("titanic", "auto", True), ["lightgbm", "linear"]))
    for member in model.members:
        for pipe in member.pipelines:
            pipe.named_steps["preprocess"].set_params(unseen="error")
    rows = request_rows(trained("titanic", "auto", True), 5)[2:]  # no unseen value yet
    rows[1]["embarked"] = "Atlantis"
    with pytest.raises(SchemaError) as expected:
        model.predict_scores(pd.DataFrame.from_records(rows))
    with pytest.raises(SchemaError) as got:
        compile_model(model).predict_scores(rows)
    assert str(got.value) == str(expected.value)
    assert "'Atlantis'" in str(got.value)


FORMULAS = [
    "a * 0.01 * b",
    "b * where(c == 'yes', 1.5, 1)",
    "lookup(d, {x: 0.6, y: 0.2}) * a + lookup(b, {1: 2, 2.5: 3}, default=-1)",
    "a / b - b ** 2 + (-a)",
    "a > 2 and not (c != 'no') or b <= 1",
    "where(isnull(a), 1, 0) + where(notnull(c), 2, 0)",
    "fillna(a, 0) + round(b, 1) + clip(a, 0, 3) + clip(b, None, 1)",
    "log(a) + log1p(b) + exp(a / 10) + sqrt(b) + abs(a - 3)",
    "minimum(a, b) + maximum(a, 1)",
    "d in ['x', 'z']",
    "b not in [1, 2]",
    "1 < a < 3",
    "where(a > 1, a, b) / 0",
]
UNSUPPORTED = ["a // b", "a % 2", "c + d", "a ** b", "c < 'm'", "where(a > 1, 'big', 'small')"]


@pytest.mark.parametrize("text", FORMULAS)
def test_compiled_formulas_equal_formula_evaluate(text):
    rng = np.random.default_rng(1)
    n = 200
    a = np.where(rng.random(n) < 0.2, None, rng.normal(2, 2, n).round(1))
    b = rng.choice([1, 2.5, 0, None], n)
    c, d = rng.choice(["yes", "no", None], n), rng.choice(["x", "y", "z", None], n)
    rows = [{"a": w, "b": x, "c": y, "d": z} for w, x, y, z in zip(a, b, c, d, strict=True)]
    kinds = {"a": "num", "b": "num", "c": "text", "d": "text"}
    formula = Formula(text)
    replay = compile_formula(formula, kinds)
    kind, fn = replay.kind, replay.fn
    cols = RequestColumns(rows)  # the request's columns, as the compiled path reads them
    got = fn(lambda c: cols.formula_num(c)[0] if kinds[c] == "num" else cols.text(c), n)
    expected = formula.evaluate(pd.DataFrame.from_records(rows))
    assert kind == ("bool" if expected.dtype == bool else "num")
    np.testing.assert_array_equal(got, expected.to_numpy(dtype=got.dtype))


@pytest.mark.parametrize("text", UNSUPPORTED)
def test_formulas_without_an_exact_numpy_form_are_refused(text):
    with pytest.raises(Unsupported):
        compile_formula(Formula(text), {"a": "num", "b": "num", "c": "text", "d": "text"})


def test_the_row_check_only_accepts_what_validation_accepts(trained):
    result = trained("titanic", "median", True)
    model = replace(model_of(result, ["lightgbm"]), unseen="error")
    check = compile_model(model, verify=False).check
    good = request_rows(result, 5)[2:]  # neither an unseen category nor an empty row
    bad = [
        [{k: v for k, v in good[0].items() if k != "age"}],  # missing column
        [{**good[0], "agee": 3}],  # extra column
        [{**good[0], "age": "forty"}],  # wrong type
        [{**good[0], "age": [1]}],
        [{**good[0], "class": "zeppelin"}],  # unseen under "error"
        [{**good[0], "gender": None}, {**good[1], "gender": None}],  # all missing, not nullable
    ]
    unsure = [[{**good[0], "age": "42"}]]  # valid, but the DataFrame validator decides
    assert check.passes(good, set())
    model.check_input(pd.DataFrame.from_records(good), allow_extra=set())
    for rows in bad:
        assert not check.passes(rows, set())
        with pytest.raises(SchemaError):
            model.check_input(pd.DataFrame.from_records(rows), allow_extra=set())
    for rows in unsure:
        assert not check.passes(rows, set())
        model.check_input(pd.DataFrame.from_records(rows), allow_extra=set())
    assert check.passes([{**good[0], "passenger": "p1"}], {"passenger"})


def test_the_service_predicts_through_the_compiled_path(make_config, registered, monkeypatch):
    from fastapi.testclient import TestClient

    from tabloop.serve import create_app
    from tests.serve.conftest import AB
    from tests.serve.test_app import rows_of

    rows = rows_of(registered["df"], 5)
    with TestClient(create_app(make_config(**AB))) as http:
        variants = http.app.state.serve.variants
        assert {n: v.compiled.summary() for n, v in variants.items()} == {
            "A": {"compiled": 1},
            "B": {"compiled": 1},
        }
        expected = {
            n: v.model.predict_scores(pd.DataFrame.from_records(rows)) for n, v in variants.items()
        }
        monkeypatch.setattr(TabloopModel, "predict_scores", _forbidden)
        for name in variants:
            answer = http.post(f"/predict/{name}", json={"records": rows})
            assert answer.status_code == 200, answer.text
            got = [p["probability"] for p in answer.json()["predictions"]]
            np.testing.assert_allclose(got, expected[name], rtol=0, atol=1e-12)
