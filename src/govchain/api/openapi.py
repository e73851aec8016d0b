"""The OpenAPI description of the API: the answers every route shares, documented in one place.

Routes document their own results and the errors only they raise (``problem_responses``). What
follows from how a route is declared is added here, for every operation, so that the
description cannot drift from the behaviour of ``api.guards``, ``api.auth`` and
``api.problems``:

* every path under an API prefix: 400 ``malformed_encoding`` (a URL that is not UTF-8, a
  control character in the path; a path parameter without a pattern of its own gets
  ``NO_CONTROLS``);
* an access check (``USER``, ``staff``, ``dept_staff``): 401 and the ``bearer`` security
  requirement; one that looks at the kind, role or department (all but ``USER``): 403;
* path parameters: 404; a request body that is JSON only: 415 ``unsupported_media_type``;
  parameters or a request body: 422 ``schema_violation``.

Every error answer is an ``application/problem+json`` document (``ProblemPublic``): FastAPI's
own ``HTTPValidationError`` (``application/json``) is replaced, since ``api.problems`` never
sends it. Each operation's description ends with who may call it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute

from govchain.api.auth import USER, Access, find_access
from govchain.api.guards import API_PREFIXES
from govchain.api.problems import PROBLEM_JSON
from govchain.api.schemas import ProblemPublic
from govchain.sdk.answers import COMMIT_ANSWERS, PROBLEM_REF, problem_content, problem_responses

__all__ = ["COMMIT_ANSWERS", "PROBLEM_REF", "describe", "install", "problem_responses"]

BEARER = "bearer"
"""Name of the security scheme: an access token of the node's OpenID provider."""

_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "An access token from this node's OpenID provider (`/oidc/token`); without one, or "
        "with one that is forged, expired or revoked, the answer is 401."
    ),
}

SHARED_ANSWERS: dict[int, str] = {
    400: (
        "The URL's path or query is not UTF-8 once percent-decoded, or its path holds a "
        "control character (`malformed_encoding`)."
    ),
    401: (
        "No bearer access token, or one that is forged, expired, of another issuer or of a "
        "logged-out session (`unauthenticated`, `invalid_token`); with `WWW-Authenticate`."
    ),
    403: "The logged-in user is not of the kind, role or department this operation is for.",
    404: "Nothing answers to the path parameters (`not_found` or a more specific code).",
    415: "The body is not sent as `application/json` (`unsupported_media_type`).",
    422: (
        "A parameter or the body does not match its schema (`schema_violation`; `errors` "
        "lists each place and reason when the framework found it)."
    ),
}
"""What each status means when it comes from the shared checks rather than the route."""

_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")

NO_CONTROLS = "^[^\\x00-\\x1f\\x7f]*$"
"""What every path parameter without a pattern of its own must match: ``api.guards`` refuses a
path holding a control character (400)."""


def _operations(app: FastAPI) -> Iterator[tuple[str, str, Access | None]]:
    """Yield ``(path, method, access)`` of every documented operation, with the access given
    where its router was included (FastAPI 0.165 includes routers lazily)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Any = contexts(app.routes) if contexts is not None else app.routes
    for route in routes:
        original = getattr(route, "original_route", route)
        if not isinstance(original, APIRoute) or not route.include_in_schema:
            continue
        access = find_access(route.dependant)
        for method in sorted(route.methods or ()):
            yield route.path_format, method.lower(), access


def _shared_statuses(path: str, op: dict[str, Any], access: Access | None) -> list[int]:
    params = op.get("parameters", [])
    body = op.get("requestBody", {})
    statuses = []
    if path.startswith(API_PREFIXES):
        statuses.append(400)
    if access is not None and access.checks_token:
        statuses.append(401)
        if access is not USER:
            statuses.append(403)
    if any(p.get("in") == "path" for p in params):
        statuses.append(404)
    media = body.get("content", {})
    if media and all(m == "application/json" for m in media):  # uploads take other types
        statuses.append(415)
    if params or body:
        statuses.append(422)
    return statuses


def _is_problem(answer: Mapping[str, Any]) -> bool:
    content = answer.get("content")
    if not content or PROBLEM_JSON in content:
        return True
    schema = content.get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").rsplit("/", 1)[-1] in (*_FRAMEWORK_SCHEMAS, "ProblemPublic")


def _describe_operation(
    path: str, op: dict[str, Any], access: Access | None, doc: dict[str, Any]
) -> None:
    for param in op.get("parameters", []):
        schema = param.get("schema", {})
        if param.get("in") == "path" and schema.get("type") == "string":
            schema.setdefault("pattern", NO_CONTROLS)
    answers: dict[str, Any] = op.setdefault("responses", {})
    for shared in _shared_statuses(path, op, access):
        own = answers.get(str(shared))
        if own is None or own.get("description") == "Validation Error":  # FastAPI's default
            answers[str(shared)] = {"description": SHARED_ANSWERS[shared]}
    for status, answer in answers.items():
        if status.isdigit() and int(status) >= 400 and _is_problem(answer):
            answer["content"] = problem_content()
    op["responses"] = dict(sorted(answers.items()))
    if access is not None and access.checks_token:
        op["security"] = [{BEARER: []}]
        doc["components"].setdefault("securitySchemes", {})[BEARER] = _BEARER_SCHEME
    if access is not None:
        note = f"Access: {access.description}."
        op["description"] = f"{op['description']}\n\n{note}" if op.get("description") else note


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def describe(app: FastAPI, doc: dict[str, Any]) -> None:
    """Add the shared answers, security requirements and access notes to ``doc``, the
    description FastAPI generated for ``app`` (changed in place)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ProblemPublic",
        ProblemPublic.model_json_schema(ref_template="#/components/schemas/{model}"),
    )
    paths = doc.get("paths", {})
    for path, method, access in _operations(app):
        op = paths.get(path, {}).get(method)
        if op is not None:
            _describe_operation(path, op, access, doc)
    used = set(_references(paths))
    for name in _FRAMEWORK_SCHEMAS:
        if f"#/components/schemas/{name}" not in used:
            schemas.pop(name, None)


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the described document; FastAPI
    caches the generated document, which is described once."""
    generate = app.openapi
    described: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        doc = generate()
        if not any(d is doc for d in described):
            describe(app, doc)
            described[:] = [doc]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
