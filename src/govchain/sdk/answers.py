"""Documenting the errors of a service's HTTP routes (``apps/<name>/routes.py``).

Every error answer of the API is an RFC 9457 problem document (``application/problem+json``);
a route lists the statuses it raises itself with what each means there::

    @public.get("/records/{digest}", responses=problem_responses({404: "Not notarised."}))

What every route answers alike (a login missing, a malformed parameter, a body of another
media type) is added to the description by the API itself (``govchain.api.openapi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBLEM_JSON = "application/problem+json"
"""Media type of every error answer."""

PROBLEM_REF = "#/components/schemas/ProblemPublic"
"""Reference of the problem document's schema in the API's description."""

COMMIT_ANSWERS: dict[int, str] = {
    409: (
        "The transaction was refused in its block (`call_failed`, or the contract's own code "
        "such as `illegal_transition`): the state changed since the request was checked."
    ),
    503: "The node could not make the transaction durable in time (`unavailable`).",
}
"""What a route that commits a ledger transaction may answer besides its own checks."""


def problem_content() -> dict[str, Any]:
    """Return the ``content`` of an error answer: a problem document."""
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


def problem_responses(answers: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """Return the ``responses=`` of a route for the errors it raises itself, each status with
    what it means there (``{404: "Unknown transaction."}``)."""
    return {
        status: {"description": text, "content": problem_content()}
        for status, text in answers.items()
    }
