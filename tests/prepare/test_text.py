"""EncodeText: free text as TF-IDF + SVD numbers, equal to scikit-learn's own pipeline,
wired into preparation (training, batch scoring, the service's replay)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score

from tabloop.config import config_from_dict
from tabloop.exceptions import DataError
from tabloop.prepare import EncodeText, Preprocess, SelectFeatures, Unsupported, prepare_pipeline
from tests.complaints import FILLER, ISSUES, complaints
from tests.prepare.test_replay_contract import CONTRACT, check_rows, frame_block, replay_block


@pytest.fixture(scope="module")
def table():
    df = complaints(600)
    return df.drop(columns="churned"), df["churned"].to_numpy()


def sklearn_encoding(train: pd.Series, score: pd.Series, components: int) -> np.ndarray:
    """The documented recipe, built directly from scikit-learn."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    matrix = vectorizer.fit_transform(train.fillna("").tolist())
    svd = TruncatedSVD(n_components=components, random_state=0).fit(matrix)
    return svd.transform(vectorizer.transform(score.fillna("").tolist()))


def test_text_becomes_svd_numbers_equal_to_sklearns_tfidf_and_svd(table):
    X, _ = table
    train, new = X.iloc[:400], X.iloc[400:]
    step = EncodeText(components=5).fit(train)
    out = step.transform(new)
    names = [f"complaint_text_{i}" for i in range(5)]
    assert list(out.columns) == ["tenure", "plan", *names]
    expected = sklearn_encoding(train["complaint"], new["complaint"], 5)
    np.testing.assert_allclose(out[names].to_numpy(), expected, atol=1e-12)
    pd.testing.assert_frame_equal(out[["tenure", "plan"]], new[["tenure", "plan"]])


def test_a_vocabulary_smaller_than_components_keeps_its_tfidf_columns():
    df = pd.DataFrame({"note": ["red apple", "green apple", "red pear", None] * 20})
    out = EncodeText(declared=["note"], components=30).fit_transform(df)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    expected = vectorizer.fit_transform(df["note"].fillna("")).toarray()
    assert out.shape == (80, expected.shape[1])  # 7 terms: no SVD
    np.testing.assert_allclose(out.to_numpy(), expected, atol=1e-12)


def test_bad_components_name_the_key():
    with pytest.raises(DataError, match=r"prepare.text.components must be a positive integer"):
        EncodeText(components=0).fit(pd.DataFrame({"a": ["x y z"]}))


def test_preparation_encodes_text_by_default_and_drops_it_with_a_reason_when_off(table):
    X, y = table
    base = {"name": "t", "data": {"train": "t.csv", "target": "churned"}}
    on = prepare_pipeline(config_from_dict(base), family="linear").fit(X, y)
    assert [n for n, _ in on.steps] == ["derive", "log", "select", "text", "preprocess"]
    assert "complaint" in on.named_steps["select"].selected_
    assert len(on.named_steps["text"].outputs_["complaint"]) == 30
    off_config = config_from_dict({**base, "prepare": {"text": False}})
    off = prepare_pipeline(off_config, family="linear").fit(X, y)
    assert "text" not in off.named_steps
    assert off.named_steps["select"].dropped_ == {
        "complaint": "free text, not encoded (prepare.text.encode is false)"
    }
    few = config_from_dict({**base, "prepare": {"text": {"components": 4}}})
    assert prepare_pipeline(few, family="native").fit(X, y).transform(X).shape[1] == 2 + 4


# -- the service's replay equals the DataFrame path ----------------------------------------
WORDS = [w for words, _ in ISSUES.values() for w in words] + FILLER + ["unheard", "zzz"]
TEXTS = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
    st.none(),
    st.sampled_from(["", "  ", "REFUND Refund refund!", "ünïcode café 😀"]),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "tenure": st.one_of(st.integers(0, 80), st.none()),
            "plan": st.sampled_from(["basic", "plus", "pro", None]),
            "complaint": TEXTS,
        }
    ),
    min_size=1,
    max_size=6,
)
KINDS = {"tenure": "numeric", "plan": "categorical", "complaint": "text"}


@pytest.mark.parametrize("components", [8, 1000])  # SVD, and the TF-IDF columns as they are
@pytest.mark.parametrize("family", ["native", "tree", "linear"])
def test_text_replay_equals_transform(table, family, components):
    X, y = table
    steps = [
        SelectFeatures(correlation_threshold=None, leakage_cutoff=None, encode_text=True),
        EncodeText(components=components),
        Preprocess(family=family),
    ]
    Xt = X
    for step in steps:
        Xt = step.fit(Xt, y).transform(Xt)
    inputs = list(X.columns)

    @CONTRACT
    @given(ROWS)
    def contract(rows):
        check_rows(
            lambda r: frame_block(steps, inputs, r), lambda r: replay_block(steps, KINDS, r), rows
        )

    contract()


# -- training, batch scoring and serving read the text -------------------------------------
def _train(df: pd.DataFrame, encode: bool):
    from tabloop.train import train

    config = config_from_dict(
        {
            "name": "c",
            "data": {"train": "(memory)", "target": "churned"},
            "prepare": {"text": {"encode": encode, "components": 20}},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
        }
    )
    return train(df, config=config)


def test_a_model_reading_the_text_beats_one_without_it_on_the_test_split():
    from tabloop.serve._compiled import compile_model

    df = complaints(1_200)
    with_text, without = _train(df, True), _train(df, False)
    assert "complaint" in with_text.model.inputs
    assert without.dropped["complaint"].startswith("free text, not encoded")
    test = with_text.test
    assert test.index.equals(without.test.index)
    auc = {
        name: roc_auc_score(test["churned"], result.model.predict_scores(test))
        for name, result in (("with", with_text), ("without", without))
    }
    assert auc["with"] > auc["without"] + 0.1, auc
    # the terminal says what became of the text, either way
    from tabloop.workflows._train import dropped_lines, text_lines

    assert text_lines(with_text) == [
        "text 'complaint': read as 20 TF-IDF + SVD numbers (prepare.text)"
    ]
    assert text_lines(without) == []
    said = dropped_lines(without.dropped)
    assert "dropped 'complaint': free text, not encoded (prepare.text.encode is false)" in said
    # listing free text in features.include does not keep it: the hint shows only for others
    assert ("  (to keep a column, list it in features.include or prepare.keep)" in said) == any(
        not reason.startswith("free text") for reason in without.dropped.values()
    )
    # the service's compiled path reads the text as the batch path does
    compiled = compile_model(with_text.model)
    assert compiled.summary() == {"compiled": 1}
    rows = test.drop(columns="churned").head(20).astype(object)
    rows = rows.where(rows.notna(), None).to_dict(orient="records")
    np.testing.assert_allclose(
        compiled.predict_scores(rows), with_text.model.predict_scores(test.head(20)), atol=1e-12
    )


def test_a_column_declared_text_is_encoded_and_is_text_in_the_model_schema():
    from tabloop.train import train

    rng = np.random.default_rng(0)
    level = rng.choice(["senior", "junior", "lead", "staff"], 400)
    df = pd.DataFrame(
        {
            "title": [f"{a} {b}" for a, b in zip(level, rng.integers(0, 80, 400), strict=True)],
            "x": rng.normal(size=400),
            "y": ((level == "senior") | (rng.random(400) < 0.2)).astype(int),
        }
    )
    config = config_from_dict(
        {
            "name": "t",
            "data": {"train": "(memory)", "target": "y"},
            "features": {"text": ["title"]},
            "prepare": {"text": {"components": 3}},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
        }
    )
    result = train(df, config=config)
    (pipe,) = result.model.members[-1].pipelines
    assert pipe.named_steps["text"].outputs_ == {
        "title": ["title_text_0", "title_text_1", "title_text_2"]
    }
    assert result.model.schema["title"].kind == "text"


def test_an_unfitted_encoder_refuses_to_transform_or_replay(table):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EncodeText().transform(table[0])
    with pytest.raises(NotFittedError):
        EncodeText().compile_replay(KINDS)


def test_a_text_column_of_another_kind_keeps_the_dataframe_path(table):
    step = EncodeText(declared=["plan"]).fit(table[0])
    with pytest.raises(Unsupported, match="text column 'plan' of kind 'num'"):
        step.compile_replay({"tenure": "num", "plan": "num", "complaint": "text"})
