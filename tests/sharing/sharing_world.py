"""A small data-sharing world for tests: a network directory, an in-memory embedded node with a
settable clock, its sharing service, and helpers that sign transactions and requests."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node, NodeIdentity
from govchain.node.sharing import open_sharing
from govchain.ordering.solo import SoloOrderer
from govchain.sharing.keyfiles import agreement_key_path, read_agreement_key
from govchain.sharing.reading import open_answer
from govchain.sharing.requests import build_request
from govchain.sharing.service import SharingService
from govchain.storage.memory import MemoryStore

CHAIN = "sharing-test"
START_MS = 1_800_000_000_000
"""The worlds' clock starts here (2027-01-15)."""

ARREARS = {
    "id": "tax.arrears",
    "name": "纳税人欠税记录",
    "description": "企业和个人的欠税信息 (tax arrears of enterprises and persons)",
    "fields": [
        {"name": "amount_fen", "type": "integer", "description": "欠税金额(分)"},
        {"name": "due_date", "type": "date", "description": "缴款期限"},
        {"name": "settled", "type": "boolean", "description": "是否已缴清"},
    ],
    "share_level": "conditional",
    "sensitivity": "sensitive",
    "update_frequency": "daily",
    "legal_basis": "《中华人民共和国税收征收管理法》",
}
LICENCE = {
    "id": "market.licence",
    "name": "营业执照信息",
    "description": "Business licence register: name, legal representative, status",
    "fields": [
        {"name": "name", "type": "string", "description": "企业名称"},
        {"name": "legal_rep", "type": "string", "description": "法定代表人"},
        {"name": "status", "type": "string", "description": "登记状态"},
    ],
    "share_level": "unconditional",
    "sensitivity": "public",
    "update_frequency": "realtime",
    "legal_basis": "《市场主体登记管理条例》",
}
HOMES = {
    "id": "hrss.insurance",
    "name": "社会保险账户",
    "description": "社会保险参保账户状态 (social-insurance accounts)",
    "fields": [
        {"name": "account", "type": "string", "description": "账户号"},
        {"name": "status", "type": "string", "description": "open / closed"},
    ],
    "share_level": "not_shared",
    "sensitivity": "secret",
    "update_frequency": "daily",
    "legal_basis": "《社会保险法》",
}
INTERNAL = {
    "id": "customs.declarations",
    "name": "报关单",
    "description": "Customs declarations kept for internal use",
    "fields": [{"name": "amount_fen", "type": "integer", "description": "申报金额"}],
    "share_level": "not_shared",
    "sensitivity": "internal",
    "update_frequency": "daily",
    "legal_basis": "《海关法》",
}


class Clock:
    """A settable clock in milliseconds, shared by the node (block times) and the requests."""

    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_network(root: Path, suite: str = "intl") -> NetworkDir:
    """Create a four-department network directory."""
    init_network(
        root,
        chain_id=CHAIN,
        suite_name=suite,
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=2),
    )
    return NetworkDir(root)


class World:
    """A running node with its sharing service."""

    def __init__(self, net: NetworkDir, clock: Clock | None = None) -> None:
        self.net = net
        self.genesis = net.genesis()
        self.suite = get_suite(self.genesis.suite)
        self.clock = clock or Clock()
        keys = net.local_node_keys()
        params = self.genesis.params
        self.node = Node(
            store=MemoryStore(),
            genesis=self.genesis,
            suite=self.suite,
            host=builtin_registry(),
            orderer=SoloOrderer(params.block_max_txs, params.block_max_ms),
            identity=NodeIdentity(
                proposer=keys[0].id,
                proposer_key=keys[0].keypair.private,
                checkpoint_keys=tuple((k.id, k.keypair.private) for k in keys),
            ),
            clock_ms=self.clock,
        )
        self.node.start()
        self.service: SharingService = open_sharing(self.node, net.root)
        self._nonces = itertools.count(1)

    def close(self) -> None:
        self.node.stop(drain=True)
        self.service.close()

    def tx(
        self,
        member: str,
        contract: str,
        method: str,
        args: dict[str, Any],
        nonce: int | None = None,
    ) -> Transaction:
        private = self.net.member_key(member).keypair.private
        return build_transaction(
            chain=CHAIN,
            signer=member,
            nonce=next(self._nonces) if nonce is None else nonce,
            contract=contract,
            method=method,
            args=args,
            actor=f"{member.split('/')[0]}-officer",
            sign=lambda m: self.suite.sign(private, m),
            hash_fn=self.suite.hash,
        )

    def call(self, member: str, contract: str, method: str, args: dict[str, Any], **kw: Any) -> Any:
        """Commit one transaction; return its receipt JSON."""
        return self.service.port.commit([self.tx(member, contract, method, args, **kw)])[0]

    def ok(self, member: str, contract: str, method: str, args: dict[str, Any], **kw: Any) -> Any:
        """Commit one transaction that must succeed; return its result."""
        receipt = self.call(member, contract, method, args, **kw)
        assert receipt["status"] == "ok", receipt
        return receipt["result"]

    def request(
        self,
        member: str,
        kind: str,
        args: dict[str, Any],
        *,
        purpose: str = "",
        case: str = "case-1",
        time_ms: int | None = None,
    ) -> dict[str, Any]:
        """Return a signed data request of ``member``."""
        private = self.net.member_key(member).keypair.private
        return build_request(
            chain=CHAIN,
            kind=kind,
            signer=member,
            actor="王小明",
            args=args,
            time_ms=self.clock.now if time_ms is None else time_ms,
            sign=lambda m: self.suite.sign(private, m),
            case=case,
            purpose=purpose,
        ).envelope()

    def register(self, spec: dict[str, Any], owner: str) -> None:
        self.ok(f"{owner}/admin", "sharing.catalogue", "register", spec)

    def publish(
        self, owner: str, resource: str, record: str, subject: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        args = {"resource": resource, "record": record, "subject": subject, "data": data}
        return self.service.publish(self.request(f"{owner}/admin", "publish", args))

    def grant(
        self,
        grantee: str,
        resource: str,
        fields: list[str],
        purpose: str,
        ttl_ms: int = 3_600_000,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(
            f"{grantee}/admin",
            "sharing.grants",
            "request",
            {
                "resource": resource,
                "fields": fields,
                "purpose": purpose,
                "legal_basis": "《优化营商环境条例》第三十七条",
                "case": "case-1",
                "expires_ms": self.clock.now + ttl_ms,
            },
        )
        return result

    def read(
        self,
        reader: str,
        resource: str,
        subject: str,
        fields: list[str],
        *,
        grant: str = "",
        purpose: str = "",
        records: list[str] | None = None,
    ) -> dict[str, Any]:
        """Read through the service and decrypt the answer as the reader would."""
        args: dict[str, Any] = {
            "resource": resource,
            "subject": subject,
            "fields": fields,
            "grant": grant,
        }
        if records is not None:
            args["records"] = records
        answer = self.service.read(self.request(f"{reader}/admin", "read", args, purpose=purpose))
        return self.open(reader, answer)

    def open(self, reader: str, answer: dict[str, Any]) -> dict[str, Any]:
        kp = read_agreement_key(agreement_key_path(self.net.root, reader), self.genesis.suite)
        owner_public = self.service.agreement_public(answer["owner"])
        return open_answer(self.suite, kp.private, owner_public, answer)
