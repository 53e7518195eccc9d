"""MLflow's scoring protocol and the Open Inference Protocol (v2), so their clients work as is.

Maintainer note: one path, three renderings
-------------------------------------------
``/invocations`` and ``/v2/models/{name}/infer`` turn their body into rows
(``protocols/_invocations.py``, ``protocols/_tensors.py``) and call the same
:func:`~tabloop.serve._predict.predict_rows` as ``/predict``: routing, schema checks,
logging and Prometheus counts are shared, so these predictions count in the A/B report.
Only the answer's shape differs:

- MLflow: ``{"predictions": [record, ...]}``, each record what ``mlflow models serve``
  answers for a tabloop model (the tabloop pyfunc returns ``predict_frame``: the input
  columns, ``prediction``, and ``probability`` / ``probability_<class>`` / ``segment``),
  plus ``prediction_id``, ``variant`` and ``model_version``, so outcomes can be sent later.
- OIP: ``outputs`` ``prediction``, ``probability`` (binary: positive class) and
  ``probabilities`` (``[n, n_classes]``, classes in ``parameters.classes``); the rows'
  ``prediction_ids``, ``variants`` and ``model_versions`` in the response ``parameters``.

OIP model names: the project's registered model name routes by the traffic split; a
variant's name (``A``, ``champion``) forces that variant; a version picks the variant that
serves it. Errors under ``/v2`` carry the message in ``error`` as OIP says (see
:func:`tabloop.serve._errors.protocol_body`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Request  # at run time: FastAPI reads the annotations
from fastapi.responses import JSONResponse

from tabloop import __version__
from tabloop.serve._errors import ApiError
from tabloop.serve._openapi import KIND_DATATYPES
from tabloop.serve._predict import Prediction, predict_rows
from tabloop.serve._responses import (
    InferResponse,
    InvocationsAnswer,
    ModelMetadata,
    ModelReady,
    ServerLive,
    ServerMetadata,
    ServerReady,
    answers,
    errors,
)
from tabloop.serve._security import ANY_ROLE, needs
from tabloop.serve.protocols._invocations import JSON, InvocationsRequest, invocation_rows
from tabloop.serve.protocols._tensors import InferRequest, read_infer_request, tensor_rows

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tabloop.serve._state import ServeState
    from tabloop.serve._variants import Variant
    from tabloop.train import TabloopModel


#: What an infer request can fail with (the body is read by the route, not FastAPI).
INFER_ERRORS = (400, 404, 413, 422, 503)


def add_protocol_routes(app: FastAPI, state: ServeState) -> None:
    """Add MLflow's ``/invocations``, ``/ping``, ``/health``, ``/version`` and OIP's ``/v2``."""
    _mlflow_routes(app, state)
    _oip_routes(app, state)


# -- MLflow scoring protocol -----------------------------------------------------------------
def _mlflow_routes(app: FastAPI, state: ServeState) -> None:
    @app.post(
        "/invocations",
        tags=["mlflow"],
        openapi_extra=_body(InvocationsRequest),
        **answers(InvocationsAnswer, 400, 413, 415, 422, 503),
    )
    @needs("predict")
    async def invocations(request: Request) -> JSONResponse:
        """MLflow's scoring protocol: ``dataframe_split``, ``dataframe_records``,
        ``instances`` or ``inputs`` as JSON (``params`` ignored), or a ``text/csv`` or
        Parquet body; answers ``{"predictions": [...]}``, one record per row."""
        rows, field = invocation_rows(await request.body(), request.headers.get("content-type"))
        prediction = await predict_rows(state, request, rows, field=field)
        task, variants = state.first.model.task, state.variants
        records = [
            _mlflow_record(r, a, task, variants.get(a["variant"]))
            for r, a in zip(rows, prediction.answers, strict=True)
        ]
        return JSONResponse({"predictions": records}, headers=prediction.headers())

    def ping(request: Request) -> dict[str, str]:  # a database round trip: thread pool
        """200 when the models are loaded and the log is reachable, else 503 with why."""
        problems = state.readiness_problems(detailed=state.guard.accepts(request))
        if problems:
            raise ApiError(503, "not_ready", f"Not ready: {'; '.join(problems)}.")
        return {"status": "ready"}

    app.get("/ping", tags=["mlflow"], responses=errors(503))(ping)
    app.get("/health", tags=["mlflow"], responses=errors(503))(ping)

    @app.get("/version", tags=["mlflow"])
    async def version() -> dict[str, str]:
        """tabloop's version and the MLflow version it reads models with (the module's own:
        the base install has ``mlflow-skinny``, whose distribution is not named ``mlflow``)."""
        import mlflow

        return {"tabloop": __version__, "mlflow": mlflow.__version__}


def _mlflow_record(
    row: dict[str, Any], answer: dict[str, Any], task: str, variant: Variant | None
) -> dict[str, Any]:
    """The row as ``mlflow models serve`` answers it for a tabloop model, plus tabloop's ids:
    MLflow's pyfunc keeps the columns of the model's signature (its input schema, in that
    order) and drops the others (an id, a context column) before the model sees them."""
    names = variant.model.inputs if variant is not None else list(row)
    record = {name: row.get(name) for name in names}
    record["prediction"] = answer["prediction"]
    if task == "binary":
        record["probability"] = answer["probability"]
    elif task == "multiclass":
        for label, p in answer["probabilities"].items():
            record[f"probability_{label}"] = p
    elif task == "clustering":
        record["segment"] = answer["prediction"]
    for key in ("prediction_id", "variant", "model_version"):
        record[key] = answer[key]
    return record


# -- Open Inference Protocol v2 --------------------------------------------------------------
def _oip_routes(app: FastAPI, state: ServeState) -> None:
    @app.get("/v2", tags=["v2"], **answers(ServerMetadata))
    async def server_metadata() -> dict[str, Any]:
        """Server metadata: name, version, extensions."""
        return {"name": "tabloop", "version": __version__, "extensions": []}

    @app.get("/v2/health/live", tags=["v2"], **answers(ServerLive))
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"], **answers(ServerReady, 503))
    def ready(request: Request) -> dict[str, bool]:
        problems = state.readiness_problems(detailed=state.guard.accepts(request))
        if problems:
            raise ApiError(503, "not_ready", f"Not ready: {'; '.join(problems)}.")
        return {"ready": True}

    def metadata(request: Request, name: str, version: str | None) -> dict[str, Any]:
        return model_metadata(state, name, _resolve(state, name, version)[1])

    @app.get("/v2/models/{name}", tags=["v2"], **answers(ModelMetadata, 404))
    @needs(ANY_ROLE)
    async def model(request: Request, name: str) -> dict[str, Any]:
        """Model metadata: one input tensor per column, the output tensors."""
        return metadata(request, name, None)

    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"], **answers(ModelMetadata, 404))
    @needs(ANY_ROLE)
    async def model_version(request: Request, name: str, version: str) -> dict[str, Any]:
        """The metadata of the variant serving ``version``."""
        return metadata(request, name, version)

    @app.get("/v2/models/{name}/ready", tags=["v2"], **answers(ModelReady, 404))
    async def model_ready(name: str) -> dict[str, Any]:
        """200 when the model is loaded; 404 for a name this service does not serve."""
        _resolve(state, name, None)
        return {"name": name, "ready": True}

    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["v2"], **answers(ModelReady, 404))
    async def version_ready(name: str, version: str) -> dict[str, Any]:
        _resolve(state, name, version)
        return {"name": name, "version": version, "ready": True}

    async def infer(request: Request, name: str, version: str | None) -> JSONResponse:
        forced, variants = _resolve(state, name, version)
        body, binary = read_infer_request(
            await request.body(), request.headers.get("inference-header-content-length")
        )
        kinds: dict[str, str] = {c.name: c.kind for v in reversed(variants) for c in v.model.schema}
        rows = tensor_rows(body, binary, kinds)
        model = variants[0].model
        available = [o["name"] for o in _outputs(model)]
        wanted = [o.name for o in body.outputs or []] or available
        unknown = [n for n in wanted if n not in available]
        if unknown:
            raise ApiError(
                422,
                "unknown_output",
                f"No output {unknown[0]!r}; this model has {', '.join(available)}.",
                field="outputs",
            )
        prediction = await predict_rows(state, request, rows, forced=forced, field="inputs")
        out = infer_response(model, name, body.id, prediction, wanted)
        return JSONResponse(out, headers=prediction.headers())

    @app.post(
        "/v2/models/{name}/infer",
        tags=["v2"],
        openapi_extra=_body(InferRequest),
        **answers(InferResponse, *INFER_ERRORS),
    )
    @needs("predict")
    async def model_infer(request: Request, name: str) -> JSONResponse:
        """Predict one tensor per column (JSON data or Triton's binary tensor data); the
        registered model's name routes by the traffic split, a variant's name forces it."""
        return await infer(request, name, None)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        tags=["v2"],
        openapi_extra=_body(InferRequest),
        **answers(InferResponse, *INFER_ERRORS),
    )
    @needs("predict")
    async def version_infer(request: Request, name: str, version: str) -> JSONResponse:
        """Predict with the variant serving ``version``."""
        return await infer(request, name, version)


def _resolve(state: ServeState, name: str, version: str | None) -> tuple[str | None, list[Variant]]:
    """The variant to force (None: route by the split) and the variants that may answer."""
    variants = state.variants
    if name == state.config.model_name:
        if version is None:
            return None, list(variants.values())
        serving = [v for v in variants.values() if v.version == version]
        if serving:
            return serving[0].name, serving[:1]
        versions = ", ".join(sorted({v.version for v in variants.values()}))
        raise ApiError(
            404,
            "unknown_version",
            f"Model {name!r} has no variant serving version {version!r}; served: {versions}.",
            field="version",
        )
    if name in variants:
        if version is not None and version != variants[name].version:
            raise ApiError(
                404,
                "unknown_version",
                f"Variant {name!r} serves version {variants[name].version}, not {version!r}.",
                field="version",
            )
        return name, [variants[name]]
    raise ApiError(
        404,
        "unknown_model",
        f"No model {name!r}; this service answers as {state.config.model_name!r} (routed by "
        f"the traffic split) or as one of its variants: {', '.join(variants)}.",
        field="model_name",
    )


def model_metadata(state: ServeState, name: str, variants: list[Variant]) -> dict[str, Any]:
    """OIP model metadata: the columns of every variant that may answer, then the outputs."""
    inputs: dict[str, dict[str, Any]] = {}
    for variant in variants:
        for column in variant.model.schema:
            datatype = KIND_DATATYPES.get(column.kind, "BYTES")
            inputs.setdefault(
                column.name, {"name": column.name, "datatype": datatype, "shape": [-1]}
            )
    for extra in sorted(state.extras - set(inputs)):  # id, sticky and context columns
        inputs[extra] = {
            "name": extra,
            "datatype": "BYTES",
            "shape": [-1],
            "parameters": {"optional": True},
        }
    return {
        "name": name,
        "versions": list(dict.fromkeys(v.version for v in variants)),
        "platform": "tabloop",
        "inputs": list(inputs.values()),
        "outputs": _outputs(variants[0].model),
        "parameters": {
            "task": variants[0].model.task,
            "variants": {v.name: v.version for v in variants},
        },
    }


def _outputs(model: TabloopModel) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = [
        {"name": "prediction", "datatype": label_datatype(model), "shape": [-1]}
    ]
    if model.task == "binary":
        outputs.append({"name": "probability", "datatype": "FP64", "shape": [-1]})
    if model.task in ("binary", "multiclass"):
        classes = [str(c) for c in model.classes]
        outputs.append(
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": [-1, len(classes)],
                "parameters": {"classes": classes},
            }
        )
    return outputs


def label_datatype(model: TabloopModel) -> str:
    """The OIP datatype of the ``prediction`` output: the target's own type where it has one."""
    if model.task == "regression":
        return "FP64"
    if model.task == "clustering":
        return "INT64"
    labels = list(model.classes)
    if all(isinstance(c, bool | np.bool_) for c in labels):
        return "BOOL"
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in labels):
        return "INT64"
    if all(isinstance(c, float | np.floating) for c in labels):
        return "FP64"
    return "BYTES"


def infer_response(
    model: TabloopModel,
    name: str,
    request_id: str | None,
    prediction: Prediction,
    wanted: list[str],
) -> dict[str, Any]:
    """``prediction`` as an OIP inference response with the ``wanted`` outputs."""
    answers, n = prediction.answers, len(prediction.answers)
    by_name = {o["name"]: o for o in _outputs(model)}
    data: dict[str, list[Any]] = {}
    if "prediction" in wanted:
        as_text = by_name["prediction"]["datatype"] == "BYTES"
        data["prediction"] = [str(a["prediction"]) if as_text else a["prediction"] for a in answers]
    if "probability" in wanted:
        data["probability"] = [a["probability"] for a in answers]
    if "probabilities" in wanted:
        classes = by_name["probabilities"]["parameters"]["classes"]
        data["probabilities"] = [a["probabilities"][c] for a in answers for c in classes]
    outputs = []
    for key in wanted:
        tensor = {**by_name[key], "shape": [n, *by_name[key]["shape"][1:]], "data": data[key]}
        outputs.append(tensor)
    versions = list(dict.fromkeys(a["model_version"] for a in answers))
    return {
        "model_name": name,
        "model_version": ",".join(versions),
        "id": request_id or prediction.request_id,
        "parameters": {
            "request_id": prediction.request_id,
            "prediction_ids": [a["prediction_id"] for a in answers],
            "variants": [a["variant"] for a in answers],
            "model_versions": [a["model_version"] for a in answers],
        },
        "outputs": outputs,
    }


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI request body of ``model`` for a route that reads its body itself."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:  # OpenAPI resolves "#/$defs/..." from its own root
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    return {"requestBody": {"required": True, "content": {JSON: {"schema": inline(schema)}}}}
