"""Small requests and large batches take different code paths inside the validator (plain
Python below ``_frame.SMALL`` values, pandas above); they must agree on every input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabloop.data import _frame, infer_schema, validate

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-10, 10),
    st.just(float("nan")),
    st.sampled_from(["a", "b", "zz", "1", "2.0", "true", "False", " 3 ", "x y"]),
)


@pytest.fixture(scope="module")
def schema():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "num": rng.normal(0, 3, 300),
            "cat": rng.choice(["a", "b", "1"], 300),
            "flag": rng.choice([True, False], 300),
            "code": rng.choice([1, 2, 3], 300),
        }
    )
    return infer_schema(reference, categorical=["code"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(values, values, values, values), min_size=1, max_size=12))
def test_small_and_large_paths_give_the_same_report(schema, rows, monkeypatch):
    frame = pd.DataFrame(rows, columns=["num", "cat", "flag", "code"], dtype=object)
    monkeypatch.setattr(_frame, "SMALL", 10_000)
    small = validate(frame, schema).to_dict()
    monkeypatch.setattr(_frame, "SMALL", 0)
    large = validate(frame, schema).to_dict()
    assert small == large


def test_scalar_and_vector_category_keys_agree():
    mixed = pd.Series([1, 1.0, "1", True, 2.5, "b", None], dtype=object)
    vector = _frame.category_keys(mixed).tolist()
    scalar = [None if v is None else _frame.category_key(v) for v in mixed]
    assert vector[:-1] == scalar[:-1] == ["1", "1", "1", "true", "2.5", "b"]
