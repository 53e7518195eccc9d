"""Free-text columns as numbers: TF-IDF of the words, reduced by a truncated SVD.

A complaint, a note or a description carries signal in its words that neither a category
(every value is new) nor a length captures. ``EncodeText`` replaces each free-text column
by ``components`` numbers: scikit-learn's ``TfidfVectorizer`` as the profile reads text
(:func:`tabloop.data.text_vectorizer`: words and word pairs, lower-cased, sub-linear term
frequency, terms seen in at least two rows, the 50,000 most frequent) followed by
``TruncatedSVD`` (latent semantic analysis, as skrub's ``StringEncoder`` does), fitted on
the training rows only. A column whose
vocabulary is no larger than ``components`` keeps its TF-IDF columns as they are.

Maintainer note
---------------
The replay (:meth:`EncodeText.compile_replay`) calls the same fitted vectorizer and SVD
on the request's strings: TF-IDF weighs each row on its own and the SVD is one matrix
product, so a row's numbers do not depend on the rows sent with it, and both paths give
the same floats. A value that is not a string (a number sent for a text) makes the
request take the DataFrame path, where it is read as its text (``str(value)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.config import TEXT_COMPONENTS
from tabloop.data import frame as _frame
from tabloop.data import infer_schema, text_vectorizer
from tabloop.exceptions import DataError
from tabloop.prepare._replay import StepReplay, Unsupported, View, signature


class EncodeText(TransformerMixin, BaseEstimator):
    """Replace each free-text column by ``components`` TF-IDF + SVD numbers.

    Parameters
    ----------
    declared : columns read as text whatever their inferred kind (``features.text``);
        beside them, every column whose inferred kind is ``text`` at fit time (several
        words per value, more than 50 distinct values) is encoded. A declared column
        absent from ``X`` is passed over: selection dropped it (``features.drop``, not in
        ``features.include``), and :class:`~tabloop.prepare.SelectFeatures` has checked
        that the name exists.
    components : numbers per column (``prepare.text.components``).
    seed : random state of the randomised SVD.

    Attributes
    ----------
    encoders_ : column -> (fitted vectorizer, fitted SVD or ``None``, output names).
    outputs_ : column -> the names of its output columns (``<column>_text_<i>``).

    Examples
    --------
    >>> import pandas as pd
    >>> words = ["late delivery again", "broken on arrival", "great service thanks"]
    >>> df = pd.DataFrame({"note": words * 20, "x": range(60)})
    >>> out = EncodeText(declared=["note"], components=2).fit_transform(df)
    >>> list(out.columns)
    ['x', 'note_text_0', 'note_text_1']
    """

    def __init__(
        self,
        *,
        declared: list[str] | None = None,
        components: int = TEXT_COMPONENTS,
        seed: int = 0,
    ) -> None:
        self.declared = declared
        self.components = components
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> EncodeText:
        _frame.require_frame(X, name="X")
        components = self.components
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise DataError(
                f"prepare.text.components must be a positive integer; got {components!r}."
            )
        declared = [c for c in self.declared or [] if c in X.columns]
        schema = infer_schema(X, strict=False, text=declared)
        columns = [c.name for c in schema if c.kind == "text"]
        self.encoders_: dict[str, tuple[Any, Any, list[str]]] = {}
        for column in columns:
            texts = _frame.as_texts(X[column])
            self.encoders_[column] = self._fit_column(column, texts, X.columns)
        self.outputs_ = {c: names for c, (_, _, names) in self.encoders_.items()}
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_column(
        self, column: str, texts: list[str], existing: pd.Index
    ) -> tuple[Any, Any, list[str]]:
        from sklearn.decomposition import TruncatedSVD

        matrix = None
        for min_df in (2, 1):  # a small table may have no word in two rows
            vectorizer = text_vectorizer(min_df=min_df)
            try:
                matrix = vectorizer.fit_transform(texts)
                break
            except ValueError:  # "empty vocabulary": no term in min_df rows
                continue
        if matrix is None:
            return None, None, []  # not one word in the column: it contributes nothing
        terms = matrix.shape[1]
        svd = None
        width = terms
        if terms > self.components:
            width = max(1, min(self.components, len(texts) - 1))
            svd = TruncatedSVD(n_components=width, random_state=self.seed).fit(matrix)
        names = [f"{column}_text_{i}" for i in range(width)]
        clash = [n for n in names if n in existing]
        if clash:
            raise DataError(
                f"Text column {column!r} is encoded as {names[0]!r}..{names[-1]!r}, but the "
                f"table already has a column {clash[0]!r}; rename it."
            )
        return vectorizer, svd, names

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "encoders_")
        _frame.require_frame(X, name="X")
        _frame.require_columns(X, list(self.encoders_), role="text column")
        out = X.drop(columns=list(self.encoders_))
        parts = [out]
        for column, (vectorizer, svd, names) in self.encoders_.items():
            if not names:
                continue
            values = _encode(vectorizer, svd, _frame.as_texts(X[column]))
            parts.append(pd.DataFrame(values, index=X.index, columns=names))
        return pd.concat(parts, axis=1) if len(parts) > 1 else out

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on a request's strings (the same vectorizer and SVD)."""
        check_is_fitted(self, "encoders_")
        for column in self.encoders_:
            if kinds.get(column) != "text":
                raise Unsupported(f"text column {column!r} of kind {kinds.get(column)!r}")
        encoders = [(c, v, s, n) for c, (v, s, n) in self.encoders_.items() if n]
        step = signature("text", id(self))

        def run(view: View) -> None:
            view.step(step)
            for column, vectorizer, svd, names in encoders:
                raw = view.cols.text(column)  # Unclean for a value that is not a string
                texts = ["" if v is None else v for v in raw]
                values = _encode(vectorizer, svd, texts)
                for j, name in enumerate(names):
                    view.local[name] = values[:, j]

        after = {c: k for c, k in kinds.items() if c not in self.encoders_}
        after.update({n: "num" for names in self.outputs_.values() for n in names})
        return StepReplay(run, after)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "encoders_")
        kept = [str(c) for c in self.feature_names_in_ if c not in self.encoders_]
        added = [n for names in self.outputs_.values() for n in names]
        return np.asarray([*kept, *added], dtype=object)


def _encode(vectorizer: Any, svd: Any, texts: list[str]) -> np.ndarray:
    matrix = vectorizer.transform(texts)
    if svd is None:
        return np.asarray(matrix.toarray(), dtype="float64")
    return np.asarray(svd.transform(matrix), dtype="float64")
