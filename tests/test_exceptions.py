"""Every error tabloop raises pickles whole: raised on a Dask worker, it reaches the caller
as the same type with the same message and fields (README "Scaling out")."""

from __future__ import annotations

import pickle

import pytest

import tabloop.exceptions as errors

FIELDS = {
    "ColumnNotFoundError": {"column": "age", "close_matches": ["Age"]},
    "TargetError": {"column": "outcome", "rows": [3]},
    "StoreOutdatedError": {"current": "a1", "head": "b2"},
    "LogFullError": {"reason": "disk full", "retry_after": 2.0},
}
CLASSES = [
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
]


@pytest.mark.parametrize("name", CLASSES)
def test_every_error_pickles_with_its_type_message_and_fields(name):
    cls = getattr(errors, name)
    error = cls("what went wrong", **FIELDS.get(name, {}))
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == "what went wrong"
    for field, value in FIELDS.get(name, {}).items():
        assert getattr(back, field) == value
