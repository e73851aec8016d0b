"""``ContractHarness``: a service's contract on an in-memory four-department network.

The harness installs the package through the lifecycle contract (install, approvals by a
majority, commit) exactly like a real network, then lets a test call entry points (each call
is committed in its own block and returns its receipt) and views::

    h = ContractHarness.for_app(find_app("notary"))
    receipt = h.call("notarise", {"digest": "ab" * 32}, member="market/admin")
    assert receipt.status == "ok"
    assert h.view("record", {"digest": "ab" * 32})["dept"] == "market"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.contracts.registry import ContractRegistry, builtin_registry
from govchain.contracts.views import run_view
from govchain.crypto import get_suite
from govchain.errors import GovchainError
from govchain.ledger.chain import Ledger
from govchain.ledger.genesis import Member, make_genesis
from govchain.ledger.receipts import Receipt
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.procedures.publishing import publication_plan
from govchain.sdk.app import App
from govchain.storage.memory import MemoryStore

DEPARTMENTS = ("market", "tax", "hrss", "customs")
"""Departments of the harness network; each has an ``<id>/admin`` and ``<id>/officer``."""


class InMemoryNetwork:
    """Departments (each with a node key and ``<id>/admin`` and ``<id>/officer`` member keys),
    their genesis and an in-memory ledger running the built-in contracts; blocks are committed
    at the network's own clock, which starts at ``start_ms``."""

    def __init__(self, departments: tuple[str, ...], suite: str, start_ms: int) -> None:
        self.suite = get_suite(suite)
        self.departments = departments
        self.time_ms = start_ms
        self._node_keys = {d: self.suite.generate_keypair() for d in departments}
        self._keys = {
            f"{d}/{role}": self.suite.generate_keypair()
            for d in departments
            for role in ("admin", "officer")
        }
        self.genesis = make_genesis(
            chain_id="harness",
            suite=suite,
            created_ms=start_ms,
            departments=[(d, d, self._node_keys[d].public) for d in departments],
            members=[
                Member(m, m.split("/")[0], m.split("/")[1], k.public) for m, k in self._keys.items()
            ],
        )
        self.host: ContractRegistry = builtin_registry(self.genesis, self.suite.hash)
        self.ledger = Ledger(MemoryStore(), self.genesis, self.suite, self.host)
        self._nonce = 0

    def advance(self, ms: int) -> None:
        """Move the clock of the next block on by ``ms``."""
        self.time_ms += ms

    def _signed(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        member: str,
        actor: str,
        case: str,
    ) -> Transaction:
        self._nonce += 1
        private = self._keys[member].private
        return build_transaction(
            chain=self.genesis.chain_id,
            signer=member,
            nonce=self._nonce,
            contract=contract,
            method=method,
            args=dict(args),
            actor=actor,
            case=case,
            sign=lambda m: self.suite.sign(private, m),
            hash_fn=self.suite.hash,
        )

    def commit(self, txs: list[Transaction], advance_ms: int = 1_000) -> list[Receipt]:
        """Commit ``txs`` as one block ``advance_ms`` after the previous; return the receipts."""
        self.time_ms += advance_ms
        proposer = self._node_keys[self.departments[0]]
        block = self.ledger.commit_block(
            txs,
            timestamp_ms=self.time_ms,
            proposer=self.departments[0],
            sign_header=lambda m: self.suite.sign(proposer.private, m),
            checkpoint_keys=[(d, k.private) for d, k in self._node_keys.items()],
        )
        return list(block.result.receipts)


class ContractHarness(InMemoryNetwork):
    """One contract committed on an in-memory network (see the module docstring)."""

    def __init__(
        self,
        name: str,
        files: Mapping[str, str],
        *,
        suite: str = "intl",
        policy: dict[str, Any] | None = None,
        start_ms: int = 1_767_225_600_000,  # 2026-01-01T00:00:00Z
    ) -> None:
        super().__init__(DEPARTMENTS, suite, start_ms)
        self.name = name
        install: dict[str, Any] = {"name": name, "version": 1, "files": dict(files)}
        if policy is not None:
            install["policy"] = policy
        self._must(self.call("install", install, contract="lifecycle"))
        digest = self.view("proposal", {"name": name, "version": 1}, contract="lifecycle")[
            "code_hash"
        ]
        for dept in DEPARTMENTS[: len(DEPARTMENTS) // 2 + 1]:
            args = {"name": name, "version": 1, "code_hash": digest}
            self._must(self.call("approve", args, contract="lifecycle", member=f"{dept}/admin"))
        self._must(self.call("commit", {"name": name, "version": 1}, contract="lifecycle"))

    @classmethod
    def for_app(cls, app: App, **kw: Any) -> ContractHarness:
        """Return a harness running the contract of a service."""
        return cls(app.contract_name, app.contract_files(), policy=app.policy, **kw)

    @staticmethod
    def _must(receipt: Receipt) -> None:
        if receipt.status != "ok":
            raise GovchainError(f"harness set-up failed: {receipt.error}")

    def transaction(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        contract: str | None = None,
        member: str = "market/admin",
        actor: str | None = None,
        case: str = "",
    ) -> Transaction:
        """Build and sign a transaction (not submitted)."""
        return self._signed(
            contract or self.name, method, args or {}, member, actor or f"{member}#staff", case
        )

    def call(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        contract: str | None = None,
        member: str = "market/admin",
        actor: str | None = None,
        case: str = "",
        advance_ms: int = 1_000,
    ) -> Receipt:
        """Commit one call in its own block and return its receipt."""
        tx = self.transaction(
            method, args, contract=contract, member=member, actor=actor, case=case
        )
        return self.commit([tx], advance_ms)[0]

    def view(
        self, method: str, args: Mapping[str, Any] | None = None, *, contract: str | None = None
    ) -> Any:
        """Run a view against the committed state."""
        return run_view(
            self.host,
            self.ledger.state,
            contract or self.name,
            method,
            dict(args or {}),
            height=self.ledger.height,
            time_ms=self.time_ms,
        )


SERVICE_DEPARTMENTS = ("market", "tax", "hrss", "customs", "health", "fire", "housing", "transport")
"""Departments of ``NetworkHarness`` by default: the demo network's eight."""


class NetworkHarness(InMemoryNetwork):
    """An in-memory network of departments for services that run on the case engine.

    Each department has ``<id>/admin`` and ``<id>/officer`` keys (and a node key); every call
    is committed in its own block (or ``commit`` several in one) at the harness's clock, which
    a test moves on with ``advance``::

        h = NetworkHarness()
        h.publish_resources(resource_specs)
        h.publish_definitions(find_app("enterprise").definitions())
        r = h.call("cases", "submit", {...}, member="market/admin", actor="citizen/1")
    """

    def __init__(
        self,
        departments: tuple[str, ...] = SERVICE_DEPARTMENTS,
        *,
        suite: str = "intl",
        start_ms: int = 1_790_812_800_000,  # 2026-10-01T00:00:00Z
    ) -> None:
        super().__init__(departments, suite, start_ms)

    def transaction(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        member: str = "market/admin",
        actor: str | None = None,
        case: str = "",
    ) -> Transaction:
        """Build and sign a transaction (not submitted)."""
        return self._signed(contract, method, args, member, actor or member, case)

    def call(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        member: str = "market/admin",
        actor: str | None = None,
        case: str = "",
        advance_ms: int = 1_000,
    ) -> Receipt:
        """Commit one call in its own block and return its receipt."""
        tx = self.transaction(contract, method, args, member=member, actor=actor, case=case)
        return self.commit([tx], advance_ms)[0]

    def must(self, contract: str, method: str, args: Mapping[str, Any], **kw: Any) -> Any:
        """``call`` that raises unless the receipt is ok; return its result."""
        r = self.call(contract, method, args, **kw)
        if r.status != "ok":
            raise GovchainError(f"{contract}.{method} failed: {r.error}")
        return r.result

    def view(self, contract: str, method: str, args: Mapping[str, Any] | None = None) -> Any:
        """Run a view against the committed state."""
        return run_view(
            self.host,
            self.ledger.state,
            contract,
            method,
            dict(args or {}),
            height=self.ledger.height,
            time_ms=self.time_ms,
        )

    def publish_resources(self, specs: list[Mapping[str, Any]]) -> None:
        """Register data-catalogue resources, each by an admin of its owner department."""
        for spec in specs:
            owner = str(spec["id"]).split(".")[0]
            self.must("sharing.catalogue", "register", spec, member=f"{owner}/admin")

    def publish_definitions(self, definitions: list[Mapping[str, Any]]) -> list[str]:
        """Propose, approve (every department concerned) and publish service definitions
        whose departments are all in this network; return the codes published."""
        admins = {d: f"{d}/admin" for d in self.departments}

        def head(code: str) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = self.view("services", "definition", {"code": code})[
                    "current"
                ]
            except GovchainError:
                return None
            return found

        plan = publication_plan(definitions, head, self.departments, admins, self.suite.hash)
        for phase in plan.phases:
            txs = [self.transaction("services", c.method, c.args, member=c.member) for c in phase]
            for tx, r in zip(txs, self.commit(txs), strict=True):
                if r.status != "ok":
                    raise GovchainError(f"publishing {tx.args.get('code')}: {r.error}")
        return list(plan.codes)
