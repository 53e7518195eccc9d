"""``train.engine: dask``: the sample read on the workers, the boosted model fitted on every row.

The table stays where it is (``data.train``: a file, folder or glob the workers reach) and
is read in pieces (:func:`tabloop.data.plan_pieces`); the client never holds it whole.

1. Each piece decides row by row which rows are test rows (:class:`SplitRule`: a hash of
   the row's file and position, or of its group, so no other row is needed) and returns a
   uniform sample of its training and of its test rows: those with the smallest sample
   keys (bottom-k). Merged two at a time, the samples stay that size, and the result does
   not depend on the pieces or the workers. The client cross-validates and chooses on the
   sample exactly as in one process (learning-curve sampling included).
2. The preparation is fitted on the sample; each worker prepares its pieces' training rows
   and ``lightgbm.dask`` (or ``xgboost.dask``) fits the chosen model on all of them. The
   fitted model is turned into the ordinary LightGBM/XGBoost estimator, so the registered
   model is a plain tabloop model that serves and scores like any other.

The test split is scored on the workers by :func:`tabloop.evaluate.evaluate`
(:func:`test_pieces` gives it the test rows of a piece).

Without a cluster, a table too big to load in this process (:func:`too_big_to_load`) is
read the same way, piece after piece: the models are trained on the sample and the test
split is scored from counts as it is read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import is_regressor

from tabloop.data.frame import category_key, category_keys
from tabloop.exceptions import TrainError

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.data import Piece
    from tabloop.scale import Runner

#: Models ``train.engine: dask`` fits across the workers.
DISTRIBUTED_MODELS = ("lightgbm", "xgboost")
#: Training rows the client samples for cross-validation when ``train.sample`` is not a
#: number; test rows it samples for the charts, fairness and importance.
SAMPLE_ROWS = 1_000_000
TEST_SAMPLE_ROWS = 200_000
#: Peak memory of training in one process per cell of the table (8.8 GB for 10M rows x 15
#: columns, benchmarks/train_scale.py), and the share of this machine's memory a run may
#: plan for before it samples the table while reading it.
PEAK_BYTES_PER_CELL = 60
MEMORY_SHARE = 0.5
#: Rows a worker reads at once.
CHUNK_ROWS = 250_000
_KEY = "__tabloop_sample_key__"
_LABEL = "__tabloop_label__"


@dataclass(frozen=True)
class SplitRule:
    """Which rows are test rows, decided from the row alone: a uniform number from a hash
    of the row's file and position (or of its ``group`` value, so a group stays on one
    side) is below ``test_size``. A second hash orders the rows for sampling."""

    test_size: float
    seed: int
    group: str | None = None
    base: str = ""  # a file is named relative to this folder, so a moved project keeps its split

    def is_test(self, frame: pd.DataFrame, path: str) -> np.ndarray:
        if self.group is not None:
            return _uniform(category_keys(frame[self.group]), f"group:{self.seed}") < self.test_size
        name = self._name(path)
        return _uniform(frame.index.to_series(), f"split:{self.seed}:{name}") < self.test_size

    def sample_keys(self, frame: pd.DataFrame, path: str) -> np.ndarray:
        return _uniform(frame.index.to_series(), f"sample:{self.seed}:{self._name(path)}")

    def _name(self, path: str) -> str:
        if not self.base or "://" in path:
            return path
        return Path(os.path.relpath(path, self.base)).as_posix()


def _uniform(values: pd.Series, purpose: str) -> np.ndarray:
    """A number in [0, 1) per value, the same for the same value and ``purpose``, and
    independent across purposes."""
    salt = np.uint64(int.from_bytes(hashlib.blake2b(purpose.encode(), digest_size=8).digest()))
    hashed = pd.util.hash_pandas_object(values, index=False).to_numpy() ^ salt
    # pandas ignores its hash_key for numbers, so the purpose is mixed in here: the
    # finaliser of splitmix64 carries every bit of the salted hash into every bit
    hashed = (hashed ^ (hashed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    hashed = (hashed ^ (hashed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    hashed ^= hashed >> np.uint64(31)
    return (hashed >> np.uint64(11)).astype(np.float64) / 2.0**53


def split_rule(config: ProjectConfig) -> SplitRule:
    """The rule of ``config``'s split (the config refuses a time split with this engine)."""
    strategy = config.split_strategy
    assert strategy != "time", "ProjectConfig refuses train.engine 'dask' with a time split"
    group = config.split.group if strategy == "group" else None
    return SplitRule(config.split.test_size, config.split.seed, group, _base(config))


def _base(config: ProjectConfig) -> str:
    """The folder ``data.train``'s files are named from: itself, a file's folder, or the
    folder above a glob's first wildcard."""
    import glob

    text = str(config.data.train)
    if "://" in text:
        return ""
    root = config.resolve(text)
    while glob.has_magic(str(root)) or (root.exists() and not root.is_dir()):
        root = root.parent
    return str(root)


@dataclass
class DistributedSource:
    """The table of a ``train.engine: dask`` run: its pieces, the split rule and the row counts."""

    pieces: list[Piece] = field(repr=False)
    rule: SplitRule
    train_rows: int
    test_rows: int
    address: str | None = None  # the cluster's, for the report
    # per piece (file, first row): the target's keys among its training rows
    piece_classes: list[tuple[str, int, frozenset[str]]] = field(default_factory=list, repr=False)


@dataclass
class _Sample:
    """Bottom-k samples of the training and test rows of some pieces, and their counts."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_rows: int
    test_rows: int
    caps: tuple[int, int]  # the sizes of the two samples
    classes: list[tuple[str, int, frozenset[str]]]  # per piece: the target's keys in training rows


def read_sample(
    config: ProjectConfig, runner: Runner, *, train_rows: int, test_rows: int
) -> tuple[pd.DataFrame, np.ndarray, DistributedSource]:
    """A uniform sample of ``data.train``'s training rows and of its test rows, read on the
    workers; returns the sample (training rows first, in a fixed order), which of its rows
    are test rows, and the :class:`DistributedSource` for the distributed fit and evaluation."""
    from tabloop.data import find_data_files, plan_pieces

    if config.data.train is None:
        raise TrainError(
            "train.engine 'dask' reads data.train on the workers; set data.train to a file, "
            "folder or glob they can reach (data.sql is read in this process)."
        )
    rule = split_rule(config)
    pieces = plan_pieces(find_data_files(config.resolve(config.data.train)))
    target = config.data.target
    assert target is not None
    sample = runner.map_reduce(
        _sample_piece,
        pieces,
        _merge_samples,
        description="sampling the training table",
        rule=rule,
        target=target,
        train_rows=train_rows,
        test_rows=test_rows,
    )
    if sample.train_rows == 0 or sample.test_rows == 0:
        empty = "training" if sample.train_rows == 0 else "test"
        raise TrainError(
            f"The split left no {empty} rows of {sample.train_rows + sample.test_rows:,}; "
            "check split.test_size (and split.group)."
        )
    frame = pd.concat([sample.train, sample.test], ignore_index=True).drop(columns=[_KEY])
    is_test = np.r_[np.zeros(len(sample.train), bool), np.ones(len(sample.test), bool)]
    source = DistributedSource(
        pieces, rule, sample.train_rows, sample.test_rows, runner.address, sample.classes
    )
    return frame, is_test, source


def _sample_piece(
    piece: Piece, *, rule: SplitRule, target: str, train_rows: int, test_rows: int
) -> _Sample:
    caps = (train_rows, test_rows)
    sample = _Sample(pd.DataFrame(), pd.DataFrame(), 0, 0, caps, [])
    seen: set[str] = set()
    for chunk in piece.read(chunk_rows=CHUNK_ROWS):  # merged as read: memory stays bounded
        _check_columns(chunk, target, rule.group, piece.path)
        keyed = chunk.assign(**{_KEY: rule.sample_keys(chunk, piece.path)})
        is_test = rule.is_test(chunk, piece.path)
        seen |= set(category_keys(chunk.loc[~is_test, target]).unique())
        read = _Sample(
            _smallest([keyed[~is_test]], train_rows),
            _smallest([keyed[is_test]], test_rows),
            int((~is_test).sum()),
            int(is_test.sum()),
            caps,
            [],
        )
        sample = _merge_samples(sample, read)
    sample.classes = [(piece.path, piece.first_row, frozenset(seen))]
    return sample


def _merge_samples(a: _Sample, b: _Sample) -> _Sample:
    return _Sample(
        _smallest([a.train, b.train], a.caps[0]),
        _smallest([a.test, b.test], a.caps[1]),
        a.train_rows + b.train_rows,
        a.test_rows + b.test_rows,
        a.caps,
        a.classes + b.classes,
    )


def _smallest(frames: list[pd.DataFrame], rows: int) -> pd.DataFrame:
    """The ``rows`` rows with the smallest keys, sorted by key: the same rows in the same
    order whatever the pieces and the order of merges."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[_KEY])
    joined = pd.concat(frames) if len(frames) > 1 else frames[0]
    return joined.nsmallest(rows, _KEY).sort_values(_KEY, kind="stable")


def _check_columns(chunk: pd.DataFrame, target: str, group: str | None, path: str) -> None:
    from tabloop.data.frame import require_columns
    from tabloop.exceptions import TargetError

    require_columns(chunk, [target], role=f"target column (in '{path}')")
    if group is not None:
        require_columns(chunk, [group], role=f"split.group column (in '{path}')")
    missing = chunk.index[chunk[target].isna()]
    if len(missing):
        shown = ", ".join(str(r) for r in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise TargetError(
            f"Target {target!r} is missing in {len(missing)} row(s) of '{path}' (rows {shown}); "
            "fill or drop them before training: tabloop does not drop them silently.",
            column=target,
            rows=[str(r) for r in missing[:10]],
        )


def too_big_to_load(config: ProjectConfig) -> str | None:
    """Why ``data.train`` should be sampled while it is read rather than loaded whole in
    this process (None: load it): its estimated peak while training, rows x columns x
    :data:`PEAK_BYTES_PER_CELL`, passes :data:`MEMORY_SHARE` of this machine's memory.

    Not for ``train.sample: null`` (every row, as asked), a time split (its cut needs every
    row's time) or ``data.sql``."""
    if config.data.train is None or config.data.sql is not None or config.data.target is None:
        return None
    if config.train.sample is None or config.split_strategy == "time":
        return None
    from tabloop.data import estimate_table_size, find_data_files, plan_pieces

    pieces = plan_pieces(find_data_files(config.resolve(config.data.train)))
    rows, columns = estimate_table_size(pieces)
    need = rows * columns * PEAK_BYTES_PER_CELL
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need <= MEMORY_SHARE * memory:
        return None
    return (
        f"data.train holds about {rows:,} rows x {columns} columns, about "
        f"{need / 2**30:.0f} GiB to train on in one process, over {MEMORY_SHARE:.0%} of this "
        f"machine's {memory / 2**30:.0f} GiB"
    )


def sample_sizes(config: ProjectConfig) -> tuple[int, int]:
    """Training and test rows to sample: ``train.sample`` when it is a number."""
    wanted = config.train.sample
    train_rows = wanted if isinstance(wanted, int) else SAMPLE_ROWS
    return train_rows, TEST_SAMPLE_ROWS


def test_pieces(piece: Piece, *, rule: SplitRule) -> Iterator[pd.DataFrame]:
    """The test rows of ``piece``, a chunk at a time (for the evaluation's counts)."""
    for chunk in piece.read(chunk_rows=CHUNK_ROWS):
        yield chunk[rule.is_test(chunk, piece.path)]


# -- the distributed fit ---------------------------------------------------------------


def fit_distributed(
    name: str,
    pipeline: Any,
    X_sample: pd.DataFrame,
    y_sample: np.ndarray,
    *,
    source: DistributedSource,
    runner: Runner,
    target: str,
    classes: list[Any],
    fraction: float = 1.0,
) -> Any:
    """``pipeline`` (preparation + model ``name``) with its preparation fitted on the sample
    and its model fitted on the prepared training rows of every piece across the workers
    (a uniform ``fraction`` of them when the budget allows no more); returns the pipeline
    with the ordinary (local) estimator as its last step."""
    import dask.dataframe as dd
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    client = require_cluster(runner)
    steps = clone(pipeline).steps
    prep = Pipeline(steps[:-1]).fit(X_sample, y_sample)
    estimator = steps[-1][1]
    label = float if not classes else np.int64
    # the template from one row: sklearn's imputers refuse a frame without rows
    meta = prep.transform(X_sample.head(1)).iloc[:0].assign(**{_LABEL: np.array([], dtype=label)})
    frame = dd.from_map(
        _prepared_piece,
        source.pieces,
        prep=prep,
        rule=source.rule,
        target=target,
        classes=classes,
        fraction=fraction,
        empty=meta,
        meta=meta,
        enforce_metadata=False,
    )
    X, y = frame.drop(columns=[_LABEL]), frame[_LABEL]
    fit = {"lightgbm": _fit_lightgbm, "xgboost": _fit_xgboost}[name]
    local = fit(estimator, X, y, client)
    return Pipeline([*prep.steps, (steps[-1][0], local)])


def require_cluster(runner: Runner) -> Any:
    """The Dask client of ``runner``; :class:`TrainError` when work runs in this process."""
    client = getattr(runner, "client", None)
    if client is None:
        raise TrainError(
            "train.engine 'dask' needs a cluster: set --cluster, scale.cluster or "
            "TABLOOP_CLUSTER (local:N starts N workers on this machine)."
        )
    return client


def _prepared_piece(
    piece: Piece,
    *,
    prep: Any,
    rule: SplitRule,
    target: str,
    classes: list[Any],
    fraction: float,
    empty: pd.DataFrame,
) -> pd.DataFrame:
    parts = []
    for chunk in piece.read(chunk_rows=CHUNK_ROWS):
        keep = ~rule.is_test(chunk, piece.path)
        if fraction < 1:
            keep &= rule.sample_keys(chunk, piece.path) < fraction
        rows = chunk[keep]
        if len(rows):
            prepared = prep.transform(rows.drop(columns=[target]))
            parts.append(
                prepared.assign(**{_LABEL: target_codes(rows[target], classes, piece.path)})
            )
    return pd.concat(parts) if parts else empty


def target_codes(values: pd.Series, classes: list[Any], path: str) -> np.ndarray:
    """Class codes (classification) or the numbers (regression); an unknown class names
    its row and file."""
    if not classes:
        return _numbers(values, path)
    lookup = {category_key(c): i for i, c in enumerate(classes)}
    codes = category_keys(values).map(lookup)
    unknown = codes.isna().to_numpy()
    if unknown.any():
        row = values.index[unknown][0]
        raise TrainError(
            f"Row {row} of '{path}' has target value {values.loc[row]!r}, which is not one of "
            f"the classes in the sample {classes}; raise train.sample so the sample holds it."
        )
    return codes.to_numpy(dtype=np.int64)


def _numbers(values: pd.Series, path: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        row = values.index[bad][0]
        raise TrainError(
            f"Row {row} of '{path}' has target value {values.loc[row]!r}, which is not a "
            "number; a regression target must be numeric in every file."
        )
    return numbers.to_numpy(dtype=float)


def every_piece_has_every_class(source: DistributedSource, classes: list[Any]) -> None:
    """:class:`TrainError` naming a piece whose training rows lack a class: LightGBM's Dask
    fit encodes the labels on each worker, so a worker without a class would fit another
    problem (or hang)."""
    for path, first_row, seen in source.piece_classes:
        lacking = [c for c in classes if category_key(c) not in seen]
        if seen and lacking:
            raise TrainError(
                f"The training rows of '{path}' from row {first_row} hold no target value "
                f"{', '.join(map(repr, lacking))}; lightgbm.dask needs every class in every "
                "piece. Mix the rows across files (e.g. not one file per class or per "
                "period), or use xgboost or train.engine 'local'."
            )


def _fit_lightgbm(estimator: Any, X: Any, y: Any, client: Any) -> Any:
    import warnings

    import lightgbm.dask as lgb_dask

    kind = lgb_dask.DaskLGBMRegressor if is_regressor(estimator) else lgb_dask.DaskLGBMClassifier
    with warnings.catch_warnings():  # it sets each worker's threads itself, and says so
        warnings.filterwarnings("ignore", "Parameter (n_jobs|num_threads) will be ignored")
        fitted = kind(client=client, **estimator.get_params()).fit(X, y)
    return fitted.to_local()


def _fit_xgboost(estimator: Any, X: Any, y: Any, client: Any) -> Any:
    import xgboost
    from xgboost import dask as xgb_dask

    params = estimator.get_params()
    regressor = is_regressor(estimator)
    kind = xgb_dask.DaskXGBRegressor if regressor else xgb_dask.DaskXGBClassifier
    fitted = kind(**params)
    fitted.client = client
    fitted.fit(X, y)
    # the ordinary estimator with the same booster: what serving and scoring load
    local = (xgboost.XGBRegressor if regressor else xgboost.XGBClassifier)(**params)
    local.load_model(bytearray(fitted.get_booster().save_raw(raw_format="ubj")))
    return local
