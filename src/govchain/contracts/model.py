"""The class-based contract model: a contract is a Python class whose ``@entry`` methods are
transaction entry points and whose ``@view`` methods are read-only queries.

Arguments are declared with type annotations and checked before the method runs
(``contracts/methods.py``), so a wrong argument type fails the call with ``bad_arguments`` and
writes nothing. ``ClassContract`` adapts such a class to the ``Contract`` protocol the host
dispatches to; a method sees the chain only through ``self.ctx`` (``contracts/context.py``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from govchain.contracts.budget import MAX_DEPTH, UNMETERED, Meter, OutOfSteps
from govchain.contracts.context import ContractContext, ViewHost
from govchain.contracts.errors import (
    BudgetExhausted,
    ContractError,
    ContractFailed,
    UnknownMethod,
)
from govchain.contracts.methods import (
    ENTRY,
    MIGRATION,
    VIEW,
    MethodSpec,
    check_args,
    entry,
    method_specs,
    migration,
    view,
)
from govchain.errors import GovchainError
from govchain.ledger.execution import CallContext

__all__ = [
    "ClassContract",
    "Contract",
    "Failed",
    "Meter",
    "entry",
    "migration",
    "view",
]

_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
MAX_ERROR_CHARS = 1000
"""Longest error text a contract puts into a receipt."""


class Failed(ContractFailed):
    """Raised by contract code to refuse a call with a stable reason code.

    ``raise Failed("already_notarised", "this document was notarised at height 12")`` gives a
    failed receipt with code ``<contract>.already_notarised``; nothing the call wrote is kept.
    """

    def __init__(self, code: str, message: str) -> None:
        if type(code) is not str or not _CODE.match(code):
            code, message = "failed", f"{message} (invalid reason code)"
        super().__init__(_ADDRESS.sub("", str(message))[:MAX_ERROR_CHARS])
        self.reason = code


class Contract:
    """Base class of class-based contracts (see the module docstring)."""

    ctx: ContractContext
    """The call's context, set before each call."""

    def __repr__(self) -> str:
        # A fixed text: the default one holds a memory address, which differs between nodes.
        return f"<contract {type(self).__name__}>"


# --- the adapter the host dispatches to -------------------------------------------------------


class ClassContract:
    """A ``Contract`` (protocol of the registry) made from a contract class.

    Each call gets a fresh instance, so nothing survives from one call to the next except
    state. ``meter`` is shared with the instrumented code of an installed contract (a lock makes
    calls of one contract take turns: the committer thread and API view queries).
    """

    def __init__(
        self,
        name: str,
        cls: type,
        *,
        namespace: bytes | None = None,
        budget: int = UNMETERED,
        meter: Meter | None = None,
        host: ViewHost | None = None,
    ) -> None:
        self.name = name
        self.cls = cls
        self.namespace = namespace if namespace is not None else f"c/{name}/".encode()
        self.budget = budget
        self.meter = meter or Meter(budget)
        self.host = host
        self.specs = method_specs(cls)
        self._entries = {n: s for n, s in self.specs.items() if s.kind == ENTRY}
        self._views = {n: s for n, s in self.specs.items() if s.kind == VIEW}
        self._lock = threading.RLock()

    def describe(self) -> list[dict[str, Any]]:
        """Return the JSON description of every method."""
        return [self.specs[n].describe() for n in sorted(self.specs)]

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run an entry point."""
        spec = self._entries.get(method)
        if spec is None:
            raise UnknownMethod(self._no_method(method, ENTRY))
        return self._run(ctx, spec, args, read_only=False)

    def view(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run a view (writes refused)."""
        spec = self._views.get(method)
        if spec is None:
            raise UnknownMethod(self._no_method(method, VIEW))
        return self._run(ctx, spec, args, read_only=True)

    def migrate(self, ctx: CallContext, from_version: int) -> Any:
        """Run the ``@migration`` method, if the class has one."""
        for spec in self.specs.values():
            if spec.kind == MIGRATION:
                return self._run(ctx, spec, {"from_version": from_version}, read_only=False)
        return None

    def _no_method(self, method: str, kind: str) -> str:
        names = sorted(n for n, s in self.specs.items() if s.kind == kind)
        return f"contract {self.name} has no {kind} method {method!r} (it has {names})"

    def _run(
        self, ctx: CallContext, spec: MethodSpec, args: Mapping[str, Any], read_only: bool
    ) -> Any:
        check_args(self.name, spec, args)
        meter = self.meter
        with self._lock:
            outer = meter.left if meter.depth else None
            if outer is None:
                meter.left = self.budget
            inst: Any = object.__new__(self.cls)
            inst.ctx = ContractContext(ctx, self.name, self.namespace, meter, self.host, read_only)
            try:
                result = spec.fn(inst, **args)
                if meter.left < 0:  # a ``finally: return`` swallowed the signal
                    raise OutOfSteps
            except OutOfSteps:
                if outer is not None:
                    raise
                meter.depth = 0
                raise BudgetExhausted(
                    f"{self.name}.{spec.name} used up its budget of {self.budget} steps "
                    f"(or nested calls deeper than {MAX_DEPTH})",
                    budget=self.budget,
                ) from None
            except Failed as exc:
                exc.code = f"{self.name}.{exc.reason}"
                raise
            except RecursionError:
                meter.depth = 0
                raise BudgetExhausted(f"{self.name}.{spec.name}: calls nested too deeply") from None
            except GovchainError:
                raise
            except Exception as exc:
                # The text goes into the receipt, which every node must produce byte for byte:
                # drop the memory addresses that default object texts carry.
                text = _ADDRESS.sub("", f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]
                raise ContractError(f"{self.name}.{spec.name}: {text}") from None
            finally:
                if outer is None:
                    meter.depth = 0
            return result
