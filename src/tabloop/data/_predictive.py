"""How well each column alone predicts the target, and the leakage that this exposes.

A column known only after the outcome (a release date, an authorisation code written at
the search) predicts the target almost perfectly on its own; an honest column rarely does.
Each column is scored by an out-of-fold target encoding: numeric columns are cut into
quantile bins first, missing values are a level of their own, and the encoding is fitted on
the other folds (sklearn's ``TargetEncoder`` cross-fitting), so a high-cardinality column
cannot score well by memorising rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tabloop.data import _frame

_BINS = 20
_FOLDS = 5
#: Most labelled rows :func:`text_power` cross-validates on (a seeded sample beyond it).
TEXT_ROWS = 20_000
#: How :func:`text_power` reads a text column, for the report.
TEXT_METHOD = "TF-IDF (words and pairs) + {model}, 5-fold out of fold"
#: Most terms a text column keeps (the most frequent), to bound memory on large tables.
MAX_TERMS = 50_000


def text_vectorizer(*, min_df: int = 2) -> Any:
    """The one TF-IDF reading of free text, shared by the profile (:func:`text_power`) and
    ``tabloop.prepare.EncodeText``: words and word pairs, lower-cased, sub-linear term
    frequency, terms in at least ``min_df`` rows, the :data:`MAX_TERMS` most frequent.
    Feed it :func:`tabloop.data.frame.as_texts` of a column."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=min_df,
        max_features=MAX_TERMS,
        sublinear_tf=True,
        dtype=np.float64,
    )


def single_feature_power(
    df: pd.DataFrame, columns: list[str], target: str, task: str, *, seed: int = 0
) -> list[dict[str, Any]]:
    """Score of each column alone: ROC-AUC (binary; macro one-vs-rest for multiclass) or R²."""
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.preprocessing import TargetEncoder

    y = df[target]
    if task == "regression":
        y_fit = y.astype("float64").to_numpy()
        cv = KFold(_FOLDS, shuffle=True, random_state=seed)
        target_type = "continuous"
        metric = "r2"
    else:
        # class codes in the keys' sorted order (the order TargetEncoder gives the keys):
        # integers, because sklearn's folds and encoder sort an object array value by value
        y_fit = pd.factorize(_frame.category_keys(y), sort=True)[0]
        cv = StratifiedKFold(_FOLDS, shuffle=True, random_state=seed)
        target_type = "binary" if task == "binary" else "multiclass"
        metric = "roc_auc"
    results = []
    for column in columns:
        # each level as an integer code: sklearn finds the categories of an object column
        # by sorting its values one by one
        levels = pd.factorize(_levels(df[column]))[0].reshape(-1, 1)
        encoder = TargetEncoder(target_type=target_type, cv=cv)
        encoded = encoder.fit_transform(levels, y_fit)
        if task == "regression":
            score = r2_score(y_fit, encoded[:, 0])
        elif task == "binary":
            positive = encoder.classes_[1]
            score = roc_auc_score(y_fit == positive, encoded[:, 0])
        else:
            proba = encoded / encoded.sum(axis=1, keepdims=True).clip(min=1e-12)
            score = roc_auc_score(
                y_fit, proba, multi_class="ovr", average="macro", labels=encoder.classes_
            )
        results.append({"column": column, "metric": metric, "score": round(float(score), 4)})
    results.sort(key=lambda r: -r["score"])
    return results


def text_power(
    df: pd.DataFrame,
    columns: list[str],
    target: str,
    task: str,
    *,
    seed: int = 0,
    max_rows: int = TEXT_ROWS,
) -> list[dict[str, Any]]:
    """How well each free-text column alone predicts the target.

    A text column cannot be target-encoded value by value (nearly every text is new), so its
    words are: TF-IDF of words and word pairs (:func:`text_vectorizer`: terms in two rows or
    more, sub-linear counts; a missing text is empty) feeding a logistic regression
    (``C=1``; ridge, ``alpha=1``, for regression), both fitted inside each of 5 folds
    (stratified for classes, shuffled with ``seed``); the pooled out-of-fold predictions
    give ROC-AUC (macro one-vs-rest for multiclass) or R². Rows beyond ``max_rows`` are
    left out by a seeded sample (``rows`` says how many were used). ``score`` is ``None`` when
    no word appears in two rows.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    if len(df) > max_rows:
        df = df.sample(max_rows, random_state=seed)
    y = df[target]
    if task == "regression":
        y_fit = y.astype("float64").to_numpy()
        cv: Any = KFold(_FOLDS, shuffle=True, random_state=seed)
        model: Any = Ridge(alpha=1.0)
        method, name, metric = "predict", "ridge regression", "r2"
    else:
        y_fit = pd.factorize(_frame.category_keys(y), sort=True)[0]
        cv = StratifiedKFold(_FOLDS, shuffle=True, random_state=seed)
        model = LogisticRegression(C=1.0, max_iter=1_000)
        method, name, metric = "predict_proba", "logistic regression", "roc_auc"
    results = []
    for column in columns:
        texts = np.asarray(_frame.as_texts(df[column]), dtype=object)
        pipe = make_pipeline(text_vectorizer(), model)
        entry: dict[str, Any] = {
            "column": column,
            "metric": metric,
            "score": None,
            "rows": int(len(df)),
            "method": TEXT_METHOD.format(model=name),
        }
        try:
            predicted = cross_val_predict(pipe, texts, y_fit, cv=cv, method=method)
        except ValueError as exc:  # "empty vocabulary": no word in two rows of a fold
            if "vocabulary" not in str(exc):
                raise
            results.append(entry)
            continue
        if task == "regression":
            score = r2_score(y_fit, predicted)
        elif task == "binary":
            score = roc_auc_score(y_fit == 1, predicted[:, 1])
        else:
            score = roc_auc_score(y_fit, predicted, multi_class="ovr", average="macro")
        entry["score"] = round(float(score), 4)
        results.append(entry)
    results.sort(key=lambda r: -(r["score"] if r["score"] is not None else -np.inf))
    return results


def pure_segments(
    df: pd.DataFrame,
    columns: list[str],
    target: str,
    *,
    min_rows: int,
    min_share: float,
) -> list[dict[str, Any]]:
    """Category values with at least ``min_rows`` rows whose target is (almost) constant.

    Only values whose purity stands out from the target's overall balance are listed: a
    segment 99% negative is unremarkable when the whole table is 99% negative.
    """
    y = _frame.category_keys(df[target])
    overall = y.value_counts(normalize=True)
    found = []
    for column in columns:
        levels = _frame.category_keys(df[column]).fillna("(missing)")
        table = pd.crosstab(levels, y)
        sizes = table.sum(axis=1)
        shares = table.div(sizes, axis=0)
        for value in sizes.index[sizes >= min_rows]:
            top_class = shares.loc[value].idxmax()
            share = float(shares.loc[value, top_class])
            if share >= min_share and overall[top_class] < min_share - 0.05:
                found.append(
                    {
                        "column": column,
                        "value": value,
                        "rows": int(sizes[value]),
                        "target_value": top_class,
                        "share": round(share, 4),
                        "overall_share": round(float(overall[top_class]), 4),
                    }
                )
    found.sort(key=lambda s: (-s["share"], -s["rows"]))
    return found


def _levels(series: pd.Series) -> pd.Series:
    """Discrete levels for a column: quantile bins for numbers, keys for the rest."""
    if _frame.is_numeric(series) and series.nunique() > _BINS:
        binned = pd.qcut(series, q=_BINS, labels=False, duplicates="drop")
        levels = binned.astype("Int64").astype("string")
    elif _frame.is_datetime(series):
        binned = pd.qcut(
            series.astype("int64").where(series.notna()), q=_BINS, labels=False, duplicates="drop"
        )
        levels = binned.astype("Int64").astype("string")
    else:
        levels = _frame.category_keys(series)
    return levels.fillna("(missing)").astype(object)
