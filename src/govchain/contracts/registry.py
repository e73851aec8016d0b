"""The contract host: dispatches calls to the contracts deployed on the network."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from govchain.contracts.errors import UnknownContract, UnknownMethod
from govchain.contracts.installed import InstalledContracts
from govchain.contracts.kv import KvContract
from govchain.contracts.lifecycle import lifecycle_contract
from govchain.contracts.members import members_contract
from govchain.contracts.network import NetworkContract
from govchain.credentials.contract import CredentialsContract
from govchain.ledger.execution import CallContext
from govchain.ledger.genesis import Genesis
from govchain.procedures.cases_contract import CasesContract
from govchain.procedures.ratings import RatingsContract
from govchain.procedures.registry_contract import RegistryContract
from govchain.procedures.services_contract import ServicesContract
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
    """A ``ContractHost`` over a fixed set of contracts, plus (optionally) the contracts
    installed through the lifecycle contract, reached when no built-in one has the name."""

    def __init__(
        self, contracts: list[Contract], installed: InstalledContracts | None = None
    ) -> None:
        self._contracts = {c.name: c for c in contracts}
        self._calls = {c.name: c.call for c in contracts}
        self.installed = installed
        if installed is not None:
            installed.views = self

    def call(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run one call on the named contract."""
        c = self._calls.get(contract)
        if c is None:
            if self.installed is not None:
                return self.installed.call(ctx, contract, method, args)
            raise UnknownContract(f"no contract named {contract!r} is deployed")
        return c(ctx, method, args)

    def view(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run a read-only method (``view``) of the named contract."""
        c = self._contracts.get(contract)
        if c is None:
            if self.installed is not None:
                return self.installed.view(ctx, contract, method, args)
            raise UnknownContract(f"no contract named {contract!r} is deployed")
        run: Callable[[CallContext, str, Mapping[str, Any]], Any] | None = getattr(c, "view", None)
        if run is None:
            raise UnknownMethod(f"contract {contract} has no views")
        return run(ctx, method, args)

    def names(self) -> list[str]:
        """Return the deployed contract names."""
        return sorted(self._contracts)

    def builtin(self, name: str) -> Contract | None:
        """Return a built-in (native) contract by name."""
        return self._contracts.get(name)


def builtin_registry(
    genesis: Genesis | None = None, hash_fn: Callable[[bytes], bytes] | None = None
) -> ContractRegistry:
    """Return the registry of the built-in genesis contracts.

    With ``genesis`` the registry also holds the lifecycle and network (department
    membership governance) system contracts and
    runs the contracts committed through the lifecycle (code hashes with ``hash_fn``, the
    network's hash)."""
    contracts: list[Contract] = [
        KvContract(),
        members_contract(),
        *sharing_contracts(),
        ReadsContract(),
    ]
    if genesis is None:
        return ContractRegistry(contracts)
    installed = InstalledContracts(hash_fn or (lambda b: hashlib.sha256(b).digest()))
    names: list[str] = []
    lifecycle = lifecycle_contract([d.id for d in genesis.departments], installed, names)
    hash_of = hash_fn or (lambda b: hashlib.sha256(b).digest())
    contracts += [
        lifecycle,
        NetworkContract(genesis),
        ServicesContract(genesis, hash_of),
        CasesContract(hash_of),
        RegistryContract(),
        CredentialsContract(),
        RatingsContract(),
    ]
    registry = ContractRegistry(contracts, installed)
    lifecycle.host = registry  # approvers follow the network contract's current departments
    names.extend(registry.names())
    return registry
