"""Member keys managed on the ledger: issue, suspend, resume, revoke through the ``members``
contract, and the effect on the member's own transactions from the next block on."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.crypto import get_suite
from govchain.crypto.suite import KeyPair
from govchain.errors import GovchainError, UnknownSigner
from govchain.identity.members import MemberAdmin
from govchain.ledger.genesis import Params
from govchain.ledger.receipts import LogEntry
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir, init_network
from govchain.node.node import Node


class Net:
    def __init__(self, root: Path, suite_name: str) -> None:
        init_network(
            root,
            chain_id="members-test",
            suite_name=suite_name,
            departments=[("tax", "税务局"), ("market", "市场监督管理局")],
            params=Params(state_buckets=256, block_max_ms=5),
        )
        self.dir = NetworkDir(root)
        self.genesis = self.dir.genesis()
        self.suite = get_suite(suite_name)
        self.nonces = itertools.count(1)

    def admin(self, dept: str) -> MemberAdmin:
        return MemberAdmin(
            self.genesis,
            dept,
            f"{dept}/admin",
            self.dir.member_key(f"{dept}/admin").keypair.private,
            self.dir.root_key(dept).keypair.private,
        )

    def put_as(self, member: str, kp: KeyPair, key: str) -> Transaction:
        return build_transaction(
            chain=self.genesis.chain_id,
            signer=member,
            nonce=next(self.nonces),
            contract="kv",
            method="put",
            args={"key": key, "value": 1},
            actor=member,
            sign=lambda m: self.suite.sign(kp.private, m),
            hash_fn=self.suite.hash,
        )


def commit(node: Node, *txs: Transaction) -> list[dict[str, Any]]:
    outcomes = node.submit([t.envelope() for t in txs], raw=False, wait=True, timeout=20)
    for o in outcomes:
        if isinstance(o, GovchainError):
            raise o
    out = []
    for t in txs:
        loc = node.ledger.locate(t.tx_id)
        out.append(LogEntry.decode(node.ledger.entry_bytes(loc.log_index)).receipt.to_json())
    return out


@pytest.fixture(params=["intl", "gm"])
def net_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Net, Node]]:
    net = Net(tmp_path / "net", request.param)
    node = open_embedded(net.dir.root, in_memory=True)
    node.start()
    try:
        yield net, node
    finally:
        node.stop(drain=True)


def test_issue_suspend_resume_revoke(net_node: tuple[Net, Node]) -> None:
    net, node = net_node
    tax = net.admin("tax")
    svc = net.suite.generate_keypair()
    r = commit(
        node,
        tax.set_root("tax/admin", "case-1"),
        tax.issue("tax/svc", "service", svc.public, "tax/admin", "case-1", "new service key"),
    )
    assert [x["status"] for x in r] == ["ok", "ok"], r
    assert r[1]["result"] == {"member": "tax/svc", "role": "service", "status": "active"}
    assert commit(node, net.put_as("tax/svc", svc, "a"))[0]["status"] == "ok"

    assert commit(node, tax.change("suspend", "tax/svc", "tax/admin"))[0]["status"] == "ok"
    # The suspended key is refused at admission from the next block on.
    with pytest.raises(UnknownSigner):
        commit(node, net.put_as("tax/svc", svc, "b"))
    assert commit(node, tax.change("resume", "tax/svc", "tax/admin"))[0]["status"] == "ok"
    assert commit(node, net.put_as("tax/svc", svc, "c"))[0]["status"] == "ok"

    assert commit(node, tax.change("revoke", "tax/svc", "tax/admin"))[0]["status"] == "ok"
    with pytest.raises(UnknownSigner):
        commit(node, net.put_as("tax/svc", svc, "d"))
    again = commit(node, tax.change("resume", "tax/svc", "tax/admin"))[0]
    assert again["status"] == "failed" and again["error"]["code"] == "conflict"


def test_revocation_in_the_same_block_rejects_later_transactions(
    net_node: tuple[Net, Node],
) -> None:
    net, node = net_node
    tax = net.admin("tax")
    svc = net.suite.generate_keypair()
    commit(
        node, tax.set_root("tax/admin"), tax.issue("tax/svc", "service", svc.public, "tax/admin")
    )
    # Both admitted while the key is active; executed in order in one block.
    revoke = tax.change("revoke", "tax/svc", "tax/admin")
    late = net.put_as("tax/svc", svc, "late")
    r = commit(node, revoke, late)
    assert r[0]["status"] == "ok"
    assert r[1]["status"] == "rejected" and r[1]["error"]["code"] == "unknown_signer"


def test_only_admins_of_the_department(net_node: tuple[Net, Node]) -> None:
    net, node = net_node
    tax, market = net.admin("tax"), net.admin("market")
    svc = net.suite.generate_keypair()
    commit(
        node, tax.set_root("tax/admin"), tax.issue("tax/svc", "officer", svc.public, "tax/admin")
    )
    commit(node, market.set_root("market/admin"))
    # market's admin may not touch tax's members ...
    r = commit(node, market.change("suspend", "tax/svc", "market/admin"))[0]
    assert r["status"] == "failed" and r["error"]["code"] == "forbidden"
    # ... nor certify a member with another department's root.
    forged = MemberAdmin(
        net.genesis,
        "tax",
        "market/admin",
        net.dir.member_key("market/admin").keypair.private,
        net.dir.root_key("market").keypair.private,
    )
    r = commit(node, forged.issue("tax/evil", "admin", svc.public, "market/admin"))[0]
    assert r["status"] == "failed"
    # A non-admin member cannot manage members even of its own department.
    svc_admin = MemberAdmin(
        net.genesis, "tax", "tax/svc", svc.private, net.dir.root_key("tax").keypair.private
    )
    r = commit(node, svc_admin.change("suspend", "tax/admin", "tax/svc"))[0]
    assert r["status"] == "failed" and r["error"]["code"] == "forbidden"
    # An admin cannot lock itself out; the root is set once.
    r = commit(node, tax.change("revoke", "tax/admin", "tax/admin"))[0]
    assert r["error"]["code"] == "forbidden"
    r = commit(node, tax.set_root("tax/admin"))[0]
    assert r["error"]["code"] == "conflict"


def test_nonces_are_unique_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from govchain.identity.members import nonce_now

    with ThreadPoolExecutor(8) as pool:
        nonces = list(pool.map(lambda _: nonce_now(), range(5000)))
    assert len(set(nonces)) == len(nonces)
