"""Build the preparation Pipeline from ``tabloop.yaml``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabloop.prepare._derive import DeriveFeatures, LogTransform
from tabloop.prepare._lags import LagFeatures, lag_feature_names
from tabloop.prepare._missing import MissingValues
from tabloop.prepare._preprocess import Family, Preprocess
from tabloop.prepare._select import SelectFeatures
from tabloop.prepare._text import EncodeText

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from tabloop.config import ProjectConfig


def missing_values_step(config: ProjectConfig) -> MissingValues | None:
    """The unfitted :class:`MissingValues` step of ``prepare.missing_values``, or ``None``
    when the file declares no code: the one reading of those codes, for the pipeline and
    for ``tabloop profile`` (whose counts are then the model's)."""
    codes = {c: list(v) for c, v in config.prepare.missing_values.items()}
    return MissingValues(codes=codes) if codes else None


def prepare_pipeline(config: ProjectConfig, *, family: Family, task: str | None = None) -> Pipeline:
    """missing → lags → derive → log → select → text → impute/encode, configured by
    ``features``, ``prepare`` and ``profile.leakage_cutoff``; unfitted, so cross-validation
    fits it inside each fold. The ``missing`` step (``prepare.missing_values``) and the
    ``lags`` step (``features.lags``) are there only when the file declares them; the
    ``text`` step (TF-IDF + SVD of free-text columns) is left out under
    ``prepare.text.encode: false``, and selection then drops those columns.

    Examples
    --------
    >>> from tabloop.config import config_from_dict
    >>> from tabloop.prepare import prepare_pipeline
    >>> cfg = config_from_dict({"name": "t", "data": {"train": "t.csv", "target": "y"}})
    >>> [name for name, _ in prepare_pipeline(cfg, family="linear").steps]
    ['derive', 'log', 'select', 'text', 'preprocess']
    """
    from sklearn.pipeline import Pipeline

    features, prepare = config.features, config.prepare
    lags = {c: spec.model_dump() for c, spec in features.lags.items()}
    lagged = [n for c, spec in lags.items() for n in lag_feature_names(c, spec)]
    include = None
    if features.include is not None:
        include = [*features.include, *features.derive, *lagged]
    drop = [*features.drop, *([config.data.id] if config.data.id else [])]
    if config.data.time and config.data.time not in prepare.keep:
        drop.append(config.data.time)
    missing = missing_values_step(config)
    return Pipeline(
        [
            # prepare.missing_values first: every later step sees the codes as missing
            *([("missing", missing)] if missing is not None else []),
            # features.lags first: it reads (and removes) the target's history
            *([("lags", LagFeatures(lags=lags, target=config.data.target))] if lags else []),
            ("derive", DeriveFeatures(formulas=dict(features.derive))),
            ("log", LogTransform(columns=list(features.log))),
            (
                "select",
                SelectFeatures(
                    drop=sorted(set(drop)),
                    include=include,
                    keep=list(prepare.keep),
                    correlation_threshold=prepare.correlation_threshold,
                    leakage_cutoff=config.profile.leakage_cutoff,
                    task=task or (config.task if config.task != "clustering" else None),
                    seed=config.split.seed,
                    text=list(features.text),
                    encode_text=prepare.text.encode,
                    lagged=lagged,
                ),
            ),
            *(
                [
                    (
                        "text",
                        EncodeText(
                            declared=list(features.text),
                            components=prepare.text.components,
                            seed=config.split.seed,
                        ),
                    )
                ]
                if prepare.text.encode
                else []
            ),
            (
                "preprocess",
                Preprocess(
                    family=family,
                    imputation=prepare.imputation,
                    knn_k=prepare.knn_k,
                    missing_indicators=prepare.missing_indicators,
                    unseen=prepare.unseen_categories,
                    seed=config.split.seed,
                ),
            ),
        ]
    )
