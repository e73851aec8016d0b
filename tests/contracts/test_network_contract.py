"""Membership governance: departments join and leave by majority approval of the current
departments, through the ``network`` system contract on an (in-memory) embedded node."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.crypto import get_suite
from govchain.errors import UnknownSigner
from govchain.ledger.genesis import Params
from govchain.ledger.membership import majority_of, quorum_of
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node

SUITE = get_suite("intl")


@pytest.fixture
def net(tmp_path: Path) -> NetworkDir:
    init_network(
        tmp_path / "net",
        chain_id="gov-test",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    return NetworkDir(tmp_path / "net")


@pytest.fixture
def node(net: NetworkDir) -> Iterator[Node]:
    n = open_embedded(net.root, in_memory=True)
    n.start()
    try:
        yield n
    finally:
        n.stop(drain=True)


_nonce = itertools.count(1)


def call(net: NetworkDir, node: Node, member: str, method: str, args: dict[str, Any]) -> Any:
    """Submit one ``network`` call, wait for its block, return its receipt JSON."""
    tx = network_tx(net, member, method, args)
    out = node.submit([tx.encode()], wait=True, timeout=20)
    assert isinstance(out[0], Transaction) and out[0].tx_id == tx.tx_id
    return node.receipt_bundle(tx.tx_id)["entry"]["receipt"]


def network_tx(net: NetworkDir, member: str, method: str, args: dict[str, Any]) -> Transaction:
    """A signed ``network`` call by ``member``."""
    priv = net.member_key(member).keypair.private
    return build_transaction(
        chain="gov-test",
        signer=member,
        nonce=next(_nonce),
        contract="network",
        method=method,
        args=args,
        actor=member,
        sign=lambda m: SUITE.sign(priv, m),
        hash_fn=SUITE.hash,
    )


def add_args() -> dict[str, Any]:
    return {
        "action": "add",
        "dept": "housing",
        "name": "住房和城乡建设局",
        "node_key": SUITE.generate_keypair().public.hex(),
        "admin_key": SUITE.generate_keypair().public.hex(),
    }


def test_majority_and_quorum_sizes() -> None:
    # More than half for membership changes; more than two thirds for checkpoints.
    assert [majority_of(n) for n in (1, 2, 3, 4, 5, 7)] == [1, 2, 2, 3, 3, 4]
    assert [quorum_of(n) for n in (1, 2, 3, 4, 5, 7)] == [1, 2, 3, 3, 4, 5]


def test_department_joins_after_a_majority_approves(net: NetworkDir, node: Node) -> None:
    r = call(net, node, "market/admin", "propose", add_args())
    assert r["status"] == "ok"
    pid = r["result"]["proposal"]
    assert r["result"] == {"proposal": pid, "status": "open", "approvals": ["market"], "needed": 3}
    assert node.ledger.membership().ids() == ["market", "tax", "hrss", "customs"]
    r = call(net, node, "tax/admin", "approve", {"proposal": pid})
    assert r["result"]["status"] == "open"
    r = call(net, node, "tax/admin", "approve", {"proposal": pid})
    assert r["status"] == "failed" and r["error"]["code"] == "conflict"  # no double vote
    r = call(net, node, "customs/admin", "approve", {"proposal": pid})
    assert r["result"]["status"] == "done"
    members = node.ledger.membership()
    assert members.ids() == ["market", "tax", "hrss", "customs", "housing"]
    assert members.quorum() == 4  # quorum follows membership: 4 of 5
    # The new department's admin key is a member now.
    assert node.ledger.state.get(b"sys/member/housing/admin") is not None
    r = call(net, node, "hrss/admin", "approve", {"proposal": pid})
    assert r["status"] == "failed"  # settled proposals take no more votes


def test_department_leaves_after_a_majority_approves(net: NetworkDir, node: Node) -> None:
    pid = call(net, node, "tax/admin", "propose", {"action": "remove", "dept": "customs"})[
        "result"
    ]["proposal"]
    call(net, node, "market/admin", "approve", {"proposal": pid})
    assert node.ledger.membership().ids() == ["market", "tax", "hrss", "customs"]
    r = call(net, node, "hrss/admin", "approve", {"proposal": pid})
    assert r["result"]["status"] == "done"
    assert node.ledger.membership().ids() == ["market", "tax", "hrss"]
    assert node.ledger.membership().quorum() == 3
    # Every member key of the department that left is revoked, with the reason on record,
    # and its admin can no longer sign anything (not even a proposal to come back).
    events = [e["type"] for e in r["events"]]
    assert "network.members_revoked" in events
    revoked = [
        (k, v)
        for k, v in node.ledger.state.iter_range(b"sys/member/customs/")
        if v.value is not None
    ]
    assert revoked
    for _, v in revoked:
        record = json.loads(v.value or b"")
        assert record["status"] == "revoked"
        assert "customs left the network" in record["reason"]
    assert node.ledger.state.get(b"sys/member/tax/admin") is not None
    out = node.submit([network_tx(net, "customs/admin", "propose", add_args()).encode()])
    assert isinstance(out[0], UnknownSigner) and "revoked" in out[0].message


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"action": "add", "dept": "market", "name": "x", "node_key": "00", "admin_key": "00"},
         "conflict"),
        ({"action": "remove", "dept": "nosuch"}, "not_found"),
        ({"action": "rename", "dept": "tax"}, "bad_arguments"),
        ({"action": "add", "dept": "Bad Id", "name": "x", "node_key": "00", "admin_key": "00"},
         "bad_arguments"),
        ({"action": "add", "dept": "x", "name": "x", "node_key": "zz", "admin_key": "00"},
         "bad_arguments"),
    ],
)  # fmt: skip
def test_bad_proposals_fail_and_change_nothing(
    net: NetworkDir, node: Node, args: dict[str, Any], code: str
) -> None:
    before = node.ledger.state.root
    r = call(net, node, "market/admin", "propose", args)
    assert r["status"] == "failed" and r["error"]["code"] == code
    assert node.ledger.membership().ids() == ["market", "tax", "hrss", "customs"]
    # Only the signer's nonce window changed, no membership or proposal key.
    assert node.ledger.state.get(b"sys/departments") is None
    assert node.ledger.state.root != before  # the nonce was used


def test_unknown_proposal_is_not_found(net: NetworkDir, node: Node) -> None:
    r = call(net, node, "tax/admin", "approve", {"proposal": "0" * 32})
    assert r["status"] == "failed" and r["error"]["code"] == "not_found"
