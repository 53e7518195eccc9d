"""The training data of a run as MLflow dataset inputs, cheap at any size.

MLflow shows a run's datasets (name, digest, source, schema, rows) and links runs trained
on the same data. Its ``from_pandas`` reads every value in Python to infer the schema and
the digest (about 40 s per million rows of ten columns), and the 2.5M-row tables tabloop
trains on must not pay that. So the schema is inferred by MLflow from the first
:data:`SCHEMA_ROWS` rows, the digest is a hash of every row computed by pandas in
vectorised code, and the profile counts all rows. Nothing is copied: the rows stay in
their file, named as the dataset's source.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig

#: Rows MLflow reads to infer a dataset's schema.
SCHEMA_ROWS = 1000
#: MLflow's tag naming a dataset input's role in the run.
CONTEXT_TAG = "mlflow.data.context"


def log_datasets(run_id: str, result: Any, config: ProjectConfig) -> None:
    """Log the train and test splits of ``result`` as dataset inputs ``training`` and
    ``testing`` of run ``run_id``, with the project's data file as source."""
    import mlflow
    from mlflow.entities import DatasetInput, InputTag

    source = str(config.resolve(config.data.train)) if config.data.train else None
    inputs = []
    for context, frame in (("training", result.train), ("testing", result.test)):
        if frame is None or not len(frame):
            continue
        dataset = _dataset(frame, f"{config.name} {context}", source, config.data.target)
        if dataset is not None:
            inputs.append(DatasetInput(dataset, tags=[InputTag(CONTEXT_TAG, context)]))
    if inputs:
        mlflow.MlflowClient().log_inputs(run_id, datasets=inputs)


def digest(frame: pd.DataFrame) -> str:
    """A short hash of every row and column name of ``frame`` (the dataset's digest)."""
    import pandas as pd

    hashed = hashlib.sha256()
    hashed.update(json.dumps([str(c) for c in frame.columns]).encode())
    try:
        hashed.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # an unhashable cell (a list): hash the text of the rows instead
        hashed.update(frame.astype(str).to_csv(index=False).encode())
    return hashed.hexdigest()[:8]


def _dataset(frame: pd.DataFrame, name: str, source: str | None, target: str | None) -> Any:
    """The MLflow dataset entity of ``frame``, or None when MLflow cannot type its columns
    (the run is logged without it rather than not at all)."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import Dataset
    from mlflow.exceptions import MlflowException

    from tabloop.registry._tracking import quiet_mlflow

    head = frame.head(SCHEMA_ROWS)
    targets = target if target in frame.columns else None
    with quiet_mlflow():
        for where in (source, None):  # a source MLflow cannot resolve (a glob) is left out
            try:
                described = from_pandas(
                    head,
                    source=where,  # type: ignore[arg-type]
                    name=name,
                    targets=targets,
                    digest=digest(frame),
                ).to_dict()
                break
            except (MlflowException, TypeError, ValueError):
                continue
        else:
            return None
    profile = {"num_rows": len(frame), "num_elements": int(frame.size)}
    return Dataset(
        name=described["name"],
        digest=described["digest"],
        source_type=described["source_type"],
        source=described["source"],
        schema=described.get("schema"),
        profile=json.dumps(profile),
    )
