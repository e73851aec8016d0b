"""Installed contracts: committed definitions in state, their packages, loaded on demand.

A call to an installed contract reads its committed definition (``sys/lifecycle/def/<name>``),
loads the package stored under the definition's code hash, and **recomputes the hash of what it
loaded**: code whose hash differs from the committed definition is never run (``unapproved_code``).
Loaded contracts are cached by the exact definition bytes, so a committed upgrade takes effect
at the next call, on every node at the same transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson

from govchain.contracts import sandbox
from govchain.contracts.budget import Meter
from govchain.contracts.checks import Finding, refused
from govchain.contracts.context import ViewHost
from govchain.contracts.errors import NotApproved, UnapprovedCode, UnknownContract
from govchain.contracts.model import ClassContract
from govchain.contracts.packages import (
    DEFAULT_BUDGET,
    ENTRY_FILE,
    NAMESPACE,
    HashFn,
    code_hash,
    definition_key,
    package_key,
)
from govchain.ledger.execution import CallContext


class InstalledContracts:
    """Runs the contracts committed through the lifecycle contract."""

    def __init__(self, hash_fn: HashFn) -> None:
        self.hash_fn = hash_fn
        self.views: ViewHost | None = None
        """Where cross-contract views go (set to the registry that owns this host)."""
        self._by_definition: dict[bytes, ClassContract] = {}
        self._recent: dict[str, tuple[int, ClassContract]] = {}
        self._changed_at = 0
        self._lock = threading.Lock()

    def load(self, name: str, files: Mapping[str, str], budget: int) -> ClassContract:
        """Check, instrument and load a package as contract ``name`` (``ContractRefused``)."""
        meter = Meter(budget)
        module_name = f"contract:{name}"
        namespace = sandbox.load_module(ENTRY_FILE, files[ENTRY_FILE], meter, module_name)
        cls = sandbox.contract_class(namespace, ENTRY_FILE, module_name)
        try:
            return ClassContract(name, cls, budget=budget, meter=meter, host=self.views)
        except Exception as exc:  # a bad signature of an entry point
            message = getattr(exc, "message", str(exc))
            raise refused([Finding(ENTRY_FILE, 0, message)]) from None

    def changed(self, height: int) -> None:
        """Note that the lifecycle (re)defined a contract while executing block ``height``."""
        with self._lock:
            self._changed_at = max(self._changed_at, height)
            self._recent.clear()

    def resolve(self, ctx: CallContext, name: str) -> ClassContract:
        """Return the committed contract ``name`` as of this point of the block."""
        # Fast path, no state read: a definition read while executing a block above the last
        # block in which the lifecycle changed any definition is still the current one (only
        # the lifecycle contract writes definitions, and it reports each change).
        recent = self._recent.get(name)
        changed_at = self._changed_at
        if recent is not None and recent[0] > changed_at and ctx.height > changed_at:
            return recent[1]
        loaded = self._resolve(ctx, name)
        if ctx.height > changed_at:
            with self._lock:
                if self._changed_at == changed_at:
                    self._recent[name] = (ctx.height, loaded)
        return loaded

    def _resolve(self, ctx: CallContext, name: str) -> ClassContract:
        raw = ctx.get(definition_key(name))
        if raw is None:
            if ctx.get(NAMESPACE + b"proposed/" + name.encode()) is not None:
                raise NotApproved(f"contract {name!r} is installed but not committed")
            raise UnknownContract(f"no contract named {name!r} is deployed")
        loaded = self._by_definition.get(raw)
        if loaded is not None:
            return loaded
        definition = orjson.loads(raw)
        digest = definition["code_hash"]
        package = ctx.get(package_key(digest))
        if package is None:
            raise UnapprovedCode(f"the package of {name!r} ({digest}) is missing", code_hash=digest)
        files = orjson.loads(package)["files"]
        actual = code_hash(self.hash_fn, files)
        if actual != digest:
            raise UnapprovedCode(
                f"refusing to run {name!r}: the stored code hashes to {actual}, the committed "
                f"definition names {digest}",
                expected=digest,
                calculated=actual,
            )
        loaded = self.load(name, files, definition.get("budget", DEFAULT_BUDGET))
        with self._lock:
            self._by_definition[raw] = loaded
        return loaded

    def call(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run an entry point of an installed contract."""
        return self.resolve(ctx, contract).call(ctx, method, args)

    def view(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run a view of an installed contract."""
        return self.resolve(ctx, contract).view(ctx, method, args)
