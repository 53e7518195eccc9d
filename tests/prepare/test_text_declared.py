"""``features.text`` is honoured by every step that reads kinds: selection, the free-text
hint of Preprocess, clustering; a misspelt name is an error, not silently ignored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.exceptions import ColumnNotFoundError, DataError
from tabloop.prepare import Preprocess, prepare_pipeline

WORDS = ["late", "broken", "refund", "great", "slow", "rude", "fast", "thanks"]


@pytest.fixture(scope="module")
def table():
    """``title``: 12 two-word values (inferred categorical); ``tags``: hyphenated words,
    unique per row, no space (inferred id-like); both declared text; target ``y``."""
    rng = np.random.default_rng(0)
    n = 300
    first = rng.choice(WORDS[:4], n)
    second = rng.choice(["dev", "ops", "qa"], n)
    df = pd.DataFrame(
        {
            "title": [f"{a} {b}" for a, b in zip(first, second, strict=True)],
            "tags": [f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}" for i in range(n)],
            "x": rng.normal(size=n),
        }
    )
    y = ((first == "late") | (rng.random(n) < 0.3)).astype(int)
    return df, y


def _config(**sections):
    base = {"name": "t", "data": {"train": "t.csv", "target": "y"}}
    return config_from_dict({**base, "features": {"text": ["title", "tags"]}, **sections})


def test_declared_text_is_dropped_as_text_when_encoding_is_off_not_used_as_a_category(table):
    X, y = table
    pipe = prepare_pipeline(_config(prepare={"text": False}), family="linear").fit(X, y)
    reason = "free text, not encoded (prepare.text.encode is false)"
    assert pipe.named_steps["select"].dropped_ == {"title": reason, "tags": reason}
    assert pipe.named_steps["select"].selected_ == ["x"]


def test_declared_text_unique_per_row_is_encoded_not_dropped_as_id_like(table):
    X, y = table
    pipe = prepare_pipeline(_config(prepare={"text": {"components": 2}}), family="linear")
    pipe.fit(X, y)
    assert pipe.named_steps["select"].dropped_ == {}
    assert pipe.named_steps["text"].outputs_ == {
        "title": ["title_text_0", "title_text_1"],
        "tags": ["tags_text_0", "tags_text_1"],
    }


def test_a_misspelt_features_text_column_is_named_with_the_close_match(table):
    X, y = table
    cfg = config_from_dict(
        {
            "name": "t",
            "data": {"train": "t.csv", "target": "y"},
            "features": {"text": ["titel"]},
        }
    )
    with pytest.raises(ColumnNotFoundError, match="features.text column 'titel' .*'title'"):
        prepare_pipeline(cfg, family="linear").fit(X, y)


def test_the_free_text_hint_is_given_for_text_only_not_for_a_column_named_like_it():
    # unique codes without spaces: an id Preprocess cannot use, whose *name* holds "text"
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"context": [f"k{i:03d}" for i in range(60)], "x": rng.normal(size=60)})
    with pytest.raises(DataError) as caught:
        Preprocess(family="linear").fit(X)
    assert "context (id)" in str(caught.value)
    assert "free text" not in str(caught.value)
