"""Clustering leaves free text out (README, Concepts: thirty TF-IDF numbers a column would
outweigh the rest in the distances) and the terminal summary names each such column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.exceptions import ColumnNotFoundError
from tabloop.workflows import summary_lines, train_and_register

WORDS = ["late", "broken", "refund", "great", "slow", "rude", "fast", "thanks", "again"]


def _customers(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    centre = rng.integers(0, 2, n) * 4.0
    return pd.DataFrame(
        {
            "spend": centre + rng.normal(size=n),
            "visits": centre + rng.normal(size=n),
            # several words a value, nearly each value new: inferred free text
            "note": [" ".join(rng.choice(WORDS, 4)) + f" order {i}" for i in range(n)],
            # 6 two-word values: a category unless declared text
            "title": [
                f"{a} {b}"
                for a, b in zip(
                    rng.choice(["senior", "junior"], n),
                    rng.choice(["dev", "ops", "qa"], n),
                    strict=True,
                )
            ],
        }
    )


def _config(text: list[str]):
    return config_from_dict(
        {
            "name": "c",
            "task": "clustering",
            "data": {"train": "(memory)"},
            "features": {"text": text},
            "train": {"clusters": {"k": 2}},
        }
    )


def test_free_text_is_left_out_of_clustering_and_the_summary_names_it(tmp_path):
    run = train_and_register(_config(["title"]), df=_customers(), out_dir=tmp_path, register=False)
    reason = "free text (not used for clustering)"
    assert run.result.dropped == {"note": reason, "title": reason}
    assert [c.name for c in run.result.model.schema] == ["spend", "visits"]
    lines = summary_lines(run)
    start = lines.index(f"dropped 'note': {reason}")
    assert lines[start + 1] == f"dropped 'title': {reason}"
    # features.include cannot bring text into clustering: no hint that says it can
    assert not any("to keep a column" in line for line in lines)


def test_a_misspelt_features_text_column_stops_clustering_with_its_name(tmp_path):
    with pytest.raises(ColumnNotFoundError, match="features.text column 'titel' .*'title'"):
        train_and_register(_config(["titel"]), df=_customers(), out_dir=tmp_path, register=False)
