"""The OpenAPI document of a running service, built from the models it serves.

Maintainer note: a document that tells the truth
------------------------------------------------
FastAPI writes the document from the routes' signatures, which know nothing of the models:
a row would be "any object" and the example a guess. Here the document is rewritten from
the variants being served, once per set of served versions (a reload that swaps a model
rebuilds it):

- ``Row``: one property per column of the served models (the union over the variants, as
  a routed row may reach any of them), typed by the column's kind as the service reads it
  (``number`` even where training held integers, ``null`` everywhere); categories as an
  ``enum`` where an unseen category is refused (each in every form the service matches
  by key: ``10`` and ``"10"``, but ``"01"`` only as text); the id, sticky and context columns and
  the columns a model ignores as optional properties; nothing else (the service answers
  an unknown column with a 422). ``/predict``, ``/invocations`` and ``/v2/.../infer``
  carry an example row built from the schema that every variant accepts.
- Errors: every status a route can answer, each with the one body of
  :mod:`tabloop.serve._errors`, described by :class:`~tabloop.serve._responses.ErrorBody`
  (a test validates real error answers against it); routes declare their own statuses
  (``responses=errors(404, 422)``), and the statuses that shared machinery adds (the key
  check, the JSON body reader, the body-size cap) are added here for every route it
  guards.
- Security: when keys are configured, the two ways the guard reads a key (``Authorization:
  Bearer`` and ``X-API-Key``) as schemes, applied to each route with a role
  (:func:`~tabloop.serve._security.needs`), whose description names the role.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tabloop.data import ColumnSchema
    from tabloop.serve._state import ServeState
    from tabloop.serve._variants import Variant

JSON = "application/json"
REF = "#/components/schemas/"
#: The two ways :class:`~tabloop.serve._security.Guard` reads a key; either will do.
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <key>; a key of serve.keys with the route's role",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "the same key in X-API-Key",
    },
}
#: The OIP datatype announced for a column of each schema kind (everything else: BYTES).
KIND_DATATYPES = {"numeric": "FP64", "boolean": "BOOL"}


# -- rows from the models' schemas -----------------------------------------------------------
def _columns(variants: list[Variant]) -> dict[str, list[tuple[Variant, ColumnSchema]]]:
    """Each input column of the variants, in order of first appearance, with who reads it."""
    out: dict[str, list[tuple[Variant, ColumnSchema]]] = {}
    for variant in variants:
        for column in variant.model.schema:
            out.setdefault(column.name, []).append((variant, column))
    return out


def _category_value(key: str) -> Any:
    """A category key (:func:`~tabloop.data.frame.category_key`) as the value a client most
    likely sends: ``"3"`` as 3, ``"true"`` as true, ``"01"`` and other text as it is."""
    from tabloop.data.frame import category_key

    if key in ("true", "false"):
        return key == "true"
    try:
        number = float(key)
    except ValueError:
        return key
    if not math.isfinite(number):
        return key
    value: Any = int(number) if number.is_integer() else number
    return value if category_key(value) == key else key  # "01" or "1e3" stay text


def _category_values(keys: list[str]) -> list[Any]:
    """Every value that matches ``keys``: the typed value, and the key's text where it
    differs (the service compares categories by key, so 3 and "3" are the same)."""
    out: list[Any] = []
    for key in keys:
        value = _category_value(key)
        out.extend([value] if value == key else [value, key])
    return out


def column_schema(readers: list[tuple[Variant, ColumnSchema]]) -> dict[str, Any]:
    """The JSON schema of one column's value, as every variant reading it accepts."""
    column = readers[0][1]
    schema: dict[str, Any]
    if column.kind == "numeric":
        # "number" even when training held whole numbers: the service takes 41.5 there too
        schema = {"type": "number"}
        notes = ["numeric"]
        if all(c.integer for _, c in readers):
            notes.append("whole numbers in training")
        if column.min is not None and column.max is not None:
            notes.append(f"seen in training: {column.min:g} to {column.max:g}")
        schema["description"] = "; ".join(notes)
    elif column.kind == "boolean":
        schema = {"type": "boolean"}
    elif column.kind == "categorical":
        keys = _shared_categories(readers)
        values = _category_values(keys)
        # an enum only of known categories (a column with too many keeps none stored)
        refused = bool(keys) and any(v.model.unseen == "error" for v, _ in readers)
        schema = {"enum": values} if refused else {"type": ["string", "number", "boolean"]}
        if not refused:
            shown = ", ".join(map(str, keys[:20])) + (" …" if len(keys) > 20 else "")
            schema["description"] = f"categorical; seen in training: {shown}"
    elif column.kind == "datetime":
        schema = {"type": "string", "description": "an ISO date or date and time"}
    else:  # text, id
        schema = {"type": "string"}
    # null in every column: the service answers a row with a missing value (imputed, a
    # warning where training had none); only a batch whose column is all missing, where
    # training had none, is refused, which a schema of one row cannot say
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    else:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*kinds, "null"]
    return schema


def _shared_categories(readers: list[tuple[Variant, ColumnSchema]]) -> list[str]:
    """The categories every reader knows (all of the first reader's if none is shared)."""
    first = list(readers[0][1].categories or ())
    shared = [k for k in first if all(k in (c.categories or ()) for _, c in readers)]
    return shared or first


def row_schema(state: ServeState) -> dict[str, Any]:
    """The JSON schema of one row that the served variants accept."""
    variants = list(state.variants.values())
    columns = _columns(variants)
    properties = {name: column_schema(readers) for name, readers in columns.items()}
    cfg = state.config
    for name in (cfg.data.id, cfg.serve.sticky_by):
        if name and name not in properties:
            properties[name] = {"type": ["string", "integer"]}
    notes = {cfg.data.id: "the entity id (data.id): outcomes can be sent by it"}
    if cfg.serve.sticky_by:
        notes[cfg.serve.sticky_by] = "picks the variant (serve.sticky_by)"
    for name, note in notes.items():
        if name in properties:
            properties[name] = {**properties[name], "description": note}
    for name in cfg.serve.context:
        properties.setdefault(name, {"description": "context: logged, never fed to a model"})
    for variant in variants:  # a column some model ignores, if no variant refuses it
        for name in variant.model.ignored:
            if all(name in v.model.inputs or name in v.model.ignored for v in variants):
                properties.setdefault(name, {"description": "accepted, not read by a model"})
    required = [*columns, *([cfg.serve.sticky_by] if cfg.serve.sticky_by else [])]
    return {
        "title": "Row",
        "description": "One row: column -> value (null for a missing value: a row may miss "
        "any value; a batch of several rows whose column has no value at all is refused "
        "(422) where training had none missing). Other columns are refused (422).",
        "type": "object",
        "properties": properties,
        "required": list(dict.fromkeys(required)),
        "additionalProperties": False,
    }


def example_row(state: ServeState) -> dict[str, Any]:
    """A row every served variant accepts, built from the models' schemas."""
    row: dict[str, Any] = {}
    for name, readers in _columns(list(state.variants.values())).items():
        row[name] = _example_value(readers)
    cfg = state.config
    for extra in (cfg.data.id, cfg.serve.sticky_by):
        if extra and extra not in row:
            row[extra] = "example-1"
    return row


def _example_value(readers: list[tuple[Variant, ColumnSchema]]) -> Any:
    column = readers[0][1]
    if column.kind == "numeric":
        low = max((c.min for _, c in readers if isinstance(c.min, int | float)), default=0.0)
        high = min((c.max for _, c in readers if isinstance(c.max, int | float)), default=low)
        middle = (low + high) / 2 if high >= low else low
        return round(middle) if all(c.integer for _, c in readers) else round(middle, 3)
    if column.kind in ("categorical", "boolean"):
        keys = _shared_categories(readers)
        if keys:
            return _category_value(keys[0])
        return False if column.kind == "boolean" else None
    if column.kind == "datetime":
        return column.min if isinstance(column.min, str) else "2024-01-01"
    return "text"


def tensors_example(state: ServeState, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as an OIP inference request: one tensor of one value per column."""
    kinds = {c.name: c.kind for v in state.variants.values() for c in v.model.schema}
    inputs = []
    for name, value in row.items():
        datatype = KIND_DATATYPES.get(kinds.get(name, ""), "BYTES")
        data = value if datatype != "BYTES" or value is None else str(value)
        inputs.append({"name": name, "shape": [1], "datatype": datatype, "data": [data]})
    return {"inputs": inputs}


# -- the document ----------------------------------------------------------------------------
def install_openapi(app: FastAPI, state: ServeState) -> None:
    """Make ``app.openapi`` build the document from the served models, once per version set."""
    cache: dict[tuple[str, ...], dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        key = tuple(f"{n}={v.resolved}" for n, v in state.variants.items())
        if key not in cache:
            cache.clear()
            cache[key] = build_openapi(app, state)
        app.openapi_schema = cache[key]
        return cache[key]

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI, state: ServeState) -> dict[str, Any]:
    """The OpenAPI document of ``app`` as the served variants make it true."""
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _add_rows(doc, state)
    _add_guarded_statuses(doc, app, state)
    return doc


def _add_guarded_statuses(doc: dict[str, Any], app: FastAPI, state: ServeState) -> None:
    """The statuses shared machinery answers, on every route it guards: 401/403 and the
    security schemes where keys are configured, 400/413/415/422 where FastAPI reads a JSON
    body; FastAPI's own 422 schema replaced by the body the service sends."""
    from fastapi.routing import APIRoute

    from tabloop.serve._responses import STATUS_MEANING, ErrorBody
    from tabloop.serve._security import ANY_ROLE

    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    body = ErrorBody.model_json_schema(ref_template=REF + "{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    keyed = bool(state.guard.keys)
    if keyed:
        components["securitySchemes"] = SECURITY_SCHEMES

    def error(status: int) -> dict[str, Any]:
        content = {JSON: {"schema": {"$ref": f"{REF}ErrorBody"}}}
        return {"description": STATUS_MEANING[status], "content": content}

    error_shapes = [{"$ref": f"{REF}{name}"} for name in ("HTTPValidationError", "ErrorBody")]
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        role = getattr(route.endpoint, "tabloop_role", None)
        for method in route.methods or ():
            operation = doc["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            statuses = []
            if role is not None and keyed:
                statuses += [401] if role == ANY_ROLE else [401, 403]
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
                who = "any valid key" if role == ANY_ROLE else f"a key with the role {role!r}"
                text = operation.get("description", "")
                operation["description"] = f"{text}\n\nNeeds {who} (admin may do all).".strip()
            if route.body_field is not None:  # a JSON body read by StrictJSONRoute
                statuses += [400, 413, 415, 422]
            for status in statuses:
                responses.setdefault(str(status), error(status))
            for status, response in responses.items():
                # FastAPI's 422 shape is not what the service sends, and an error of an HTML
                # route is still JSON (FastAPI files it under the route's media type)
                shapes = [m.get("schema") for m in response.get("content", {}).values()]
                if any(s in shapes for s in error_shapes) and status.isdigit():
                    responses[status] = error(int(status))
            operation["responses"] = dict(sorted(responses.items()))


def _add_rows(doc: dict[str, Any], state: ServeState) -> None:
    """The ``Row`` schema in the request bodies, and a working example of each."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Row"] = row_schema(state)
    rows = {"type": "array", "items": {"$ref": f"{REF}Row"}, "minItems": 1}
    row = example_row(state)
    predict = schemas.get("PredictRequest", {}).get("properties", {})
    for key in ("records", "dataframe_records"):
        if key in predict:
            predict[key] = {"anyOf": [rows, {"type": "null"}], **_doc_of(predict[key])}
    if "PredictRequest" in schemas:
        schemas["PredictRequest"]["examples"] = [{"records": [row]}]
    paths = doc.get("paths", {})
    for path in ("/predict", "/predict/{variant}"):
        _set_example(paths, path, {"records": [row]})
    columns = list(row)
    split = {"columns": columns, "data": [[row[c] for c in columns]]}
    _set_example(paths, "/invocations", {"dataframe_split": split})
    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        _set_example(paths, path, tensors_example(state, row))
    _set_path_example(paths, "name", state.config.model_name)
    versions = [v.version for v in state.variants.values()]
    if versions:
        _set_path_example(paths, "version", versions[0])
    _set_path_example(paths, "variant", next(iter(state.variants), None))


def _doc_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in ("title", "description", "default") if k in schema}


def _set_example(paths: dict[str, Any], path: str, example: dict[str, Any]) -> None:
    operation = paths.get(path, {}).get("post")
    if operation is None:
        return
    content = operation.get("requestBody", {}).get("content", {}).get(JSON)
    if content is not None:
        content["example"] = example


def _set_path_example(paths: dict[str, Any], name: str, value: Any) -> None:
    """An example for the path parameter ``name`` in every operation that has one."""
    if value is None:
        return
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == name:
                    parameter["example"] = value
