"""How predictive each free-text column is, in the profile: equal to scikit-learn's own
cross-validated TF-IDF + linear model, in the JSON, the HTML and on the terminal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from tabloop.data import profile
from tabloop.data._predictive import text_power
from tests.complaints import complaints


@pytest.fixture(scope="module")
def table():
    return complaints(1_000, seed=3)


def sklearn_text_auc(df: pd.DataFrame) -> float:
    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=1_000),
    )
    texts = df["complaint"].fillna("").to_numpy()
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    proba = cross_val_predict(pipe, texts, df["churned"], cv=cv, method="predict_proba")
    return roc_auc_score(df["churned"], proba[:, 1])


def test_text_auc_equals_sklearns_cross_validated_tfidf_logistic_regression(table):
    (entry,) = text_power(table, ["complaint"], "churned", "binary")
    assert entry["metric"] == "roc_auc" and entry["rows"] == len(table)
    assert entry["score"] == pytest.approx(sklearn_text_auc(table), abs=5e-5)
    assert entry["score"] > 0.75  # the words carry the issue, which drives churn


def test_text_r2_equals_sklearns_cross_validated_tfidf_ridge(table):
    rng = np.random.default_rng(0)
    spend = table["complaint"].fillna("").str.count("refund") * 10 + rng.normal(0, 3, len(table))
    df = table.assign(spend=spend)
    (entry,) = text_power(df, ["complaint"], "spend", "regression")
    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), Ridge(alpha=1.0)
    )
    predicted = cross_val_predict(
        pipe,
        df["complaint"].fillna("").to_numpy(),
        spend,
        cv=KFold(5, shuffle=True, random_state=0),
    )
    assert entry["metric"] == "r2"
    assert entry["score"] == pytest.approx(r2_score(spend, predicted), abs=5e-5)


def test_a_large_table_is_scored_on_a_seeded_sample(table):
    (entry,) = text_power(table, ["complaint"], "churned", "binary", max_rows=400)
    assert entry["rows"] == 400
    assert entry["score"] == pytest.approx(
        sklearn_text_auc(table.sample(400, random_state=0)), abs=5e-5
    )


def test_the_profile_scores_text_by_its_words_and_shows_it(table, tmp_path, capsys):
    from tabloop.cli._output import print_profile_summary

    result = profile(table, target="churned")
    (entry,) = result.data["text_power"]
    assert entry["column"] == "complaint"
    assert entry["score"] == pytest.approx(sklearn_text_auc(table), abs=5e-5)
    assert "complaint" not in [p["column"] for p in result.data["predictive_power"]]
    paths = result.save(tmp_path)
    assert json.loads(paths["json"].read_text())["text_power"][0]["score"] == entry["score"]
    html = paths["html"].read_text()
    assert "Free text" in html and "TF-IDF (words and pairs) + logistic regression" in html
    print_profile_summary(result.data)
    assert f"text 'complaint' alone: ROC-AUC {entry['score']:.3f}" in capsys.readouterr().out


def test_words_written_after_the_outcome_are_flagged_as_leakage(table):
    notes = np.where(table["churned"] == 1, "account closed refund issued", "renewal confirmed")
    rng = np.random.default_rng(1)
    df = table.assign(agent_note=[f"{n} ticket {rng.integers(1e6)} handled today" for n in notes])
    result = profile(df, target="churned")
    flagged = [w for w in result.warnings if w["kind"] == "leakage"]
    assert [w["column"] for w in flagged] == ["agent_note"]
    assert (
        "the words of 'agent_note' alone predict the target with ROC-AUC 1.000"
        in (flagged[0]["message"])
    )
