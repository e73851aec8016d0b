"""Describing a service (``App``) and finding every service under ``govchain.apps``.

A service is a folder ``src/govchain/apps/<name>/`` with:

- ``app.py``       ``APP = App(...)``: name, title, what it does
- ``contract.py``  its contract, if it has one (installed through the lifecycle, runs in the
                   sandbox)
- ``services/``    its service definitions (政务服务事项), JSON files published through the
                   ``services`` contract with the approval of the departments concerned
- ``service.py``   service functions (plain Python: build arguments, verify results)
- ``routes.py``    optional ``ROUTERS = {access: APIRouter}`` mounted under ``/v1/apps/<name>``
- ``demo.py``      optional ``demo_calls()``: example transactions for the demo network
- ``tests/``       its tests (run by ``make test``)

``discover_apps`` imports each folder's ``app`` module; nothing else needs registering.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from types import ModuleType
from typing import Any

from govchain.errors import NotFound, SchemaViolation

APPS_PACKAGE = "govchain.apps"
"""Package whose sub-packages are the services."""
_NAME = re.compile(r"[a-z][a-z0-9_]{1,31}\Z")


@dataclass(frozen=True, slots=True)
class App:
    """A government service built on the platform."""

    name: str
    """Service name: package name, contract name and URL segment (``notary``)."""
    title: str
    """Display title, e.g. ``"电子存证 / Notarisation"``."""
    description: str
    """One paragraph on what the service does and for whom."""
    package: str = ""
    """Dotted package of the service [default: ``govchain.apps.<name>``]."""
    contract_file: str | None = "contract.py"
    """File of the package holding the contract source (``None``: the service has no contract
    of its own and runs on the case engine)."""
    services_dir: str | None = None
    """Folder of the package holding its service definitions (``*.json``, searched
    recursively), if any."""
    resources_dir: str | None = None
    """Folder of the package holding the data-catalogue resources its definitions' checks
    read (``<resource id>.json``), registered by their owner departments before the
    definitions are published."""
    policy: dict[str, Any] = field(default_factory=lambda: {"rule": "majority"})
    """Endorsement policy its contract is installed with."""
    demo: Callable[[Callable[[bytes], bytes]], list[tuple[str, str, dict[str, Any]]]] | None = None
    """Example calls ``(member, method, args)`` for the demo network (given its hash)."""
    seed: Callable[[Any, Any, Any], list[str]] | None = None
    """Demo data for ``govchain demo``: called as ``seed(node, app_state, network_dir)`` once
    the service is deployed (``app_state`` holds the identity, sharing and case desk
    services); it must be idempotent and return a line per thing it did."""
    on_serve: Callable[[Any], None] | None = None
    """Called with the API application's state when the node starts serving (``govchain up``,
    ``demo``): start what follows the ledger without waiting for a first request (e.g.
    re-matching policies when a fact changes)."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SchemaViolation(f"app name {self.name!r} must be a short lower-case identifier")
        if not self.package:
            object.__setattr__(self, "package", f"{APPS_PACKAGE}.{self.name}")

    @property
    def contract_name(self) -> str:
        """Name the contract is committed under."""
        return self.name

    def contract_files(self) -> dict[str, str]:
        """Return the contract package (file name -> source) to install (empty: none)."""
        if self.contract_file is None:
            return {}
        source = resources.files(self.package).joinpath(self.contract_file).read_text("utf-8")
        return {"contract.py": source}

    def definitions(self) -> list[dict[str, Any]]:
        """Return the service definitions the service ships, ordered by code."""
        return self._json_files(self.services_dir, "code")

    def resources(self) -> list[dict[str, Any]]:
        """Return the data-catalogue resources the service ships, ordered by id."""
        return self._json_files(self.resources_dir, "id")

    def _json_files(self, folder: str | None, key: str) -> list[dict[str, Any]]:
        if folder is None:
            return []
        found: list[dict[str, Any]] = []
        pending = [resources.files(self.package).joinpath(folder)]
        while pending:
            here = pending.pop()
            for entry in here.iterdir():
                if entry.is_dir():
                    pending.append(entry)
                elif entry.name.endswith(".json"):
                    obj = json.loads(entry.read_text("utf-8"))
                    if not isinstance(obj, dict):
                        raise SchemaViolation(f"{entry.name}: must hold a JSON object")
                    found.append(obj)
        return sorted(found, key=lambda d: str(d.get(key)))

    def module(self, name: str) -> ModuleType | None:
        """Import one module of the service (``routes``, ``service`` ...) if it exists."""
        try:
            return importlib.import_module(f"{self.package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{self.package}.{name}":
                return None
            raise


def discover_apps(package: str = APPS_PACKAGE) -> list[App]:
    """Return the ``APP`` of every service package under ``package``, by name."""
    root = importlib.import_module(package)
    found: list[App] = []
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        dotted = f"{package}.{info.name}"
        try:
            module = importlib.import_module(f"{dotted}.app")
        except ModuleNotFoundError as exc:
            if exc.name == f"{dotted}.app":
                continue  # a helper package, not a service
            raise
        app = getattr(module, "APP", None)
        if not isinstance(app, App):
            raise SchemaViolation(f"{dotted}.app must define APP = App(...)")
        if app.name != info.name:
            raise SchemaViolation(f"{dotted}: APP.name is {app.name!r}, expected {info.name!r}")
        found.append(app)
    return sorted(found, key=lambda a: a.name)


def find_app(name: str, package: str = APPS_PACKAGE) -> App:
    """Return one service by name (``NotFound`` listing the known ones)."""
    apps = discover_apps(package)
    for app in apps:
        if app.name == name:
            return app
    raise NotFound(f"no service named {name!r} (known: {', '.join(a.name for a in apps)})")
