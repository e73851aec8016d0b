"""The install-time static check of contract source: an AST walk that refuses what could reach
outside the contract or differ between nodes, each finding with file, line and reason.

Refused: imports outside ``ALLOWED_IMPORTS`` (and any ``import X``: module objects are never
reachable), the builtins of ``FORBIDDEN_NAMES`` (``open``, ``eval``, ``__import__``, ``getattr``
...), dunder names and attributes (``__class__``, ``__globals__`` ...), private attributes other
than on ``self``, the frame and generator internals of ``FORBIDDEN_ATTRS``, ``global``,
``async``, bare ``except`` / ``except BaseException``, dunder method definitions, and set
displays (their iteration order follows string hashing, which differs between processes).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from govchain.contracts.errors import ContractRefused


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a contract source is refused."""

    file: str
    """File name inside the package."""
    line: int
    """Line number (1-based)."""
    reason: str
    """What is wrong and what to do instead."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"file": self.file, "line": self.line, "reason": self.reason}


ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "govchain.sdk": frozenset({"Contract", "Failed", "entry", "view", "migration"}),
    "typing": frozenset({"Any"}),
    "__future__": frozenset({"annotations"}),
}
"""Modules contract code may import from, and the names it may take from each."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FORBIDDEN_NAMES: dict[str, str] = {
    name: "reaches outside the contract"
    for name in _words(
        "open __import__ eval exec compile globals locals vars getattr setattr delattr "
        "hasattr dir id hash input print breakpoint memoryview type object super help exit "
        "quit classmethod property staticmethod bytearray set frozenset repr ascii format "
        "iter aiter anext callable issubclass "
    )
}
FORBIDDEN_NAMES.update(
    time="wall-clock time is not deterministic: use self.ctx.time_ms (the block time)",
    random="randomness is not deterministic",
    os="the operating system is out of reach",
    sys="the interpreter is out of reach",
    socket="the network is out of reach",
    set="set iteration order differs between nodes: use a dict or a sorted list",
    frozenset="set iteration order differs between nodes: use a tuple",
    hash="hash() of strings differs between processes",
    id="object ids differ between nodes",
    repr="repr() of objects holds memory addresses",
)

FORBIDDEN_ATTRS: frozenset[str] = frozenset(
    _words(
        "gi_frame gi_code gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code "
        "f_globals f_locals f_builtins f_back f_code tb_frame tb_next mro format format_map "
        "ljust rjust center zfill expandtabs with_traceback"
    )
)
"""Attributes that lead to frames, globals or unbounded allocations."""


def dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class _Checker(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def bad(self, node: ast.AST, reason: str) -> None:
        self.findings.append(Finding(self.file, getattr(node, "lineno", 0), reason))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            reason = FORBIDDEN_NAMES.get(alias.name.split(".")[0])
            if alias.name in ALLOWED_IMPORTS:
                reason = f"use 'from {alias.name} import ...' (module objects are not reachable)"
            self.bad(
                node,
                f"import {alias.name}: "
                + (reason or f"only {sorted(ALLOWED_IMPORTS)} may be imported"),
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        allowed = ALLOWED_IMPORTS.get(module)
        if allowed is None:
            reason = FORBIDDEN_NAMES.get(module.split(".")[0])
            self.bad(
                node,
                f"from {module} import: "
                + (reason or f"only {sorted(ALLOWED_IMPORTS)} may be imported"),
            )
            return
        for alias in node.names:
            if alias.name not in allowed:
                self.bad(
                    node, f"from {module} import {alias.name}: not allowed ({sorted(allowed)})"
                )

    def visit_Name(self, node: ast.Name) -> None:
        if dunder(node.id):
            self.bad(node, f"name {node.id}: dunder names are not reachable")
        elif node.id in FORBIDDEN_NAMES:
            self.bad(node, f"name {node.id}: {FORBIDDEN_NAMES[node.id]}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if dunder(attr):
            self.bad(node, f"attribute .{attr}: dunder attributes are not reachable")
        elif attr.startswith("_") and not (
            isinstance(node.value, ast.Name) and node.value.id == "self"
        ):
            self.bad(node, f"attribute .{attr}: private attributes only on self")
        elif attr in FORBIDDEN_ATTRS:
            self.bad(node, f"attribute .{attr}: not allowed in contracts")
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if isinstance(node, ast.AsyncFunctionDef):
            self.bad(node, f"async def {node.name}: contracts are synchronous")
        if dunder(node.name):
            self.bad(node, f"def {node.name}: contracts may not define dunder methods")
        self.generic_visit(node)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.keywords:
            self.bad(node, f"class {node.name}: metaclasses and class keywords are not allowed")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.bad(node, "global: module state does not survive between calls; use self.ctx")

    def _async(self, node: ast.AST) -> None:
        self.bad(node, "async: contracts are synchronous")
        self.generic_visit(node)

    visit_Await = visit_AsyncFor = visit_AsyncWith = _async

    def _set(self, node: ast.AST) -> None:
        self.bad(node, "set: iteration order differs between nodes; use a dict or a list")
        self.generic_visit(node)

    visit_Set = visit_SetComp = _set

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.bad(node, "bare except: name the exceptions to catch (e.g. except ValueError)")
        elif isinstance(node.type, ast.Name) and node.type.id in (
            "BaseException",
            "GeneratorExit",
            "SystemExit",
            "KeyboardInterrupt",
        ):
            self.bad(node, f"except {node.type.id}: catch Exception or narrower")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Mult | ast.Pow | ast.LShift) and not isinstance(
            node.target, ast.Name
        ):
            self.bad(node, "augmented *, ** or << on an item or attribute: write x = x * y")
        self.generic_visit(node)


def check_source(file: str, source: str) -> list[Finding]:
    """Return every reason ``source`` is refused (empty list: acceptable)."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [Finding(file, exc.lineno or 0, f"syntax error: {exc.msg}")]
    checker = _Checker(file)
    checker.visit(tree)
    return sorted(checker.findings, key=lambda f: (f.file, f.line, f.reason))


def refused(findings: list[Finding]) -> ContractRefused:
    """Return the error listing ``findings``."""
    text = "; ".join(str(f) for f in findings[:20])
    more = f" (and {len(findings) - 20} more)" if len(findings) > 20 else ""
    return ContractRefused(
        f"contract refused: {text}{more}", findings=[f.to_json() for f in findings]
    )
