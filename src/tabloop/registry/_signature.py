"""The MLflow signature and input example of a tabloop model, from its input schema.

MLflow shows them on the model's page ("Inputs (7) / Outputs (2)") and checks every
``mlflow.pyfunc`` prediction against the signature before tabloop's own validation runs.
The types follow the training data, and in two ways refuse what tabloop accepts:

- a numeric column is ``long`` when the training rows held it as whole numbers with none
  missing, else ``double``. MLflow lets ints into ``long``, floats (and NaN) into
  ``double``, and reads JSON numbers of either into both; but it refuses 41.5 or NaN in a
  ``long`` column, which tabloop's ``predict`` and service accept (used, imputed). And it
  refuses a pandas ``int64`` column for a ``double`` one (unless every value is 0 or 1),
  which no column type avoids: cast such a frame with ``df.astype({"age": float})``.
- categorical, text and id columns keep the type they had in training (``string`` for
  text, ``long`` for integer codes), booleans ``boolean``, dates ``datetime`` when they were
  parsed, else ``string``.
- a column that may be missing values in training is ``optional``; a missing column is left
  to tabloop's validator, which names it (MLflow would say only "missing inputs").

Columns beyond the signature are ignored by MLflow's pyfunc (and kept by tabloop's own
``predict``); the outputs are the columns tabloop appends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.train import TabloopModel

#: Rows of training data logged as the model's input example.
EXAMPLE_ROWS = 5


def model_signature(model: TabloopModel, train: pd.DataFrame) -> Any:
    """The :class:`mlflow.models.ModelSignature` of ``model``, whose training rows are
    ``train`` (read for each column's pandas type)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    inputs: list[ColSpec | TensorSpec] = [
        ColSpec(_input_type(c.kind, train.get(c.name)), c.name, required=not c.nullable)
        for c in model.schema
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(_outputs(model)))


def described(model: TabloopModel, train: pd.DataFrame) -> tuple[dict[str, Any], str | None]:
    """``log_model``'s ``signature`` and ``input_example`` for ``model``, checked against each
    other before logging; when the example is at odds with the signature (a column type the
    mapping did not foresee), nothing and the reason: the model is logged without them rather
    than not at all."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import validate_schema

    signature = model_signature(model, train)
    example = input_example(model, train)
    try:
        validate_schema(example, signature.inputs)
    except (MlflowException, TypeError, ValueError) as exc:
        return {}, str(exc)[:400]
    return {"signature": signature, "input_example": example}, None


def input_example(model: TabloopModel, train: pd.DataFrame) -> pd.DataFrame:
    """A few real training rows, the model's input columns only (no target)."""
    columns = [c for c in model.inputs if c in train.columns]
    return train[columns].head(EXAMPLE_ROWS).reset_index(drop=True)


def _input_type(kind: str, values: pd.Series | None) -> str:
    import pandas as pd

    if values is None:
        return "double" if kind == "numeric" else "string"
    dtype = values.dtype
    if kind == "numeric":
        return "long" if pd.api.types.is_integer_dtype(dtype) else "double"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype) and getattr(dtype, "tz", None) is None:
        return "datetime"
    return "string"


def _outputs(model: TabloopModel) -> list[Any]:
    """What ``predict_frame`` appends: ``prediction`` (``segment`` for clustering) and the
    probabilities."""
    import numpy as np
    from mlflow.types.schema import ColSpec

    if model.task == "clustering":
        return [ColSpec("long", "segment")]
    if model.task == "regression":
        return [ColSpec("double", "prediction")]
    labels = np.asarray(model.classes)
    label = "long" if labels.dtype.kind in "iu" else "boolean" if labels.dtype == bool else None
    out = [ColSpec(label or "string", "prediction")]
    if model.task == "binary":
        return [*out, ColSpec("double", "probability")]
    return [*out, *(ColSpec("double", f"probability_{c}") for c in model.classes)]
