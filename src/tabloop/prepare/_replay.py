"""The numpy replay of a fitted preparation: what every step's ``compile_replay`` shares.

Maintainer note
---------------
Through pandas one row costs milliseconds: each pandas operation has a fixed cost of tens
of microseconds whatever the number of rows. So every tabloop step carries, next to its
``transform``, a *replay*: ``step.compile_replay(kinds)`` reads the fitted state once and
returns a :class:`StepReplay` that runs the same transformation on numpy columns of a
request's rows (:class:`RequestColumns`). The last step (:class:`~tabloop.prepare.Preprocess`)
returns the :class:`Block` the estimator receives; the estimators' replays live beside
the zoo in ``tabloop.train``.

Two exceptions keep the replay honest:

- :class:`Unsupported` at compile time: the fitted step has no exact numpy form (KNN,
  iterative imputation, target encoding, datetime parts, ``//`` in a formula, ...). The
  pipeline keeps the DataFrame path for its preparation.
- :class:`Unclean` at request time: a value outside the domain where both paths provably
  agree (a number sent as text, a list, an integer beyond 2**53 as a category). The whole
  request takes the DataFrame path.

Request values are converted with the one rule of :mod:`tabloop.data._frame`
(``strict_category_key``), and ``tests/prepare/test_replay_contract.py`` proves every step
equal to its ``transform`` on generated rows.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabloop.data.frame import (
    EXACT_INTEGER,
    Unclean,
    float_category_key,
    strict_category_key,
)

__all__ = ["Block", "RequestColumns", "StepReplay", "Unclean", "Unsupported", "View"]

Kinds = dict[str, str]  # column -> num | text | bool (derived) | datetime | ...


class Unsupported(Exception):
    """Internal: this fitted step has no exact numpy replay; the pipeline keeps pandas."""


@dataclass(frozen=True)
class Block:
    """The matrix an estimator receives: float64 values; at ``categorical`` positions the
    code of the value in the matching ``categories`` list (native family only)."""

    values: np.ndarray
    categorical: tuple[int, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_frame(cls, frame: Any) -> Block:
        """The block of a prepared DataFrame (the output of the DataFrame path)."""
        import pandas as pd

        values = np.empty(frame.shape, dtype="float64")
        categorical, categories = [], []
        for j, column in enumerate(frame.columns):
            series = frame[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                codes = series.cat.codes.to_numpy().astype("float64")
                codes[codes < 0] = np.nan
                values[:, j] = codes
                categorical.append(j)
                categories.append(tuple(str(c) for c in series.cat.categories))
            else:
                values[:, j] = series.to_numpy(dtype="float64", na_value=np.nan)
        return cls(values, tuple(categorical), tuple(categories))


def _number(v: Any) -> float:
    kind = type(v)
    if kind is float or kind is int:
        return float(v)
    if v is None:
        return math.nan
    if kind is bool:
        return 1.0 if v else 0.0
    raise Unclean


class RequestColumns:
    """One request's input values, converted per column on first use and shared by every
    pipeline of a model (``memo`` also shares derived columns between them)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.n = len(rows)
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def view(self) -> View:
        """A fresh :class:`View` of these columns, for one pipeline's steps."""
        return View(self)

    def _raw(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def num(self, name: str) -> np.ndarray:
        """``_frame.to_numeric`` of the column."""

        def convert() -> np.ndarray:
            try:
                return np.fromiter(map(_number, self._raw(name)), "float64", self.n)
            except OverflowError:
                raise Unclean from None

        return self.memo(("num", name), convert)  # type: ignore[no-any-return]

    def keys(self, name: str) -> list[str | None]:
        """``_frame.category_keys`` of the column, ``None`` for a missing value."""
        return self.memo(  # type: ignore[no-any-return]
            ("keys", name), lambda: list(map(strict_category_key, self._raw(name)))
        )

    def formula_num(self, name: str) -> tuple[np.ndarray, bool]:
        """The column as a formula sees a numeric one, and whether it has no value at all
        (pandas then holds an object column of nulls, not a float one)."""

        def convert() -> tuple[np.ndarray, bool]:
            for v in self._raw(name):
                kind = type(v)
                if v is not None and (
                    (kind is not int and kind is not float)
                    or (kind is int and abs(v) > EXACT_INTEGER)
                ):
                    raise Unclean  # text, booleans, huge integers: pandas arithmetic differs
            values = self.num(name)
            return values, bool(np.isnan(values).all())

        return self.memo(("formula_num", name), convert)  # type: ignore[no-any-return]

    def text(self, name: str) -> np.ndarray:
        def convert() -> np.ndarray:
            raw = self._raw(name)
            if any(v is not None and type(v) is not str for v in raw):
                raise Unclean
            out = np.empty(self.n, dtype=object)
            out[:] = raw
            return out

        return self.memo(("text", name), convert)  # type: ignore[no-any-return]


class View:
    """One pipeline's view of a request: its :class:`RequestColumns` and the columns the
    pipeline's earlier steps added or replaced (``local``); ``empty`` names the derived
    columns computed from a numeric column with no value in the request; ``trail`` says
    what the steps so far did, as a key: the same trail gives the same ``local``, so
    pipelines with the same formulas share their derived columns through ``cols.memo``.
    """

    __slots__ = ("cols", "empty", "local", "trail")

    def __init__(self, cols: RequestColumns) -> None:
        self.cols = cols
        self.local: dict[str, np.ndarray] = {}
        self.empty: set[str] = set()
        self.trail: tuple[str, ...] = ()

    def step(self, signature: str) -> tuple[str, ...]:
        """Record a step (its :func:`signature`) in the trail; the new trail."""
        self.trail = (*self.trail, signature)
        return self.trail

    @property
    def n(self) -> int:
        return self.cols.n

    def num(self, name: str) -> np.ndarray:
        if name in self.local:
            return self.local[name].astype("float64", copy=False)
        return self.cols.num(name)

    def keys(self, name: str) -> list[str | None]:
        if name not in self.local:
            return self.cols.keys(name)
        values = self.local[name]
        if values.dtype == bool:
            return ["true" if v else "false" for v in values]
        return [float_category_key(v) for v in values.tolist()]


def signature(*parts: Any) -> str:
    """A step's fitted state as an interned string: equal steps of different pipelines
    give the same object, whose hash Python computes once."""
    return sys.intern(repr(parts))


@dataclass(frozen=True)
class StepReplay:
    """A fitted step compiled: ``run(view)`` updates ``view.local`` (the last step returns
    the :class:`Block`); ``kinds`` are the column kinds after the step."""

    run: Callable[[View], Any]
    kinds: Kinds
