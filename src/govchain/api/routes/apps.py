"""The services (apps) this node serves: what each one is and whether its contract is deployed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from govchain.api.auth import PUBLIC, requires
from govchain.api.deps import NodeDep
from govchain.contracts.packages import LIFECYCLE
from govchain.sdk import discover_apps

router = APIRouter(prefix="/v1/apps", tags=["apps"], dependencies=[requires(PUBLIC)])


@router.get("", summary="The government services of this installation")
def list_apps(node: NodeDep) -> dict[str, Any]:
    """Return each service's name, title, description, route prefix, committed contract
    definition (``null`` until its departments approved and committed it, or if it runs on the
    case engine alone) and the codes of the service definitions it ships."""
    services = []
    for app in discover_apps():
        services.append(
            {
                "name": app.name,
                "title": app.title,
                "description": app.description,
                "routes": f"/v1/apps/{app.name}",
                "contract": (
                    node.query(LIFECYCLE, "definition", {"name": app.contract_name})
                    if app.contract_file is not None
                    else None
                ),
                "services": [d["code"] for d in app.definitions()],
            }
        )
    return {"apps": services}
