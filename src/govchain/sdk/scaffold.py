"""``govchain app new NAME``: write a new service folder whose generated tests pass.

The folder has the layout ``govchain.sdk.app`` describes; its contract registers items by id
(a starting point to replace with the service's procedure), its tests run the contract on the
SDK's in-memory network.
"""

from __future__ import annotations

import re
from pathlib import Path

from govchain.errors import Conflict, SchemaViolation

_NAME = re.compile(r"[a-z][a-z0-9_]{1,31}\Z")

_TEMPLATES: dict[str, str] = {
    "__init__.py": '''"""{title}: a government service on govchain."""
''',
    "app.py": '''"""The {name} service's description (found by discovery)."""

from __future__ import annotations

from govchain.sdk import App

from .demo import demo_calls

APP = App(
    name="{name}",
    title="{title}",
    description="What the {name} service does, for whom, and which departments take part.",
    demo=demo_calls,
)
''',
    "contract.py": '''"""The {name} contract (installed through the lifecycle; runs sandboxed)."""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

MAX_ID = 64


class {cls}(Contract):
    """Items registered by departments, one per id."""

    @entry
    def register(self, item_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Register an item (refused if the id is taken)."""
        if not 1 <= len(item_id) <= MAX_ID:
            raise Failed("bad_id", f"item_id must be 1 to {{MAX_ID}} characters")
        if self.ctx.exists("item/" + item_id):
            raise Failed("exists", f"item {{item_id}} is already registered")
        caller = self.ctx.caller
        item = {{
            "id": item_id,
            "data": data,
            "dept": caller.dept,
            "by": caller.member,
            "case": caller.case,
            "height": self.ctx.height,
            "time_ms": self.ctx.time_ms,
        }}
        self.ctx.put("item/" + item_id, item)
        self.ctx.emit("registered", {{"id": item_id}})
        return item

    @view
    def item(self, item_id: str) -> dict[str, Any] | None:
        """Return an item (None if not registered)."""
        found: dict[str, Any] | None = self.ctx.get("item/" + item_id)
        return found
''',
    "service.py": '''"""Service functions of {name}: build call arguments, interpret results."""

from __future__ import annotations

from typing import Any


def register_args(item_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Return the arguments of a ``register`` call."""
    return {{"item_id": item_id, "data": data}}
''',
    "routes.py": '''"""HTTP routes of {name}, mounted under ``/v1/apps/{name}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from govchain.errors import NotFound
from govchain.node.node import Node

public = APIRouter(tags=["{name}"])

ROUTERS = {{"public": public}}
"""Who may call which routes: public, signed, user (logged in) or staff."""


@public.get("/items/{{item_id}}", summary="A registered item")
def get_item(item_id: str, request: Request) -> dict[str, Any]:
    """Return an item as of the last committed block."""
    node: Node = request.app.state.node
    item: dict[str, Any] | None = node.query("{name}", "item", {{"item_id": item_id}})
    if item is None:
        raise NotFound(f"no item {{item_id!r}}")
    return item
''',
    "demo.py": '''"""Demo data of {name}: example calls for the demo network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def demo_calls(hash_fn: Callable[[bytes], bytes]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return ``(member, method, args)`` of the demo calls."""
    return [("market/admin", "register", {{"item_id": "demo-1", "data": {{"note": "demo"}}}})]
''',
    "tests/__init__.py": "",
    "tests/test_{name}_app.py": '''"""Tests of the {name} service."""

from __future__ import annotations

from pathlib import Path

from govchain.contracts.sandbox import check_source
from govchain.sdk.testing import ContractHarness

from ..app import APP
from ..service import register_args

SOURCE = (Path(__file__).resolve().parents[1] / "contract.py").read_text("utf-8")


def harness() -> ContractHarness:
    return ContractHarness(APP.name, {{"contract.py": SOURCE}}, policy=APP.policy)


def test_contract_passes_the_install_check() -> None:
    assert check_source("contract.py", SOURCE) == []


def test_register_and_read() -> None:
    h = harness()
    r = h.call("register", register_args("a-1", {{"x": 1}}), member="tax/admin", case="c-1")
    assert r.status == "ok", r.error
    item = h.view("item", {{"item_id": "a-1"}})
    assert item["dept"] == "tax" and item["case"] == "c-1" and item["data"] == {{"x": 1}}


def test_duplicate_is_refused_and_writes_nothing() -> None:
    h = harness()
    h.call("register", register_args("a-1", {{"x": 1}}))
    r = h.call("register", register_args("a-1", {{"x": 2}}))
    assert r.status == "failed" and r.error is not None
    assert r.error["code"] == "{name}.exists"
    assert h.view("item", {{"item_id": "a-1"}})["data"] == {{"x": 1}}


def test_wrong_argument_type_is_refused() -> None:
    r = harness().call("register", {{"item_id": 5, "data": {{}}}})
    assert r.error is not None and r.error["code"] == "bad_arguments"
''',
}


def class_name(name: str) -> str:
    """Return the contract class name of a service: ``land_registry`` -> ``LandRegistry``."""
    return "".join(part.capitalize() for part in name.split("_"))


def scaffold_app(name: str, parent: Path, title: str | None = None) -> list[Path]:
    """Write ``parent/<name>/`` from the templates; return the files written.

    ``SchemaViolation`` for a bad name, ``Conflict`` if the folder exists (nothing written)."""
    if not _NAME.match(name):
        raise SchemaViolation(
            f"service name {name!r} must be 2 to 32 characters: a-z, 0-9, _ (starting with a "
            "letter)"
        )
    folder = parent / name
    if folder.exists():
        raise Conflict(f"{folder} already exists")
    values = {
        "name": name,
        "title": title or name.replace("_", " ").title(),
        "cls": class_name(name),
    }
    written: list[Path] = []
    for rel, template in _TEMPLATES.items():
        path = folder / rel.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
        written.append(path)
    return written
