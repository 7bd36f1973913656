"""The OpenAPI contract: operation names, and every error status each operation can answer.

FastAPI documents only its own 422. Every error here has one envelope, so the document is
completed from what each route is: every ``/api/v1`` operation can answer 401 and 429
(authentication and its throttle), 422 (a bad parameter or body) and 503 (the database is away);
a role check adds 403, a path parameter 404, a write 409 and a request body 400. Any request
can carry a body over the size limit, so every operation documents 413.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from tracker.organisations.models import Role

API_PREFIX = "/api/v1"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"

DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8 JSON)",
    401: "No API key, or one that is unknown, revoked or of a deactivated user",
    403: "Your role may not do this",
    404: "No such object, or not one you may see",
    409: "The object is not in a state that allows this, or changed meanwhile",
    413: "The request body is over the size limit",
    422: "A parameter or a body field is not acceptable; `loc` names it",
    429: "Too many failed authentications from your address; retry after `Retry-After` seconds",
    503: "The database is unavailable; retry after `Retry-After` seconds",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}


class Problem(BaseModel):
    """One thing wrong: where (`loc`), what (`msg`), and a stable `type` to branch on."""

    loc: list[str | int] = Field(description='Where, e.g. ["body", "urls", 3]')
    msg: str
    type: str = Field(description="Stable machine-readable kind, e.g. report.not_found")


class ErrorEnvelope(BaseModel):
    """Every error answer of the API."""

    detail: list[Problem]


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented route as served: its full path, methods, and dependency tree."""

    path: str
    methods: frozenset[str]
    route: APIRoute
    dependant: Dependant


def api_operations(app: FastAPI) -> Iterator[Operation]:
    """Every route in the OpenAPI document, with the path it is served at (prefixes included).

    FastAPI 0.165 keeps included routers lazily; ``iter_route_contexts`` resolves them.
    """
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: included routes are already flat
        for route in app.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                yield Operation(
                    route.path_format, frozenset(route.methods or ()), route, route.dependant
                )
        return
    for context in contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.include_in_schema:
            yield Operation(
                str(context.path_format),
                frozenset(context.methods or ()),
                route,
                context.dependant,
            )


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method some route serves at this concrete path (for a 405's ``Allow``)."""
    table = app.state.__dict__.get("_allowed_methods")
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(op.path)) + "$"),
                op.methods,
            )
            for op in api_operations(app)
        ]
        app.state._allowed_methods = table
    return {method for pattern, methods in table if pattern.match(path) for method in methods}


def operation_id(route: APIRoute) -> str:
    """`cases_list`, not `list__api_v1_cases_get`: the first tag and the handler's name."""
    tag = str(route.tags[0]) if route.tags else "service"
    return f"{tag}_{route.name.rstrip('_')}"


def _allowed_roles(dependant: Dependant) -> set[Role] | None:
    """The roles a route admits, from the role checks among its dependencies (None: any)."""
    pending = [dependant]
    allowed: set[Role] | None = None
    while pending:
        dependant = pending.pop()
        roles = getattr(dependant.call, "allowed_roles", None)
        if roles is not None:
            allowed = set(roles) if allowed is None else allowed & set(roles)
        pending.extend(dependant.dependencies)
    return allowed


def error_statuses(operation: Operation, method: str) -> list[int]:
    """Every error status this operation can answer."""
    statuses = {413}  # any request may carry a body over the limit
    if operation.path.startswith(API_PREFIX):
        statuses |= {401, 422, 429, 503}  # 422: the input screen reads every query string
        roles = _allowed_roles(operation.dependant)
        if roles is not None and roles != set(Role):
            statuses.add(403)
    # A path parameter may be read in a sub-dependency (a check before a form is parsed).
    has_path_params = bool(operation.dependant.path_params) or "{" in operation.path
    if has_path_params:
        statuses.add(404)
    if has_path_params or operation.dependant.query_params:
        statuses.add(422)
    if method in WRITE_METHODS:
        statuses.add(409)
    if operation.dependant.body_params:
        statuses |= {400, 422}
    return sorted(statuses)


def _error_response(status_code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status_code],
        "content": {"application/json": {"schema": {"$ref": ENVELOPE_REF}}},
    }
    if status_code in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with every operation's error statuses in the one envelope."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorEnvelope"] = envelope
    for served in api_operations(app):
        for method in served.methods:
            operation = schema["paths"].get(served.path, {}).get(method.lower())
            if operation is None:
                continue
            if served.route.summary is None and served.route.description:
                # "Open a case", not "Create": the docstring's first sentence names the action.
                first = served.route.description.strip().split("\n\n")[0]
                operation["summary"] = " ".join(first.split()).split(". ")[0].rstrip(".")
            responses = operation.setdefault("responses", {})
            for status_code in error_statuses(served, method):
                # Ours replaces FastAPI's own 422 (HTTPValidationError is not what is sent);
                # a route's own wording of another status is kept.
                response = _error_response(status_code)
                own = responses.get(str(status_code), {}).get("description")
                if own and status_code != 422:
                    response["description"] = own
                responses[str(status_code)] = response
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install_contract(app: FastAPI) -> None:
    """Serve the completed document at the app's OpenAPI URL (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
