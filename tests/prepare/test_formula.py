import numpy as np
import pandas as pd
import pytest

from tabloop.examples import treatment_outcomes
from tabloop.exceptions import ConfigError, FormulaError
from tabloop.prepare import Formula


@pytest.fixture(scope="module")
def patients():
    return treatment_outcomes(n=500, seed=3)


def test_the_three_formulas_of_situation_one(patients):
    df = patients
    got = Formula("to_assessment * 0.01 * age").evaluate(df)
    np.testing.assert_allclose(got, df["to_assessment"] * 0.01 * df["age"])

    got = Formula("age * where(pre_existing_medical_condition == 'yes', 1.5, 1)").evaluate(df)
    expected = df["age"] * np.where(df["pre_existing_medical_condition"] == "yes", 1.5, 1.0)
    np.testing.assert_allclose(got, expected)

    mass = Formula(
        "lookup(course, {sleep: 0.6, stress: 0.2, depression: 0.2}) * diary_sleep_avg"
        " + lookup(course, {stress: 0.6, burnout: 0.5}, default=0.1) * diary_stress_avg"
    ).evaluate(df)
    sleep_w = df["course"].map({"sleep": 0.6, "stress": 0.2, "depression": 0.2}).fillna(0)
    stress_w = df["course"].map({"stress": 0.6, "burnout": 0.5}).fillna(0.1)
    np.testing.assert_allclose(
        mass, sleep_w * df["diary_sleep_avg"] + stress_w * df["diary_stress_avg"]
    )
    assert mass.isna().sum() == (df["diary_sleep_avg"].isna() | df["diary_stress_avg"].isna()).sum()


def test_columns_read_by_a_formula_are_known_before_evaluation():
    f = Formula("lookup(course, {sleep: 1}) * x + where(y > 0, z, 0) + col('a b')")
    assert f.columns == {"course", "x", "y", "z", "a b"}


def test_boolean_logic_comparisons_and_membership():
    df = pd.DataFrame({"a": [1, 5, 10, np.nan], "c": ["x", "y", "z", None]})
    assert Formula("1 < a <= 5").evaluate(df).tolist() == [False, True, False, False]
    assert Formula("a > 2 and c in ['y', 'z']").evaluate(df).tolist() == [False, True, True, False]
    assert Formula("not (c not in ['x'])").evaluate(df).tolist() == [True, False, False, False]
    assert Formula("isnull(a) or a == 1").evaluate(df).tolist() == [True, False, False, True]


def test_functions_match_numpy():
    df = pd.DataFrame({"a": [1.0, 4.0, 9.0], "b": [2.0, 2.0, 20.0]})
    np.testing.assert_allclose(
        Formula("sqrt(a) + log1p(b)").evaluate(df), np.sqrt(df.a) + np.log1p(df.b)
    )
    np.testing.assert_allclose(Formula("clip(a, 2, 5)").evaluate(df), [2, 4, 5])
    np.testing.assert_allclose(Formula("maximum(a, b) - minimum(a, b)").evaluate(df), [1, 2, 11])
    np.testing.assert_allclose(Formula("round(a / 3, 2)").evaluate(df), [0.33, 1.33, 3.0])
    np.testing.assert_allclose(Formula("fillna(a, 0) ** 2").evaluate(df), [1, 16, 81])


def test_undefined_results_become_missing_not_infinite():
    df = pd.DataFrame({"a": [0.0, 1.0, -1.0]})
    got = Formula("log(a) + 1 / a").evaluate(df)
    assert got.isna().tolist() == [True, False, True]


def test_scalar_formula_is_broadcast():
    assert Formula("2 * 3").evaluate(pd.DataFrame({"a": [1, 2]})).tolist() == [6.0, 6.0]


def test_unknown_column_is_named_with_a_suggestion():
    df = pd.DataFrame({"age": [1]})
    with pytest.raises(
        FormulaError, match=r"features.derive.x: unknown column 'agee'.*Did you mean 'age'"
    ):
        Formula("agee * 2", name="features.derive.x").evaluate(df)


def test_unknown_function_is_named_with_the_list():
    with pytest.raises(
        FormulaError, match=r"unknown function 'sqr'.*Did you mean 'sqrt'.*Available:"
    ):
        Formula("sqr(age)")


@pytest.mark.parametrize(
    "text",
    [
        "age.to_csv('/tmp/x')",
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "[x for x in age]",
        "lambda: 1",
        "age[0]",
        "(lambda: 1)()",
        "age if age > 1 else 0",
        "f'{age}'",
        "x := 1",
    ],
)
def test_unsafe_constructs_are_refused_at_parse_time(text):
    with pytest.raises(
        FormulaError, match="not allowed in a formula|unknown function|not a valid formula"
    ):
        Formula(text)


def test_syntax_errors_and_empty_formulas():
    with pytest.raises(FormulaError, match="not a valid formula"):
        Formula("age *")
    with pytest.raises(FormulaError, match="expected a formula string"):
        Formula("  ")


def test_formula_errors_are_config_errors():
    assert issubclass(FormulaError, ConfigError) and issubclass(FormulaError, ValueError)


def test_evaluation_failure_is_a_formula_error():
    df = pd.DataFrame({"s": ["a", "b"]})
    with pytest.raises(FormulaError, match="cannot evaluate"):
        Formula("s - 1").evaluate(df)


def test_the_operator_table_is_keyed_by_the_config_grammar():
    from tabloop.config import (
        FORMULA_BINARY_OPERATORS,
        FORMULA_COMPARISONS,
        FORMULA_FUNCTIONS,
        parse_formula,
    )
    from tabloop.prepare._formula import BINARY, COMPARE, TABLE

    assert set(BINARY) == FORMULA_BINARY_OPERATORS
    assert set(COMPARE) == FORMULA_COMPARISONS
    assert {name: f.params for name, f in TABLE.items()} == FORMULA_FUNCTIONS
    assert all(set(f.constant) <= set(f.params) for f in TABLE.values())
    # config parses exactly what prepare evaluates
    text = "lookup(course, {sleep: 1}) * x + where(y > 0, z, 0) + col('a b')"
    assert parse_formula(text).columns == Formula(text).columns
