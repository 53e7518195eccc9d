"""What :func:`~tabloop.train.train` does for a project without a target: segments
(clustering) on every row, with the columns it leaves out and why."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from tabloop.exceptions import TrainError
from tabloop.train._model import Member, TabloopModel
from tabloop.train._result import TrainResult, data_hash

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig


def _train_segments(config: ProjectConfig, df: pd.DataFrame, start: float) -> TrainResult:
    """Clustering: derive → log → impute/scale → k-means or a Gaussian mixture (k by
    silhouette). Every row is used; there is no target to hold out."""
    from sklearn.pipeline import Pipeline

    from tabloop.data import infer_schema
    from tabloop.data.frame import require_columns
    from tabloop.prepare import DeriveFeatures, LogTransform, Preprocess
    from tabloop.train._cluster import Segmenter

    drop = {*config.features.drop, config.data.id, config.data.time} - {None}
    text = list(config.features.text)  # declared free text is left out whatever its values
    require_columns(df, text, role="features.text column")
    schema = infer_schema(df, strict=False, text=text)
    dropped = {c: "listed in features.drop or a role column" for c in drop if c in df}
    for col in schema:
        if col.name in drop:
            continue
        if col.kind == "text" and col.n_unique > 1:  # TF-IDF numbers would swamp the rest
            dropped[col.name] = "free text (not used for clustering)"
        elif col.kind in ("id", "text", "datetime") or col.n_unique <= 1:
            dropped[col.name] = f"{col.kind if col.n_unique > 1 else 'constant'} column"
        elif config.features.include is not None and col.name not in config.features.include:
            dropped[col.name] = "not in features.include"
    X = df[[c for c in df.columns if c not in dropped]]
    if X.shape[1] == 0:
        raise TrainError(f"No column is left to cluster on ({dropped}).")
    imputation = config.prepare.imputation if config.prepare.imputation != "none" else "median"
    clusters = config.train.clusters
    pipe = Pipeline(
        [
            ("derive", DeriveFeatures(formulas=dict(config.features.derive))),
            ("log", LogTransform(columns=list(config.features.log))),
            (
                "preprocess",
                Preprocess(
                    family="linear",
                    imputation=imputation,
                    knn_k=config.prepare.knn_k,
                    missing_indicators=False,
                    seed=config.split.seed,
                ),
            ),
            (
                "model",
                Segmenter(
                    method=clusters.method,
                    k=clusters.k,
                    k_range=(clusters.k_min, clusters.k_max),
                    seed=config.split.seed,
                ),
            ),
        ]
    ).fit(X)
    model = TabloopModel(
        task="clustering",
        target=None,
        classes=[],
        members=[Member(clusters.method, 1.0, [pipe])],
        schema=infer_schema(X, strict=False),
        unseen=config.prepare.unseen_categories,
        info={"project": config.name},
    )
    empty = np.empty(0)
    return TrainResult(
        config=config,
        task="clustering",
        model=model,
        train=df,
        test=df.iloc[:0],
        metric="silhouette",
        cv=[],
        weights={clusters.method: 1.0},
        oof=empty,
        y_train=empty,
        dropped=dropped,
        seconds=time.monotonic() - start,
        data_hash=data_hash(df),
    )
