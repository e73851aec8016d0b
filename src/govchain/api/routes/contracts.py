"""Contracts: what is deployed, their methods, read-only views, and the install-time check."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request

from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep, read_body
from govchain.api.openapi import problem_responses
from govchain.contracts.checks import check_source
from govchain.contracts.errors import UnknownContract
from govchain.contracts.model import ClassContract
from govchain.contracts.packages import ENTRY_FILE, LIFECYCLE, check_files
from govchain.contracts.registry import ContractRegistry
from govchain.contracts.views import ReadContext
from govchain.errors import MalformedEncoding, SchemaViolation
from govchain.node.node import Node

router = APIRouter(prefix="/v1/contracts", tags=["contracts"], dependencies=[requires(PUBLIC)])

MAX_ARGS_BYTES = 64 * 1024
"""Largest request body of a view call or a package check."""


def _registry(node: Node) -> ContractRegistry:
    host = node.ledger.host
    if not isinstance(host, ContractRegistry):
        raise UnknownContract("this node runs no contract registry")
    return host


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEncoding(f"{what} is not JSON: {exc}") from None
    if type(value) is not dict:
        raise SchemaViolation(f"{what} must be a JSON object")
    return value


@router.get("", summary="Deployed contracts: built-in and committed through the lifecycle")
def list_contracts(node: NodeDep) -> dict[str, Any]:
    """Return the built-in contracts and every committed definition."""
    registry = _registry(node)
    committed = node.query(LIFECYCLE, "contracts", {}) if registry.installed else []
    return {"builtin": registry.names(), "committed": committed}


@router.get(
    "/{name}",
    summary="A contract's definition and methods",
    responses=problem_responses({404: "No contract of this name is deployed."}),
)
def get_contract(name: str, node: NodeDep) -> dict[str, Any]:
    """Return the committed definition (code hash, version, policy) and the method list."""
    registry = _registry(node)
    native = registry.builtin(name)
    if native is not None:
        methods = native.describe() if isinstance(native, ClassContract) else []
        return {"name": name, "builtin": True, "definition": None, "methods": methods}
    definition = node.query(LIFECYCLE, "definition", {"name": name})
    if definition is None or registry.installed is None:
        raise UnknownContract(f"no contract named {name!r} is deployed")
    head = node.ledger.head
    ctx = ReadContext(
        node.ledger.state, node.ledger.height, head.header.timestamp_ms if head else 0
    )
    loaded = registry.installed.resolve(ctx, name)
    return {"name": name, "builtin": False, "definition": definition, "methods": loaded.describe()}


_ARGS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The view's arguments (none: `{}`).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_PACKAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A contract package: its files by name, `contract.py` among them.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "object",
                            "required": [ENTRY_FILE],
                            "propertyNames": {
                                "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}\\.(py|md|txt)$"
                            },
                            "additionalProperties": {"type": "string"},
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/{name}/views/{method}",
    summary="Run a read-only view (JSON object of args)",
    openapi_extra=_ARGS_BODY,
    responses=problem_responses(
        {
            400: "The body is not JSON, or the view refused its input.",
            403: "The view refused the caller.",
            404: "No such contract or view (`unknown_contract`, `unknown_method`), or what the "
            "view looked up does not exist.",
            409: "The view failed (`contract_failed`).",
            413: "The body is over 64 KiB.",
            422: "The body is not a JSON object, the view refused its arguments "
            "(`bad_arguments`), or it used up its steps (`budget_exhausted`).",
        }
    ),
)
async def call_view(name: str, method: str, request: Request, node: NodeDep) -> dict[str, Any]:
    """Run a view against the committed state; the body is the JSON object of arguments."""
    args = _json_object(await read_body(request, MAX_ARGS_BYTES), "arguments")
    return {
        "contract": name,
        "method": method,
        "height": node.ledger.height,
        "result": node.query(name, method, args),
    }


@router.post(
    "/check",
    summary="Check a contract package as install would (no state change)",
    openapi_extra=_PACKAGE_BODY,
    responses=problem_responses(
        {
            400: "The body is not JSON.",
            413: "The body is over 64 KiB.",
            422: "The body is not a package (`bad_arguments`: no `contract.py`, a file name "
            "or a file that is not text, over 48 KiB of text).",
        }
    ),
)
async def check_package(request: Request) -> dict[str, Any]:
    """Run the install-time static check on ``{"files": {...}}``; return every finding."""
    body = _json_object(await read_body(request, MAX_ARGS_BYTES), "package")
    files = check_files(body.get("files", {}))
    findings = [
        f.to_json()
        for path, text in sorted(files.items())
        if path.endswith(".py")
        for f in check_source(path, text)
    ]
    return {"ok": not findings, "findings": findings}
