"""features.text: a column declared free text is text whatever its values look like."""

from __future__ import annotations

import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.data import infer_schema, profile
from tabloop.exceptions import ConfigError, SchemaError

TITLES = pd.DataFrame(
    {
        "title": [f"{a} {b}" for a in ("senior", "junior", "lead", "staff") for b in range(60)],
        "y": [0, 1] * 120,
    }
)


def test_a_declared_text_column_is_text_though_its_values_are_short():
    assert infer_schema(TITLES)["title"].kind == "categorical"  # two words a value
    assert infer_schema(TITLES, text=["title"])["title"].kind == "text"


def test_a_column_declared_text_and_categorical_is_refused_naming_it():
    with pytest.raises(SchemaError, match="Column 'title' is declared both text and categorical"):
        infer_schema(TITLES, text=["title"], categorical=["title"])
    with pytest.raises(ConfigError, match="'title' is in both 'text' and 'categorical'"):
        config_from_dict(
            {
                "name": "t",
                "data": {"train": "t.csv", "target": "y"},
                "features": {"text": ["title"], "categorical": ["title"]},
            }
        )


def test_the_profile_scores_a_declared_text_column_by_its_words():
    result = profile(TITLES, target="y", text=["title"])
    assert [p["column"] for p in result.data["text_power"]] == ["title"]
    assert "title" not in [p["column"] for p in result.data["predictive_power"]]
