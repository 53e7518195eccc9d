import numpy as np
import pandas as pd
import pytest

from tabloop.data import Schema, infer_schema
from tabloop.exceptions import ColumnNotFoundError, SchemaError
from tests.conftest import DATASET_FILES

EXPECTED_KINDS = {
    "titanic": {
        "gender": "categorical",
        "age": "numeric",
        "class": "categorical",
        "embarked": "categorical",
        "fare": "numeric",
        "sibsp": "numeric",
        "parch": "numeric",
        "survived": "boolean",
    },
    "arrests": {
        "released": "categorical",
        "colour": "categorical",
        "year": "numeric",
        "age": "numeric",
        "sex": "categorical",
        "employed": "categorical",
        "citizen": "categorical",
        "checks": "numeric",
    },
    "german_credit": {
        "risk": "boolean",
        "sex": "categorical",
        "job": "numeric",
        "housing": "categorical",
        "saving_accounts": "categorical",
        "checking_account": "categorical",
        "credit_amount": "numeric",
        "duration": "numeric",
        "purpose": "categorical",
        "age": "numeric",
    },
    "hr": {
        "Unnamed: 0": "id",
        "gender": "categorical",
        "age": "numeric",
        "hours": "numeric",
        "evaluation": "numeric",
        "salary": "numeric",
        "status": "categorical",
    },
    "apartments": {
        "Unnamed: 0": "id",
        "m2_price": "numeric",
        "construction_year": "numeric",
        "surface": "numeric",
        "floor": "numeric",
        "no_rooms": "numeric",
        "district": "categorical",
    },
}
EXPECTED_KINDS["hr_test"] = EXPECTED_KINDS["hr"]
EXPECTED_KINDS["apartments_test"] = EXPECTED_KINDS["apartments"]


@pytest.mark.parametrize("name", DATASET_FILES)
def test_kinds_are_inferred_on_every_dataset(load, name):
    assert infer_schema(load(name)).kinds() == EXPECTED_KINDS[name]


@pytest.mark.parametrize("name", DATASET_FILES)
def test_nullability_ranges_and_categories_match_pandas(load, name):
    df = load(name)
    schema = infer_schema(df)
    for col in schema:
        series = df[col.name]
        assert col.nullable == bool(series.isna().any())
        assert col.missing_share == pytest.approx(series.isna().mean(), abs=1e-6)
        assert col.n_unique == series.nunique()
        if col.kind == "numeric":
            assert col.min == pytest.approx(series.min())
            assert col.max == pytest.approx(series.max())
            assert col.integer == bool((series.dropna() % 1 == 0).all())
        if col.kind == "categorical":
            assert col.categories == tuple(sorted(series.dropna().astype(str).unique()))


def test_boolean_categories_are_normalised(load):
    schema = infer_schema(load("titanic"))
    assert schema["survived"].categories == ("0", "1")
    bools = infer_schema(pd.DataFrame({"flag": [True, False, None]}))
    assert bools["flag"].kind == "boolean" and bools["flag"].categories == ("false", "true")


def test_schema_round_trips_through_json(tmp_path, load):
    schema = infer_schema(load("german_credit"), target="risk")
    restored = Schema.load(schema.save(tmp_path / "schema.json"))
    assert restored == schema
    assert restored.target == "risk" and restored.features == schema.features


def test_roles_are_recorded_and_id_is_not_a_feature(load):
    df = load("hr")
    schema = infer_schema(df, target="status", id="Unnamed: 0")
    assert schema.target == "status" and schema.id == "Unnamed: 0"
    assert schema.features == ["gender", "age", "hours", "evaluation", "salary"]


def test_overrides_force_kinds(load):
    schema = infer_schema(load("german_credit"), categorical=["job"], numeric=["risk"])
    assert schema["job"].kind == "categorical" and schema["job"].categories == ("0", "1", "2", "3")
    assert schema["risk"].kind == "numeric"


def test_numeric_override_with_a_word_names_the_row_and_value():
    df = pd.DataFrame({"age": ["31", "45", "forty", "28"]})
    with pytest.raises(SchemaError, match=r"Column 'age' must be numeric; got 'forty' in row 2"):
        infer_schema(df, numeric=["age"])


def test_a_stray_word_among_numbers_is_an_error_not_a_category():
    ages = [str(a) for a in range(20, 120)] + ["forty"]
    df = pd.DataFrame({"age": ages})
    with pytest.raises(SchemaError, match="declare 'age' under features.categorical"):
        infer_schema(df)
    assert infer_schema(df, strict=False)["age"].kind == "categorical"


def test_column_in_both_overrides_is_rejected():
    with pytest.raises(SchemaError, match="both categorical and numeric"):
        infer_schema(pd.DataFrame({"a": [1, 2]}), categorical=["a"], numeric=["a"])


def test_unknown_role_column_suggests_close_names(load):
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'survived'"):
        infer_schema(load("titanic"), target="survive")


def test_dates_text_and_string_ids_are_recognised():
    n = 200
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "note": [f"customer wrote message number {i} about delivery" for i in range(n)],
            "ref": [f"R{i:05d}" for i in range(n)],
            "city": rng.choice(["a", "b", "c"], n),
        }
    )
    kinds = infer_schema(df).kinds()
    assert kinds == {"when": "datetime", "note": "text", "ref": "id", "city": "categorical"}
    when = infer_schema(df)["when"]
    assert (when.min, when.max) == ("2024-01-01T00:00:00", "2024-07-18T00:00:00")


def test_all_missing_column_is_nullable():
    col = infer_schema(pd.DataFrame({"x": [np.nan, np.nan], "y": [1, 2]}))["x"]
    assert col.nullable and col.missing_share == 1.0


def test_schema_file_that_is_not_a_schema_is_rejected(tmp_path):
    (tmp_path / "s.json").write_text(
        '{"columns": [{"name": "a", "kind": "weird", "nullable": false}]}'
    )
    with pytest.raises(SchemaError, match="kind 'weird'"):
        Schema.load(tmp_path / "s.json")
    (tmp_path / "t.json").write_text("{broken")
    with pytest.raises(SchemaError, match="Cannot read schema file"):
        Schema.load(tmp_path / "t.json")
