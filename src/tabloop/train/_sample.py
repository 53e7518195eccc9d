"""Learning-curve sampling: train on as many rows as help, within the time budget.

Maintainer note. ``train.sample`` decides how many training rows the models see:

- ``null``: every training row.
- ``N``: a sample of N rows (every row, said in a note, when N is not smaller).
- ``auto`` (the default): every row up to :data:`AUTO_MIN_ROWS`; above, the zoo is
  cross-validated on nested samples of :data:`FIRST_SIZE` rows, then :data:`GROWTH` times
  more each step (20,000, 80,000, 320,000 ... and finally every row). It stops at the first
  step whose best score gains less than the standard error of that gain, or before a step
  whose estimated cost (the last step's time times :data:`GROWTH`) would pass the
  cross-validation deadline; the last step's cross-validation is the one the run keeps. The
  chosen models are then refitted on the largest sample the rest of the budget allows
  (:func:`refit_rows`), and the test split is always scored whole.

Samples are nested (each is the start of one fixed order of the rows), so a bigger sample
holds every row of a smaller one, and they follow the split strategy: stratified by class
(every prefix of the order holds each class within one row of its share), whole groups for
a group split (only the last group of a sample may be cut), the latest rows for a time split
(missing times last), uniform otherwise. A step too small for the folds (fewer rows of a
rare class, or groups, than folds) is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig

#: Below this many training rows, ``auto`` uses them all (the curve would cost more than it saves).
AUTO_MIN_ROWS = 100_000
#: The first sample of the curve, and how much each step multiplies it.
FIRST_SIZE = 20_000
GROWTH = 4


#: The reason when every training row is used without a question.
ALL_ROWS = "every training row"


@dataclass
class Sampling:
    """How many training rows the models saw, and why (plain data for the report).

    ``curve`` has one entry per step: its ``size``, the best ``model``, that model's
    ``mean`` fold score (oriented: higher is better), ``std`` over folds and standard error
    ``se``, and the step's ``seconds``. ``order`` is the sampling order of the training rows
    (:func:`sample_order`; None when every row was used)."""

    rows: int  # training rows available
    size: int  # rows cross-validated
    refit_size: int  # rows the chosen models were refitted on
    reason: str
    curve: list[dict[str, Any]] = field(default_factory=list)
    order: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "size": self.size,
            "refit_size": self.refit_size,
            "reason": self.reason,
            "curve": self.curve,
        }

    def notes(self) -> list[str]:
        """The line for the run's notes (none when every row was used as asked)."""
        line = sampling_line(self.to_dict())
        return [line] if line else []

    def learning_curve(self, metric: str) -> dict[str, Any] | None:
        """The curve in the report's learning-curve shape (None below two steps)."""
        from tabloop.train._cv import LOWER_IS_BETTER

        if len(self.curve) < 2:
            return None
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        return {
            "model": "the best model of each sample",
            "metric": metric,
            "sizes": [c["size"] for c in self.curve],
            "val_mean": [sign * c["mean"] for c in self.curve],
            "val_std": [c["std"] for c in self.curve],
            "train_mean": None,
        }


def sampling_line(sampling: dict[str, Any]) -> str | None:
    """One line on the rows the models saw (``TrainResult.sampling``), for the terminal and
    the report's notes; None when every row was used as asked."""
    if sampling["size"] < sampling["rows"]:
        return (
            f"sample: cross-validated on {sampling['size']:,} of {sampling['rows']:,} training "
            f"rows and refitted on {sampling['refit_size']:,}: {sampling['reason']}"
        )
    return None if sampling["reason"] == ALL_ROWS else f"sample: {sampling['reason']}"


def sizes_to_try(setting: str | int | None, rows: int) -> tuple[list[int], str | None]:
    """The sample sizes to cross-validate, in order, and a note when the setting could not
    be followed as written (a fixed size not smaller than the data)."""
    if setting is None:
        return [rows], None
    if setting == "auto":
        if rows <= AUTO_MIN_ROWS:
            return [rows], None
        sizes = []
        size = FIRST_SIZE
        while size < rows:
            sizes.append(size)
            size *= GROWTH
        return [*sizes, rows], None
    size = int(setting)
    if size >= rows:
        return [rows], (
            f"train.sample is {size:,} but the training split holds {rows:,} rows: all of "
            "them are used"
        )
    return [size], None


def sample_order(
    config: ProjectConfig, train: pd.DataFrame, y: np.ndarray, task: str
) -> np.ndarray:
    """Positions of the training rows in sampling order: the first n of them are the sample
    of n rows (see the module note)."""
    import pandas as pd

    rng = np.random.default_rng(config.split.seed)
    n = len(train)
    strategy = config.split_strategy
    if strategy == "time":
        return newest_first(train, config.split.time or config.data.time)
    if strategy == "group":
        codes, groups = pd.factorize(train[config.split.group], use_na_sentinel=False)
        rank = rng.permutation(len(groups))[codes]  # a group's rows share a rank
        return np.lexsort((rng.random(n), rank))
    if task in ("binary", "multiclass"):
        # a row's key spreads its class evenly over the order: the r-th (random) row of a
        # class of n_c rows sits at (r + u) / n_c, so any prefix holds each class's share
        key = np.empty(n)
        for label in np.unique(y):
            where = np.flatnonzero(y == label)
            rank = rng.permutation(len(where))
            key[where] = (rank + rng.random(len(where))) / len(where)
        return np.argsort(key, kind="stable")
    return rng.permutation(n)


def newest_first(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Positions of ``frame``'s rows, the latest ``column`` value first (read as the time
    split reads it), missing times last; rows of one time by content, not file order."""
    from tabloop.data.frame import is_datetime, time_values
    from tabloop.train._cv import content_keys

    times = time_values(frame[column])
    missing = times.isna().to_numpy()
    keys = times.to_numpy().view("int64") if is_datetime(times) else times.to_numpy()
    return np.lexsort((content_keys(frame), -np.where(missing, 0, keys), missing))


def gain_is_noise(
    previous: tuple[float, float], current: tuple[float, float]
) -> tuple[bool, float, float]:
    """Whether the step from ``previous`` to ``current`` (mean, standard error of the best
    model's fold scores, higher is better) gained less than the gain's standard error;
    returns it with the gain and that standard error."""
    gain = current[0] - previous[0]
    error = math.sqrt(previous[1] ** 2 + current[1] ** 2)
    return gain < error, gain, error


def next_step_too_costly(seconds: float, size: int, next_size: int, left: float) -> str | None:
    """Why the next step is not taken (None: it fits): its cost is estimated as this step's
    ``seconds`` scaled by the rows (fitting is about linear in them here), plus 10%."""
    estimate = seconds * next_size / size * 1.1
    if estimate <= left:
        return None
    return (
        f"the next step ({next_size:,} rows) would take about {estimate:.0f} s, more than the "
        f"{max(left, 0):.0f} s left for cross-validation"
    )


def refit_rows(
    *,
    cv_size: int,
    rows: int,
    seconds_per_row: float,
    seconds_left: float | None,
) -> int:
    """How many rows to refit the chosen models on: every row without a budget, else the
    most the rest of the budget allows at the fitting rate measured in cross-validation
    (never fewer than were cross-validated)."""
    if seconds_left is None:
        return rows
    affordable = int(0.8 * seconds_left / seconds_per_row) if seconds_per_row > 0 else rows
    return max(cv_size, min(rows, affordable))
