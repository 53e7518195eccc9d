"""The MLflow pyfunc flavour of a tabloop model.

The package holds the pickled :class:`~tabloop.train.TabloopModel` plus, as plain files,
what everything downstream needs without re-reading training data: ``schema.json`` (the
input contract), ``reference.parquet`` (a sample of the training rows, for drift), and
``meta.json`` (task, classes, threshold, test metrics). ``mlflow.pyfunc.load_model``
returns a model whose ``predict`` is :meth:`TabloopModel.predict_frame`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabloop.registry._tracking import quiet_mlflow

with quiet_mlflow():  # importing mlflow.pyfunc warns about MLflow's own type hints
    from mlflow.pyfunc import PythonModel

#: Rows of training data stored with the model as the monitoring reference.
REFERENCE_ROWS = 5000


class TabloopPyfunc(PythonModel):
    """Loads the pickled model from the package's artifacts; predicts with validation."""

    # The input contract is tabloop's schema.json, checked by predict_frame; MLflow's own
    # type-hint validation would only warn that predict has no hints it can use.
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["model"])
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        import pandas as pd

        frame = model_input
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        return self.model.predict_frame(frame)


def write_artifacts(folder: Path, result: Any, evaluation: dict[str, Any] | None) -> dict[str, str]:
    """Write the package's files into ``folder``; return MLflow's ``artifacts`` mapping."""
    import joblib

    model = result.model
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib", compress=3)
    model.schema.save(folder / "schema.json")
    columns = [*model.inputs, *([model.target] if model.target else [])]
    reference = result.train[columns]
    if len(reference) > REFERENCE_ROWS:
        reference = reference.sample(REFERENCE_ROWS, random_state=0)
    reference.to_parquet(folder / "reference.parquet", index=False)
    meta = {
        "task": model.task,
        "target": model.target,
        "classes": model.classes,
        "threshold": model.threshold,
        "inputs": model.inputs,
        "members": {m.name: m.weight for m in model.members},
        "data_hash": result.data_hash,
        "metrics": (evaluation or {}).get("metrics", {}),
        "project": result.config.name,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return {
        "model": str(folder / "model.joblib"),
        "schema": str(folder / "schema.json"),
        "reference": str(folder / "reference.parquet"),
        "meta": str(folder / "meta.json"),
    }
