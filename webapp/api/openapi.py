"""The OpenAPI 3.1 description of the API, generated from the routes' models and registry."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, render_template
from pydantic import BaseModel, TypeAdapter

from webapp.api.blueprint import bp
from webapp.api.fields import NO_NUL
from webapp.api.routing import OPERATIONS, Operation, api_route
from webapp.api.schemas import Error
from webapp.boundary import MAX_ID

REF = "#/components/schemas/{model}"
PATH_VALUE = re.compile(r"<(?:(\w+):)?(\w+)>")
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Malformed request: a value of the wrong type, unparsable or out of range",
    401: "Not signed in and no valid API token",
    403: "The caller's role does not allow this",
    404: "No such record (or not the caller's)",
    409: "The record is not in a state that allows this",
    413: "The request body is larger than this deployment accepts",
    422: "A well-formed request that breaks a rule",
}


class _Schemas:
    """Collects the named models that the operations refer to."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, kind: Any, mode: str) -> dict[str, Any]:
        schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)
        self.components.update(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            self.components[kind.__name__] = schema
            return {"$ref": REF.format(model=kind.__name__)}
        return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: absence is its null, so ``anyOf [T, null]`` becomes T."""
    schema = {
        k: v for k, v in schema.items() if k != "title" and not (k == "default" and v is None)
    }
    options = schema.pop("anyOf", None)
    if options is None:
        return schema
    kept = [option for option in options if option != {"type": "null"}]
    return {**kept[0], **schema} if len(kept) == 1 else {"anyOf": kept, **schema}


def _plain_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not {"enum", "format", "minLength"} & set(schema)


def _parameters(op: Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    parameters = []
    for converter, name in PATH_VALUE.findall(op.rule):
        schema = op.path_schemas.get(name) or (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if converter == "int"
            else {"type": "string", "minLength": 1, "pattern": NO_NUL}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        model = op.query.model_json_schema(ref_template=REF, mode="validation")
        schemas.components.update(model.pop("$defs", {}))
        required = set(model.get("required", ()))
        for name, schema in model["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required}
            schema = _without_null(schema)
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            if name not in required and not _plain_text(schema):
                # A blank value means "any", as the contract's own examples (`?status=&task=`).
                default = {"default": schema.pop("default")} if "default" in schema else {}
                schema = {"anyOf": [schema, {"const": ""}], **default}
            parameters.append(parameter | {"schema": schema})
    return parameters


def _responses(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, kind in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": REASONS.get(status, "OK")}
        content = (
            {}
            if kind is None
            else {"application/json": {"schema": schemas.of(kind, "serialization")}}
        )
        content |= op.media.get(status, {})
        if content:
            answer["content"] = content
        answers[str(status)] = answer
    error = {"application/json": {"schema": schemas.of(Error, "serialization")}}
    for status in sorted(op.errors):
        answers[str(status)] = {"description": REASONS[status], "content": error}
    return answers


def _operation(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    described: dict[str, Any] = {"operationId": op.endpoint.split(".", 1)[1], "summary": op.summary}
    if op.description:
        described["description"] = op.description
    if op.public:
        described["security"] = []
    parameters = _parameters(op, schemas)
    if parameters:
        described["parameters"] = parameters
    if op.body is not None:
        described["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schemas.of(op.body, "validation")}},
        }
    if op.form is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": schemas.of(op.form, "validation")}},
        }
    described["responses"] = _responses(op, schemas)
    return described


def description() -> dict[str, Any]:
    """The whole OpenAPI document, built from every registered API route."""
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path = bp.url_prefix + PATH_VALUE.sub(r"{\2}", op.rule)
        paths.setdefault(path, {})[op.method] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jobdeck API",
            "version": "1",
            "description": "Job logs, queues, schedules, imports and exports. Every error is "
            '`{"error": {"code", "message", "field"?}}`: 400 for a malformed request (wrong '
            "type, unparsable, out of range), 422 for a well-formed one that breaks a rule, "
            "with the field at fault. Authenticate with the browser session or "
            "`Authorization: Bearer <token>` (`flask users token EMAIL`).",
        },
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@api_route("/openapi.json", ["GET"], responses={200: dict[str, Any]}, public=True)
def openapi():
    """This description (OpenAPI 3.1)"""
    return jsonify(description())


@api_route(
    "/docs",
    ["GET"],
    responses={200: None},
    media={200: {"text/html": {"schema": {"type": "string"}}}},
    public=True,
)
def docs():
    """A browsable page of this description"""
    return Response(render_template("api/docs.html"), mimetype="text/html")
