"""Shared set-up of the issuance, e-bill and API tests (no tests of its own): a demo network in
``tmp_path``, its embedded node in memory, the node's sharing service (the department keys it
serves) and the credential service over them; helpers that register enterprises."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.credentials.service import CredentialService
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node
from govchain.node.sharing import open_sharing
from govchain.procedures.uscc import issue_uscc
from govchain.sharing.service import SharingService

DAY_MS = 86_400_000
NAMES = (
    "杭州瑞丰科技有限公司",
    "杭州青禾餐饮有限公司",
    "杭州远山物流有限公司",
    "杭州明澈咨询有限公司",
)


@dataclass
class Kit:
    """A running embedded node with its credential service."""

    net: NetworkDir
    node: Node
    sharing: SharingService
    service: CredentialService

    def commit(self, dept: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        """Commit one call signed by the department's service member; return its result."""
        member = self.sharing.signer.local(dept).member
        _, result = self.sharing.signer.commit_one(
            self.sharing.signer.call(dept, contract, method, args, actor=member)
        )
        return result

    def import_enterprise(self, n: int, agent: str = "citizen/rep") -> str:
        """Bring enterprise ``n`` into the registry (with its business licence); return its
        USCC."""
        uscc = issue_uscc("330106", 9_200_000 + n)
        ent = {
            "uscc": uscc,
            "name": NAMES[n % len(NAMES)] if n < len(NAMES) else f"杭州第{n}号科技有限公司",
            "division": "330106",
            "legal_rep_name": "张敏",
            "legal_rep_ref": "cd" * 32,
            "industry": "65",
            "capital_fen": 5_000_000_00,
            "address": "杭州市西湖区天目山路1号",
            "scope": "软件开发；信息技术咨询服务",
            "agents": [agent],
            "established_ms": self.node.clock_ms() - 400 * DAY_MS,
        }
        self.commit("market", "registry", "import_enterprise", {"enterprise": ent})
        return uscc


def open_kit(root: Path, *, max_tx_bytes: int = 64 * 1024, suite: str = "intl") -> Iterator[Kit]:
    """Yield a kit over a fresh network under ``root``; stop its node afterwards."""
    init_network(
        root,
        chain_id="cred-test",
        suite_name=suite,
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5, max_tx_bytes=max_tx_bytes),
    )
    net = NetworkDir(root)
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        sharing = open_sharing(node, root)
        service = CredentialService(
            ledger=node.ledger, signer=sharing.signer, content=node.content, clock_ms=node.clock_ms
        )
        yield Kit(net, node, sharing, service)
    finally:
        node.stop(drain=True)
