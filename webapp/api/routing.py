"""One decorator for every API route: it registers the Flask route, validates the request with
the route's models, serialises the answer through them, and records the operation from which
``/api/openapi.json`` is generated, so that the description and the code cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, jsonify, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from webapp.api import wording
from webapp.api.blueprint import bp
from webapp.auth import role_required
from webapp.exceptions import BadRequest, Invalid, ServiceError
from webapp.models.users import Role

# Pydantic error types that mean "malformed" (400): the wrong type, unparsable, out of range.
# Everything else (a missing field, an unknown one, a value outside a list) breaks a rule: 422.
MALFORMED = re.compile(
    r"(_type|_parsing|json_invalid|int_from_float|finite_number|greater_than(_equal)?|"
    r"less_than(_equal)?|multiple_of)$"
)


@dataclass
class Operation:
    """What the OpenAPI document says about one method on one path."""

    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    body_required: bool
    form: type[BaseModel] | None
    responses: dict[int, Any]
    media: dict[int, dict[str, Any]]
    errors: set[int]
    public: bool
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def api_route(
    rule: str,
    methods: Iterable[str],
    *,
    responses: dict[int, Any],
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    form: type[BaseModel] | None = None,
    role: Role | None = None,
    errors: Iterable[int] = (),
    media: dict[int, dict[str, Any]] | None = None,
    public: bool = False,
    path_schemas: dict[str, dict[str, Any]] | None = None,
) -> Callable:
    """Register ``view`` at ``rule`` for ``methods`` and describe it.

    The view gets its path values plus ``query``/``body``/``form`` as validated models, and
    returns data for the model of its status (``data`` or ``(data, status)``), or a Response.
    With ``body_required=False`` a request without a body gets ``body=None``.
    ``responses`` maps each success status to its type (None: no body); ``errors`` adds the
    error statuses it can answer besides those every route has.
    """
    methods = [m.upper() for m in methods]
    adapters = {status: TypeAdapter(kind) for status, kind in responses.items() if kind}
    first_status = min(responses)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def endpoint(**values: Any):
            if query is not None:
                values["query"] = _parse(query, request.args.to_dict(), "query")
            if body is not None:
                absent = not body_required and not request.get_data(cache=True)
                values["body"] = None if absent else _parse(body, _json_object(), "body")
            if form is not None:
                values["form"] = _parse(
                    form, request.form.to_dict() | request.files.to_dict(), "form"
                )
            return _render(view(**values), adapters, first_status)

        registered = role_required(role)(endpoint) if role else endpoint
        bp.add_url_rule(rule, view.__name__, registered, methods=methods)
        doc = (view.__doc__ or "").strip().split("\n\n", 1)
        statuses = set(errors) | {400}
        if not public:
            statuses.add(401)
        if role is not None:
            statuses.add(403)
        if "<" in rule:
            statuses.add(404)
        if query or body or form:
            statuses.add(422)
        for method in methods:
            OPERATIONS.append(
                Operation(
                    rule=rule,
                    method=method.lower(),
                    endpoint=f"{bp.name}.{view.__name__}",
                    summary=doc[0].replace("\n", " "),
                    description=doc[1].strip() if len(doc) > 1 else "",
                    query=query,
                    body=body,
                    body_required=body_required,
                    form=form,
                    responses=responses,
                    media=media or {},
                    errors=statuses,
                    public=public,
                    path_schemas=path_schemas or {},
                )
            )
        return registered

    return decorator


def _json_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return data


def _parse(model: type[BaseModel], data: dict[str, Any], where: str) -> BaseModel:
    """The request part as ``model``; the first problem as the contract's 400 or 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _request_error(exc, model, where) from None


def _request_error(exc: ValidationError, model: type[BaseModel], where: str) -> ServiceError:
    """One sentence naming the field ("limit must be at most 500"), with ``field`` set."""
    problem = exc.errors(include_url=False)[0]
    name = ".".join(str(part) for part in problem["loc"]) or where
    accepted = [n for n in model.model_fields if not n.startswith("_")]
    message = f"{name} {wording.reason(problem, accepted, where)}"
    if where == "query" or MALFORMED.search(problem["type"]):
        return BadRequest(message, field=name)
    return Invalid(message, field=name)


def _render(result: Any, adapters: dict[int, TypeAdapter], default_status: int) -> Any:
    if isinstance(result, Response):
        return result
    status = default_status
    if isinstance(result, tuple):
        result, status = result
    adapter = adapters.get(status)
    if adapter is None:
        return "", status
    return jsonify(adapter.dump_python(adapter.validate_python(result), mode="json")), status
