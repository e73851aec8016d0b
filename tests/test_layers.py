"""Imports point down only (docs: ARCHITECTURE.md, "Layers, and which way imports point").

Every module under ``src/govchain`` is parsed with ``ast`` -- nothing is imported -- and each
``govchain.*`` import it makes (absolute or relative, including ones under ``TYPE_CHECKING``) is
checked against the rule table below. Third-party imports that belong to one layer only (web
frameworks, the LMDB binding) are checked the same way.

To change the architecture, change the tables, not the checker.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# --- rule table -------------------------------------------------------------------------------

# Group name -> module prefixes it owns. A module belongs to the group with the longest matching
# prefix (matched on whole dotted components), so ``govchain.storage.base`` is its own group
# inside ``govchain.storage``. ``govchain`` alone means the package's ``__init__`` only.
GROUPS: dict[str, tuple[str, ...]] = {
    # base
    "base": ("govchain", "govchain.errors", "govchain.types"),
    # adapters
    "storage.base": ("govchain.storage.base",),
    "storage": ("govchain.storage",),
    "ordering": ("govchain.ordering",),
    # crypto and ledger core
    "crypto": ("govchain.crypto",),
    "ledger": ("govchain.ledger",),
    # support ("1")
    "contracts": ("govchain.contracts",),
    "identity": ("govchain.identity",),
    "sharing": ("govchain.sharing",),
    "procedures": ("govchain.procedures",),
    "credentials": ("govchain.credentials",),
    "analytics": ("govchain.analytics",),
    "node": ("govchain.node",),
    "sdk": ("govchain.sdk",),
    # application ("N")
    "apps": ("govchain.apps",),
    # access
    "api": ("govchain.api",),
    "portal": ("govchain.portal",),
    "cli": ("govchain.cli", "govchain.__main__"),
}

_BASE = frozenset({"base"})
_ADAPTERS = frozenset({"storage", "storage.base", "ordering"})
_CORE = _BASE | _ADAPTERS | {"crypto", "ledger"}
_SUPPORT_PEERS = frozenset(
    {"contracts", "identity", "sharing", "procedures", "credentials", "analytics", "sdk"}
)
_BELOW_APPS = _CORE | _SUPPORT_PEERS | {"node"}
_BELOW_ACCESS = _BELOW_APPS | {"apps"}

# Group -> other groups it may import (a group may always import itself).
ALLOWED: dict[str, frozenset[str]] = {
    "base": frozenset(),
    "storage.base": _BASE,
    "storage": _BASE | {"storage.base"},
    "ordering": _BASE,
    "crypto": _BASE,
    # The ledger works on the storage *protocol* only, never an engine, and knows no ordering.
    "ledger": _BASE | {"crypto", "storage.base"},
    "contracts": _CORE | _SUPPORT_PEERS,
    "identity": _CORE | _SUPPORT_PEERS,
    "sharing": _CORE | _SUPPORT_PEERS,
    "procedures": _CORE | _SUPPORT_PEERS,
    "credentials": _CORE | _SUPPORT_PEERS,
    "analytics": _CORE | _SUPPORT_PEERS,
    "node": _CORE | _SUPPORT_PEERS,
    "sdk": _CORE | _SUPPORT_PEERS,
    "apps": _BELOW_APPS,
    "api": _BELOW_ACCESS,
    "portal": _BELOW_ACCESS,
    "cli": _BELOW_ACCESS | {"api", "portal"},
}

# Third-party top-level packages -> the groups allowed to import them.
THIRD_PARTY: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("fastapi", "starlette", "uvicorn", "typer", "rich", "jinja2"),
        frozenset({"api", "portal", "cli"}),
    ),
    # A service's routes.py (apps/<name>/) declares its HTTP routes.
    **dict.fromkeys(("fastapi", "starlette"), frozenset({"api", "portal", "cli", "apps"})),
    "lmdb": frozenset({"storage", "storage.base"}),
    # Password hashing belongs to the identity package; the OIDC client library and the JOSE
    # library are for tests only (they play the independent relying party).
    "argon2": frozenset({"identity"}),
    "authlib": frozenset(),
    "joserfc": frozenset(),
    # The etcd client and the local cluster launcher (ordering) and the CLI talk HTTP.
    "httpx": frozenset({"ordering", "cli"}),
    # X.509 for TLS certificates besides the crypto suites: node to node (node/transport.py)
    # and the local etcd cluster's authority (ordering/etcd_tls.py, the adapter's own TLS).
    "cryptography": frozenset({"crypto", "node", "identity", "ordering"}),
    # Chinese word segmentation: catalogue search, and a service comparing texts (the duplication
    # review); scikit-learn, NumPy and SciPy for the review's vectors, and openpyxl for its
    # spreadsheet import, are for services only.
    "rjieba": frozenset({"sharing", "procedures", "apps"}),
    **dict.fromkeys(("sklearn", "numpy", "scipy"), frozenset({"apps", "analytics"})),
    # Spreadsheets: the review's registry import (apps) and the dashboards' exports.
    "openpyxl": frozenset({"apps", "analytics", "portal", "api"}),
    # The analytics index is DuckDB, read by the analytics package only.
    "duckdb": frozenset({"analytics"}),
    # Credentials: QR codes are drawn (segno) and read from pictures (zxing-cpp, Pillow).
    **dict.fromkeys(("segno", "zxingcpp", "PIL"), frozenset({"credentials"})),
    # Independent implementations the tests check credentials against.
    **dict.fromkeys(("pyld", "sd_jwt"), frozenset()),
    # Application forms are JSON Schema: checked when a service is published, and by the portal.
    "jsonschema": frozenset({"procedures", "node", "portal"}),
}

# --- checker ----------------------------------------------------------------------------------

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "govchain"


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target, as seen in one module."""

    module: str
    """Dotted name of the importing module."""
    target: str
    """Absolute dotted name imported (``from a import b`` gives ``a.b``)."""
    line: int
    """Line number of the import statement."""


def module_name(path: Path, src: Path = SRC) -> str:
    """Return the dotted module name of a file below ``src``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Turn ``from <level dots><name> import ...`` inside ``module`` into an absolute name."""
    parts = module.split(".")
    # A package's __init__ is its own anchor; a plain module's anchor is its parent package.
    anchor = parts if is_package else parts[:-1]
    if level - 1 > len(anchor) - 1:
        raise ValueError(f"relative import beyond top-level package in {module}")
    base = anchor[: len(anchor) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(source: str, module: str, is_package: bool) -> Iterator[Import]:
    """Yield every import target in ``source``, relative imports made absolute."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                origin = resolve_relative(module, is_package, node.level, node.module)
            else:
                origin = node.module or ""
            for alias in node.names:
                # ``from govchain.storage import memory`` imports govchain.storage.memory; for an
                # attribute the extra component is harmless (it stays in the same group).
                target = origin if alias.name == "*" else f"{origin}.{alias.name}"
                yield Import(module, target, node.lineno)


def group_of(name: str) -> str | None:
    """Return the rule-table group owning a dotted ``govchain`` name, or None."""
    best: tuple[int, str] | None = None
    for group, prefixes in GROUPS.items():
        for prefix in prefixes:
            # "govchain" alone owns only the package itself, not every submodule.
            matches = name == prefix or (prefix != "govchain" and name.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), group)
    return best[1] if best else None


def violations(modules: dict[str, tuple[str, bool]]) -> list[str]:
    """Check ``{module: (source, is_package)}`` against the tables; return readable problems."""
    problems: list[str] = []
    for module, (source, is_package) in sorted(modules.items()):
        group = group_of(module)
        if group is None:
            problems.append(f"{module}: module is in no layer (add it to GROUPS)")
            continue
        for imp in imports_of(source, module, is_package):
            top = imp.target.split(".")[0]
            where = f"{module}:{imp.line} -> {imp.target}"
            if top == "govchain":
                target_group = group_of(imp.target)
                if target_group is None:
                    problems.append(f"{where} (target is in no layer)")
                elif target_group != group and target_group not in ALLOWED[group]:
                    problems.append(f"{where} ({group} may not import {target_group})")
            elif top in THIRD_PARTY and group not in THIRD_PARTY[top]:
                problems.append(f"{where} ({top} is only for {sorted(THIRD_PARTY[top])})")
    return problems


def load_package(package: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    """Read every ``.py`` file of the package as ``{module: (source, is_package)}``."""
    return {
        module_name(path): (path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for path in sorted(package.rglob("*.py"))
    }


# --- tests ------------------------------------------------------------------------------------


def test_imports_point_down_only() -> None:
    modules = load_package()
    assert "govchain.errors" in modules, "did not find the source tree"
    problems = violations(modules)
    assert not problems, "layer violations (module:line -> import):\n  " + "\n  ".join(problems)


def test_rule_table_is_consistent() -> None:
    assert set(ALLOWED) == set(GROUPS)
    for group, allowed in ALLOWED.items():
        assert allowed <= set(GROUPS), group
    for groups in THIRD_PARTY.values():
        assert groups <= set(GROUPS)


def test_relative_imports_resolve() -> None:
    assert (
        resolve_relative("govchain.ledger.blocks", False, 1, "merkle") == "govchain.ledger.merkle"
    )
    assert resolve_relative("govchain.ledger.blocks", False, 2, "errors") == "govchain.errors"
    assert resolve_relative("govchain.ledger", True, 1, "blocks") == "govchain.ledger.blocks"
    assert resolve_relative("govchain.ledger", True, 2, None) == "govchain"


def test_checker_reports_each_bad_import() -> None:
    modules = {
        "govchain.errors": ("import govchain.ledger\n", False),
        "govchain.ledger.state": (
            "from govchain.storage import memory\n"
            "from ..storage.lmdb import LmdbStore\n"
            "from govchain.storage.base import KVStore\n"
            "from govchain.ordering.solo import Solo\n"
            "from . import merkle\n",
            False,
        ),
        "govchain.ledger.blocks": ("import lmdb\nfrom fastapi import FastAPI\n", False),
        "govchain.storage.memory": ("from govchain.ordering import solo\n", False),
        "govchain.contracts.registry": ("from govchain.node import Node\n", False),
        "govchain.node.runner": ("from govchain.sharing import grants\n", False),
        "govchain.api.app": ("from govchain.cli.main import app\nimport fastapi\n", False),
        "govchain.cli.main": (
            "from govchain.api import app\nfrom govchain.portal import ui\n",
            False,
        ),
        "govchain.nowhere": ("", False),
    }
    problems = violations(modules)
    expected = [
        "govchain.api.app:1 -> govchain.cli.main.app",
        "govchain.contracts.registry:1 -> govchain.node.Node",
        "govchain.errors:1 -> govchain.ledger",
        "govchain.ledger.blocks:1 -> lmdb",
        "govchain.ledger.blocks:2 -> fastapi.FastAPI",
        "govchain.ledger.state:1 -> govchain.storage.memory",
        "govchain.ledger.state:2 -> govchain.storage.lmdb.LmdbStore",
        "govchain.ledger.state:4 -> govchain.ordering.solo.Solo",
        "govchain.nowhere: module is in no layer",
        "govchain.storage.memory:1 -> govchain.ordering.solo",
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, prefix in zip(problems, expected, strict=True):
        assert problem.startswith(prefix), (problem, prefix)
