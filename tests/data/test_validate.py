import numpy as np
import pandas as pd
import pytest

from tabloop.data import infer_schema, validate
from tabloop.exceptions import SchemaError
from tests.conftest import DATASET_FILES

# (dataset, a numeric feature, a categorical feature) for the corruption tests
CORRUPTIBLE = {
    "arrests": ("age", "colour"),
    "titanic": ("fare", "embarked"),
    "german_credit": ("credit_amount", "purpose"),
    "hr": ("hours", "gender"),
    "hr_test": ("hours", "gender"),
    "apartments": ("surface", "district"),
    "apartments_test": ("surface", "district"),
}


@pytest.mark.parametrize("name", DATASET_FILES)
def test_every_dataset_validates_against_its_own_schema(load, name):
    df = load(name)
    report = validate(df, infer_schema(df), require_target=True)
    assert report.problems == []
    assert report.ok and report.n_rows == len(df)


@pytest.mark.parametrize("train,test", [("hr", "hr_test"), ("apartments", "apartments_test")])
def test_test_files_differ_from_training_only_by_range(load, train, test):
    reference, new = load(train), load(test)
    schema = infer_schema(reference)
    report = validate(new, schema)
    expected = {}
    for col in schema:
        if col.kind == "numeric":
            outside = (new[col.name] < reference[col.name].min()) | (
                new[col.name] > reference[col.name].max()
            )
            if outside.any():
                expected[col.name] = int(outside.sum())
    assert report.ok
    assert {p.column: p.count for p in report.problems} == expected
    assert all(p.kind == "out_of_range" and p.severity == "warning" for p in report.problems)


@pytest.mark.parametrize("name", DATASET_FILES)
def test_every_kind_of_problem_is_found_on_a_corrupted_copy(load, name):
    numeric, categorical = CORRUPTIBLE[name]
    df = load(name)
    schema = infer_schema(df)
    bad = df.copy().astype({numeric: object, categorical: object})
    dropped = next(
        c for c in schema.features if c not in (numeric, categorical) and schema[c].kind != "id"
    )
    bad = bad.drop(columns=[dropped]).assign(unexpected=1)
    bad.loc[3, numeric] = "oops"
    bad.loc[7, numeric] = float(df[numeric].max()) * 10
    bad.loc[5, categorical] = "zzz_unseen"
    emptied = next(
        c
        for c in schema.features
        if c not in (numeric, categorical, dropped) and schema[c].kind != "id"
    )
    bad[emptied] = np.nan

    problems = {(p.kind, p.column): p for p in validate(bad, schema).problems}
    assert set(problems) == {
        ("missing_column", dropped),
        ("extra_column", "unexpected"),
        ("wrong_type", numeric),
        ("out_of_range", numeric),
        ("unseen_category", categorical),
        ("all_missing", emptied),
    }
    wrong = problems[("wrong_type", numeric)]
    assert (wrong.first_row, wrong.value, wrong.count) == (3, "oops", 1)
    assert f"Column '{numeric}' must be numeric; got 'oops' in row 3" in wrong.message
    assert problems[("out_of_range", numeric)].first_row == 7
    unseen = problems[("unseen_category", categorical)]
    assert (unseen.first_row, unseen.value, unseen.count) == (5, ["zzz_unseen"], 1)
    assert problems[("all_missing", emptied)].severity == (
        "warning" if schema[emptied].nullable else "error"
    )


def test_single_row_request_is_checked_like_a_batch(load):
    schema = infer_schema(load("titanic"), target="survived")
    row = pd.DataFrame(
        [
            {
                "gender": "male",
                "age": "forty",
                "class": "1st",
                "embarked": "Mars",
                "fare": 7.0,
                "sibsp": 0,
                "parch": 0,
            }
        ]
    )
    report = validate(row, schema)
    assert [(p.kind, p.column) for p in report.problems] == [
        ("wrong_type", "age"),
        ("unseen_category", "embarked"),
    ]
    assert report.problems[0].first_row == 0


def test_target_is_optional_unless_required(load):
    df = load("titanic")
    schema = infer_schema(df, target="survived")
    features = df.drop(columns=["survived"])
    assert validate(features, schema).ok
    report = validate(features, schema, require_target=True)
    assert [(p.kind, p.column) for p in report.problems] == [("missing_column", "survived")]


def test_context_columns_may_be_allowed_explicitly(load):
    df = load("arrests")
    schema = infer_schema(df)
    with_context = df.assign(officer_decision="search")
    assert not validate(with_context, schema).ok
    assert validate(with_context, schema, allow_extra=["officer_decision"]).ok
    assert validate(with_context, schema, allow_extra=True).ok


def test_misspelt_column_suggests_the_schema_name(load):
    df = load("titanic")
    report = validate(df.rename(columns={"fare": "fair"}), infer_schema(df))
    extra = next(p for p in report.problems if p.kind == "extra_column")
    assert "Did you mean 'fare'?" in extra.message


def test_categories_match_across_int_float_and_string_encodings():
    schema = infer_schema(pd.DataFrame({"grade": pd.Series([1, 2, 3] * 5)}), categorical=["grade"])
    same = pd.DataFrame({"grade": pd.Series([1.0, 2.0, 3.0])})
    as_text = pd.DataFrame({"grade": ["1", "2", "3"]})
    assert validate(same, schema).ok and validate(as_text, schema).ok
    assert not validate(pd.DataFrame({"grade": [4]}), schema).ok


def test_missing_values_in_a_column_that_had_none_are_a_warning(load):
    df = load("german_credit")
    schema = infer_schema(df)
    new = df.head(10).copy()
    new.loc[4, "age"] = np.nan
    (problem,) = validate(new, schema).problems
    assert (problem.kind, problem.severity, problem.first_row) == (
        "unexpected_missing",
        "warning",
        4,
    )


def test_booleans_accept_true_false_and_zero_one(load):
    schema = infer_schema(load("titanic"))
    ok = pd.DataFrame({"survived": [True, False, 1, 0]})
    assert not [
        p for p in validate(ok, schema, allow_extra=True).problems if p.column == "survived"
    ]
    bad = pd.DataFrame({"survived": [2]})
    (p,) = [p for p in validate(bad, schema).problems if p.column == "survived"]
    assert p.kind == "wrong_type"


def test_raise_for_errors_lists_every_error_and_carries_the_report(load):
    df = load("titanic")
    schema = infer_schema(df)
    bad = df.drop(columns=["age"]).assign(extra=1)
    report = validate(bad, schema)
    with pytest.raises(SchemaError, match="2 schema error") as info:
        report.raise_for_errors()
    assert info.value.report is report
    assert isinstance(info.value, ValueError)


def test_report_is_json_ready(load):
    import json

    df = load("arrests")
    bad = df.head(3).astype({"age": object})
    bad.loc[1, "age"] = "old"
    data = validate(bad, infer_schema(df)).to_dict()
    assert json.loads(json.dumps(data))["problems"][0]["value"] == "old"
    assert data["ok"] is False


def test_large_frame_reports_counts_not_rows(load):
    df = load("apartments")
    schema = infer_schema(df)
    big = pd.concat([df] * 100, ignore_index=True)
    big.loc[big.index % 1000 == 0, "district"] = "Atlantis"
    (p,) = validate(big, schema).problems
    assert p.count == int((big["district"] == "Atlantis").sum()) == 100
    assert p.first_row == 0


@pytest.mark.parametrize("call", ["profile", "infer_schema", "validate", "split"])
def test_python_entry_points_reject_what_is_not_a_dataframe(load, call):
    import tabloop
    from tabloop.exceptions import DataError

    schema = infer_schema(load("titanic"))
    args = {"validate": ([{"age": 1}], schema)}.get(call, ([{"age": 1}],))
    with pytest.raises(DataError, match="must be a pandas DataFrame; got list"):
        getattr(tabloop, call)(*args)
