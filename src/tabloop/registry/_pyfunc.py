"""The MLflow pyfunc flavour of a tabloop model.

The package holds the pickled :class:`~tabloop.train.TabloopModel` plus, as plain files,
what everything downstream needs without re-reading training data: ``schema.json`` (the
input contract), ``reference.parquet`` (a sample of the training rows, for drift), and
``meta.json`` (task, classes, threshold, test metrics). ``mlflow.pyfunc.load_model``
returns a model whose ``predict`` is :meth:`TabloopModel.predict_frame`.

A team's own model (``train.models: [module:Class]``) is pickled as an instance of its
class, so loading needs that module: :func:`user_code` lists the files logged with the
model as MLflow ``code_paths`` (MLflow puts them on ``sys.path`` before unpickling), so
the package loads in any process where tabloop is installed, in any folder.
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
        self.files = {name: Path(path) for name, path in context.artifacts.items()}

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
    reference_profile(result).save(folder / "reference_profile.json")
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
        "reference_profile": str(folder / "reference_profile.json"),
        "meta": str(folder / "meta.json"),
    }


def user_code(result: Any) -> list[Path]:
    """The team's own code the model needs, to log as MLflow ``code_paths``.

    The top-level module (a ``.py`` file, or a package folder) of each ``module:Class``
    among the model's members, plus, when the project was read from a ``tabloop.yaml``,
    every other top-level module imported from its folder (helpers the model module
    imports). Installed packages (under
    ``site-packages``) are left out: they travel as pip requirements, not as files.
    """
    import importlib
    import sys

    names = {m.name.partition(":")[0].split(".")[0] for m in result.model.members if ":" in m.name}
    root = Path(result.config.root).resolve()
    scanned = list(sys.modules.items()) if result.config.source is not None else []
    for name, module in scanned:
        file = getattr(module, "__file__", None)
        if "." not in name and file and _top_level_file(Path(file)).parent == root:
            names.add(name)
    paths: dict[str, Path] = {}
    for name in sorted(names):
        file = getattr(importlib.import_module(name), "__file__", None)
        if file is None or "-packages" in Path(file).resolve().as_posix():
            continue
        paths[name] = _top_level_file(Path(file))
    return list(paths.values())


def _top_level_file(file: Path) -> Path:
    """A module's own file, or its package's folder."""
    file = file.resolve()
    return file.parent if file.name == "__init__.py" else file


def reference_profile(result: Any) -> Any:
    """The monitor's summary of all training rows (every column with a kind it compares),
    plus the model's ``prediction`` and, for binary models, ``score`` on the test split,
    which the model never saw, as production's predictions will not have been either."""
    import pandas as pd

    from tabloop.data import ReferenceProfile, infer_schema

    model, config = result.model, result.config
    kinds = {c.name: c.kind for c in model.schema}
    skip = {config.data.id, config.data.time, *kinds}
    others = [c for c in result.train.columns if c not in skip]
    if others:
        inferred = infer_schema(result.train[others], strict=False)
        kinds.update({c.name: c.kind for c in inferred})
    frame = result.train[[c for c in kinds if c in result.train.columns]]
    profile = ReferenceProfile.from_frame(frame, kinds=kinds)
    if model.task in ("binary", "multiclass", "regression") and len(result.test):
        scored = model.predict_frame(result.test, validate=False)
        outputs = pd.DataFrame({"prediction": scored["prediction"].to_numpy()})
        output_kinds = {"prediction": "numeric" if model.task == "regression" else "categorical"}
        if model.task == "binary":
            outputs["score"] = scored["probability"].to_numpy()
            output_kinds["score"] = "numeric"
        scored_profile = ReferenceProfile.from_frame(outputs, kinds=output_kinds)
        profile = ReferenceProfile(
            n_rows=profile.n_rows,
            max_points=profile.max_points,
            summaries={**profile.summaries, **scored_profile.summaries},
        )
    return profile
