"""The contract host: dispatches calls to the contracts deployed on the network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from govchain.contracts.errors import UnknownContract
from govchain.contracts.kv import KvContract
from govchain.ledger.execution import CallContext
from govchain.sharing.contracts import sharing_contracts
from govchain.sharing.readlog import ReadsContract


class Contract(Protocol):
    """A deployed contract."""

    name: str
    """Name transactions use in ``body.contract``."""

    def call(self, ctx: CallContext, method: str, args: Mapping[str, Any]) -> Any:
        """Run one entry point."""
        ...


class ContractRegistry:
    """A ``ContractHost`` over a fixed set of contracts."""

    def __init__(self, contracts: list[Contract]) -> None:
        self._contracts = {c.name: c for c in contracts}
        self._calls = {c.name: c.call for c in contracts}

    def call(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run one call on the named contract."""
        c = self._calls.get(contract)
        if c is None:
            raise UnknownContract(f"no contract named {contract!r} is deployed")
        return c(ctx, method, args)

    def names(self) -> list[str]:
        """Return the deployed contract names."""
        return sorted(self._contracts)


def builtin_registry() -> ContractRegistry:
    """Return the registry of the built-in genesis contracts."""
    return ContractRegistry([KvContract(), *sharing_contracts(), ReadsContract()])
