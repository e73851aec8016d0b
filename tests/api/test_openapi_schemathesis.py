"""A bounded schemathesis run over the whole API description, in process (issue 17, item 7).

Schemathesis reads ``/openapi.json`` of an application serving an embedded in-memory node and
calls every operation through the ASGI interface, in all four phases (the description's
examples, coverage of each constraint's edges, fuzzing, stateful sequences), with every check
it has: no server error, status codes, media types, headers and bodies as described, valid
input accepted and invalid input refused, authentication enforced, ``Allow`` on 405, ...
It runs anonymously over every operation, then over the operations that need a login as
department staff (an admin of ``tax``, the department path parameter set to ``tax`` so that
staff routes get past 403) and over those open to any logged-in user as a citizen. Any failure
fails the test, listed with the check, the operation and the answer.

Bounded for ``make test`` on two cores: few examples per operation, a fixed seed, no shrinking,
no example database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from identity_helpers import CITIZEN_ID, PASSWORD, bearer, tokens_for
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, StopReason, events
from schemathesis.python import asgi
from test_auth_declared import _declarations, all_routes

from govchain.api.auth import USER, Access
from govchain.identity.service import Identity

MAX_EXAMPLES = 3
"""Examples per operation and phase: the coverage phase already walks every constraint."""

# Operations whose validity JSON Schema cannot state: a relation between two parameters, a
# check digit, a signature, or a rule the node looks up. A request that matches their schema
# may still be refused there, with 400 or 422 (documented on each); the positive-data check
# accepts those two answers for them and nothing else changes.
SEMANTIC_REFUSALS: dict[str, str] = {
    "GET /v1/log/consistency": "from ≤ to relates two parameters",
    "GET /v1/state/{key}": "with encoding=hex the key must be hex: two parameters",
    "GET /v1/state/{key}/history": "with encoding=hex the key must be hex: two parameters",
    "GET /v1/names/check": "enterprise name rules (structure, characters, forbidden words)",
    "GET /v1/permits/needed": "the code must be one of GB/T 4754-2017's, not just shaped so",
    "POST /v1/identity/register/citizen": "GB 11643 check digit and birth date; password mix",
    "POST /v1/identity/register/enterprise": "GB 32100 and GB 11643 check characters",
    "POST /v1/identity/me/password": "a password needs letters and digits",
    "POST /v1/identity/departments/{dept}/staff": "a password needs letters and digits",
    "POST /v1/identity/departments/{dept}/members": "a key of the network's suite's size",
    "POST /v1/transactions": "a member's signature over the canonical body",
    "POST /v1/sharing/records": "a member's signature and a fresh request time",
    "POST /v1/sharing/reads": "a member's signature and a fresh request time",
    "POST /v1/sharing/erasures": "a member's signature and a fresh request time",
    "POST /v1/sharing/attestations": "a member's signature and a fresh request time",
    "PUT /v1/apps/notary/documents/{digest}": "the body must hash to the digest",
    "GET /oidc/authorize": "a registered client and one of its redirect URIs",
    "POST /oidc/authorize": "a registered client and one of its redirect URIs",
    "POST /oidc/token": "a code or refresh token the provider issued",
    "POST /v1/departments/{dept}/calendar": "the calendar contract's rules (years it covers)",
    "POST /v1/departments/{dept}/calls": "the contract's own argument rules; canonical JSON",
    "GET /v1/apps/projects/entries": "filters name a registry status or department code",
    "POST /v1/apps/projects/entries": "an entry's fields are checked field by field",
    "POST /v1/apps/projects/imports": "the file's rows are checked field by field",
    "POST /v1/apps/policies/policies": "the rule language's lint (attributes, tiers, bounds)",
    "POST /v1/apps/policies/test": "the rule language's lint (attributes, tiers, bounds)",
    "POST /v1/apps/policies/facts": "an attribute's own type and range, and who holds it",
    "GET /v1/analytics/decisions": "from_ms < to_ms relates two parameters",
    "GET /v1/analytics/decisions/{dept}": "from_ms < to_ms relates two parameters",
    "POST /v1/apps/funds/projects": (
        "milestones add up to the budget and fall due after the start; ids do not repeat"
    ),
    "POST /v1/apps/funds/projects/{project_id}/disbursements": "the project's payees and budget",
    "POST /v1/apps/funds/projects/{project_id}/milestones/{milestone}/evidence": (
        "the milestone must be one of the project's"
    ),
    "POST /v1/apps/funds/flags/{flag_id}/assign": "to staff of a department owning its project",
    "POST /v1/apps/supervision/plans": (
        "distinct inspectors, at least per_target of them; a filter that selects enterprises "
        "of the registry"
    ),
}

# Operations whose body becomes one ledger transaction, the size of which the network's genesis
# caps (``max_tx_bytes``; 4 KiB on the test network): a body the schema allows may be over it
# and refused with 413 (documented on each).
OVER_TX_LIMIT: dict[str, str] = {
    "POST /v1/apps/supervision/reports": "a batch of up to 500 rows is one transaction",
}

POSITIVE_EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""Schemathesis's default answers to valid input (a 5xx still fails ``not_a_server_error``)."""

MODES = ("anonymous", "staff", "citizen")


def _config(mode: str, headers: dict[str, str], wanted: set[str]) -> SchemathesisConfig:
    refusals = {name: [400, 422] for name in SEMANTIC_REFUSALS}
    for name in OVER_TX_LIMIT:
        refusals.setdefault(name, []).append(413)
    semantic = [
        {
            "include-name": name,
            "checks": {
                "positive_data_acceptance": {"expected-statuses": [*POSITIVE_EXPECTED, *statuses]}
            },
        }
        for name, statuses in refusals.items()
    ]
    return SchemathesisConfig.from_dict(
        {
            "seed": 17,
            "cache": {"enabled": False},
            "headers": headers,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                "no-shrink": True,
                "deterministic": True,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 6},
            },
            "suppress-health-check": ["all"],
            # Every operation but the mode's is switched off.
            "operations": [*semantic, {"exclude-name": sorted(wanted), "enabled": False}],
            **({"parameters": {"path.dept": "tax"}} if mode == "staff" else {}),
        }
    )


def _operations(app: FastAPI, mode: str) -> set[str]:
    """Names (``METHOD /path``) of the operations a mode runs: anonymous every one, staff those
    that need a login, a citizen those any logged-in user may call."""
    names = set()
    for route, path, extra in all_routes(app):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        (access,) = set(
            _declarations(route.dependant) + [d for d in extra if isinstance(d, Access)]
        )
        if mode == "anonymous" or (access.checks_token and (mode == "staff" or access is USER)):
            template = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # {agent:path} -> {agent}
            names.update(f"{method} {template}" for method in route.methods)
    return names


def _headers(app: FastAPI, mode: str) -> dict[str, str]:
    identity: Identity = app.state.identity
    if mode == "staff":
        identity.users.create_staff("tax/admin1", "管理员", "tax", "admin", PASSWORD)
        return bearer(tokens_for(identity, "tax/admin1"))
    if mode == "citizen":
        identity.users.create_citizen(CITIZEN_ID, "张三", PASSWORD)
        return bearer(tokens_for(identity, CITIZEN_ID))
    return {}


def _failures(scenario: events.ScenarioFinished) -> Iterator[str]:
    recorder = scenario.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            response = recorder.find_response(case_id=case_id)
            answer = "no answer" if response is None else f"{response.status_code}"
            body = b"" if response is None else response.content[:300]
            yield (
                f"{check.name}: {case.method} {case.formatted_path} -> {answer} "
                f"({check.failure_info.failure.title}) {body!r}"
            )


@pytest.fixture
def released() -> Iterator[None]:
    """End the applications schemathesis started (it keeps them for the whole process)."""
    yield
    asgi.shutdown_lifespans()


@pytest.mark.parametrize("mode", MODES)
def test_the_api_matches_its_description(app: FastAPI, released: None, mode: str) -> None:
    headers = _headers(app, mode)
    wanted = _operations(app, mode)
    config = _config(mode, headers, wanted)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    started = time.monotonic()
    failures: list[str] = []
    errors: list[str] = []
    operations: set[str] = set()
    finished: events.EngineFinished | None = None
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.label and event.status != Status.SKIP:
                operations.add(event.label)
            if event.status in (Status.FAILURE, Status.ERROR):
                failures.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            # An exception escaping the application is a 500 that schemathesis saw raised.
            errors.append(f"{event.label}: {type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            errors.append(f"schemathesis failed: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            finished = event
    took = time.monotonic() - started
    assert finished is not None and finished.stop_reason == StopReason.COMPLETED, finished
    assert not errors, "\n".join(errors)
    assert not failures, f"{len(failures)} failure(s) in {took:.0f} s:\n" + "\n".join(
        sorted(set(failures))
    )
    assert operations == wanted, sorted(operations ^ wanted)  # every operation was tried
    assert len(wanted) >= {"anonymous": 100, "staff": 40, "citizen": 20}[mode]


def test_the_semantic_refusals_name_real_operations(app: FastAPI) -> None:
    doc: dict[str, Any] = app.openapi()
    names = {f"{m.upper()} {p}": op for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert set(SEMANTIC_REFUSALS) <= set(names), set(SEMANTIC_REFUSALS) - set(names)
    assert set(OVER_TX_LIMIT) <= set(names), set(OVER_TX_LIMIT) - set(names)
    undocumented = {n for n in OVER_TX_LIMIT if "413" not in names[n]["responses"]}
    assert not undocumented, undocumented
