"""Infer a table's schema: what each column is, whether it may be missing, what values it takes.

The schema travels with a model (it is logged in the model's MLflow package) so that the
server and the monitor know, without extra wiring, what a valid row looks like.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from tabloop.data import _frame
from tabloop.exceptions import SchemaError

ColumnKind = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]
COLUMN_KINDS: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "text", "id")

#: Most categories stored per column; beyond it a column is treated as text or id-like.
MAX_STORED_CATEGORIES = 10_000
_ID_NAME = re.compile(r"(^id$|_id$|^id_|^unnamed: ?0$|^index$|^row_?(id|number)$|^uuid$)", re.I)
_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})")


@dataclass(frozen=True)
class ColumnSchema:
    """What one column holds.

    ``categories`` are the observed values as comparison keys (see
    ``_frame.category_keys``) for categorical and boolean columns; ``min``/``max`` the
    observed range for numeric (float) and datetime (ISO string) columns.
    """

    name: str
    kind: ColumnKind
    nullable: bool
    missing_share: float = 0.0
    n_unique: int = 0
    integer: bool = False
    categories: tuple[str, ...] | None = None
    min: float | str | None = None
    max: float | str | None = None


@dataclass(frozen=True)
class Schema:
    """The schema of a table: its columns in order, plus the roles of target, id and time."""

    columns: tuple[ColumnSchema, ...]
    target: str | None = None
    id: str | None = None
    time: str | None = None
    n_rows: int = 0
    _by_name: dict[str, ColumnSchema] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise _frame.column_not_found(name, self.names) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def features(self) -> list[str]:
        """Columns that are neither the target nor the id."""
        return [c.name for c in self.columns if c.name not in {self.target, self.id}]

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "id": self.id,
            "time": self.time,
            "n_rows": self.n_rows,
            "columns": [
                {**asdict(c), "categories": list(c.categories) if c.categories else c.categories}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        try:
            columns = tuple(
                ColumnSchema(
                    **{**c, "categories": tuple(c["categories"]) if c.get("categories") else None}
                )
                for c in data["columns"]
            )
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"Not a tabloop schema: {exc}") from exc
        for c in columns:
            if c.kind not in COLUMN_KINDS:
                raise SchemaError(
                    f"Column {c.name!r} has kind {c.kind!r}; expected one of {COLUMN_KINDS}."
                )
        return cls(
            columns=columns,
            target=data.get("target"),
            id=data.get("id"),
            time=data.get("time"),
            n_rows=int(data.get("n_rows", 0)),
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise SchemaError(f"Cannot read schema file '{path}': {exc}") from exc


def infer_schema(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    id: str | None = None,
    time: str | None = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    text: Iterable[str] = (),
    max_categories: int = 50,
    strict: bool = True,
) -> Schema:
    """Infer each column's kind, nullability, categories and observed range.

    Parameters
    ----------
    df : the table.
    target, id, time : roles of columns (each must exist when given).
    categorical, numeric, text : columns whose kind is forced (the ``features`` overrides
        of ``tabloop.yaml``; ``text`` is free text, read by its words).
    max_categories : a text column with more distinct values than this, and several
        words per value, is ``text`` rather than ``categorical``.
    strict : when True, a column that is numeric except for a few stray values (e.g.
        ``'forty'`` among ages) raises :class:`SchemaError` naming the row and value;
        when False it is kept as categorical (the profiler uses this to report it).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabloop.data import infer_schema
    >>> s = infer_schema(pd.DataFrame({"age": [31, 45, None], "sex": ["f", "m", "f"]}))
    >>> s["age"].kind, s["age"].nullable, s["sex"].categories
    ('numeric', True, ('f', 'm'))
    """
    _frame.require_frame(df)
    categorical, numeric, text = set(categorical), set(numeric), set(text)
    roles = {"target": target, "id": id, "time": time}
    named = [c for c in [*roles.values(), *categorical, *numeric, *text] if c is not None]
    _frame.require_columns(df, named)
    for a, b, name_a, name_b in (
        (categorical, numeric, "categorical", "numeric"),
        (text, categorical | numeric, "text", "categorical or numeric"),
    ):
        both = a & b
        if both:
            raise SchemaError(
                f"Column {sorted(both)[0]!r} is declared both {name_a} and {name_b}; keep one."
            )
    columns = []
    for name in df.columns:
        series = df[name]
        forced: ColumnKind | None = None
        if name in categorical:
            forced = "categorical"
        elif name in numeric:
            forced = "numeric"
        elif name in text and name != target:
            forced = "text"
        elif name == id:
            forced = "id"
        elif name == time:
            forced = "datetime" if not _frame.is_numeric(series) else "numeric"
        columns.append(
            _infer_column(str(name), series, forced, max_categories, strict, name == target)
        )
    return Schema(columns=tuple(columns), target=target, id=id, time=time, n_rows=len(df))


def _infer_column(
    name: str,
    series: pd.Series,
    forced: ColumnKind | None,
    max_categories: int,
    strict: bool,
    is_target: bool,
) -> ColumnSchema:
    n = len(series)
    present = series.dropna()
    n_missing = n - len(present)
    n_unique = int(present.nunique())
    base = {
        "name": name,
        "nullable": n_missing > 0,
        "missing_share": round(n_missing / n, 6) if n else 0.0,
        "n_unique": n_unique,
    }
    kind = forced or _guess_kind(name, series, present, n_unique, max_categories, strict, is_target)

    if kind == "numeric":
        values, invalid = _frame.to_numeric(series)
        _reject_invalid(
            series,
            invalid,
            "be numeric",
            f"Fix the value or declare {name!r} under features.categorical in tabloop.yaml.",
        )
        finite = values.dropna()
        return ColumnSchema(
            **base,
            kind="numeric",
            integer=bool(len(finite)) and bool((finite == np.round(finite)).all()),
            min=float(finite.min()) if len(finite) else None,
            max=float(finite.max()) if len(finite) else None,
        )
    if kind == "datetime":
        values, invalid = _frame.to_datetime(series)
        _reject_invalid(series, invalid, "hold dates", "Fix the value or drop the column.")
        finite = values.dropna()
        return ColumnSchema(
            **base,
            kind="datetime",
            min=finite.min().isoformat() if len(finite) else None,
            max=finite.max().isoformat() if len(finite) else None,
        )
    if kind in ("categorical", "boolean"):
        keys = _frame.category_keys(present)  # a 0/1 column keeps "0"/"1": its own encoding
        cats = sorted(keys.unique().tolist())
        return ColumnSchema(**base, kind=kind, categories=tuple(cats[:MAX_STORED_CATEGORIES]))
    return ColumnSchema(**base, kind=kind)


def _reject_invalid(series: pd.Series, invalid: pd.Series, must: str, fix: str) -> None:
    """Raise :class:`SchemaError` naming the first invalid value and its row, if any."""
    if invalid.any():
        row = invalid.idxmax()
        raise SchemaError(
            f"Column {series.name!r} must {must}; got {series[row]!r} in row "
            f"{_frame.row_label(row)} ({int(invalid.sum())} such value(s)). {fix}"
        )


def _guess_kind(
    name: str,
    series: pd.Series,
    present: pd.Series,
    n_unique: int,
    max_categories: int,
    strict: bool,
    is_target: bool,
) -> ColumnKind:
    n_present = len(present)
    if n_present == 0:
        return "numeric" if _frame.is_numeric(series) else "categorical"
    if _frame.is_bool(series):
        return "boolean"
    if _frame.is_datetime(series):
        return "datetime"
    if _frame.is_numeric(series):
        if n_unique <= 2 and present.isin([0, 1]).all():
            return "boolean"
        if not is_target and _looks_like_numeric_id(name, present, n_unique):
            return "id"
        return "numeric"

    # Strings (object, string or categorical dtype).
    no_gaps = np.zeros(len(present), dtype=bool)
    if n_unique <= 2 and not _frame.invalid_bool_array(present, no_gaps).any():
        return "boolean"
    n_invalid, n_stray = _invalid_numbers(present)
    if n_invalid == 0:
        return "numeric"
    if n_invalid <= max(1, 0.01 * n_present) and n_stray <= 3:
        # Numbers with a few stray strings: a data error, not a categorical column.
        if strict:
            return "numeric"  # _infer_column raises with the row and value
        return "categorical"
    if _looks_like_dates(present):
        return "datetime"
    if is_target:
        return "categorical"
    if n_unique == n_present and n_present >= 20 and not _has_spaces(present):
        return "id"
    if _ID_NAME.search(name) and n_unique >= 0.95 * n_present:
        return "id"
    if n_unique > max_categories and _mean_words(present) >= 3:
        return "text"
    return "categorical"


def _invalid_numbers(present: pd.Series) -> tuple[int, int]:
    """Present values that are not numbers, and how many distinct ones: parsed once per
    distinct value (a categorical column of millions of rows has a handful), so the guess
    costs one hash of the column, not one parse per row."""
    distinct = present.value_counts(sort=False)
    distinct = distinct[distinct.to_numpy() > 0]  # a categorical dtype lists unused ones
    values = pd.Series(distinct.index.to_numpy(dtype=object), dtype=object)
    invalid = _frame.to_numeric(values)[1].to_numpy()
    return int(distinct.to_numpy()[invalid].sum()), int(invalid.sum())


def _looks_like_numeric_id(name: str, present: pd.Series, n_unique: int) -> bool:
    if n_unique != len(present) or len(present) < 20:
        return False
    if not (present == np.round(present)).all():
        return False
    if _ID_NAME.search(name):
        return True
    span = float(present.max()) - float(present.min()) + 1
    return span == len(present)  # a consecutive run 1..n is a row number


def _looks_like_dates(present: pd.Series) -> bool:
    sample = present.astype("string").head(200)
    if not sample.str.match(_DATE_LIKE).fillna(False).all():
        return False
    return not _frame.to_datetime(present)[1].any()


def _has_spaces(present: pd.Series) -> bool:
    return bool(present.astype("string").head(1000).str.contains(" ", regex=False).any())


def _mean_words(present: pd.Series) -> float:
    sample = present.astype("string").head(1000)
    return float(sample.str.split().str.len().mean())
