"""Membership governance: departments join and leave by majority approval of the current
departments, through the ``network`` system contract on an (in-memory) embedded node."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.crypto import get_suite
from govchain.errors import ProofError, UnknownSigner
from govchain.ledger.bundles import verify_bundle
from govchain.ledger.genesis import Params
from govchain.ledger.membership import majority_of, quorum_of
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node

SUITE = get_suite("intl")
LINK = ("log_index", "entry", "inclusion_proof", "checkpoint")
"""The fields of a proved membership change in a receipt."""


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


def test_receipts_prove_membership_changes_offline(net: NetworkDir, node: Node) -> None:
    genesis = net.genesis()
    # housing joins, then customs leaves: two membership changes.
    pid = call(net, node, "market/admin", "propose", add_args())["result"]["proposal"]
    for dept in ("tax", "customs"):
        call(net, node, f"{dept}/admin", "approve", {"proposal": pid})
    pid = call(net, node, "tax/admin", "propose", {"action": "remove", "dept": "customs"})[
        "result"
    ]["proposal"]
    for dept in ("market", "hrss"):
        call(net, node, f"{dept}/admin", "approve", {"proposal": pid})
    tx = network_tx(net, "hrss/admin", "propose", {"action": "remove", "dept": "market"})
    node.submit([tx.encode()], wait=True, timeout=20)
    bundle = node.receipt_bundle(tx.tx_id)
    # The receipt carries both changes, each proved against the checkpoint of its own block,
    # and verifies with nothing but genesis.
    links = bundle["membership"]
    assert [link["entry"]["receipt"]["events"][-1]["data"]["departments"] for link in links] == [
        ["market", "tax", "hrss", "customs", "housing"],
        ["market", "tax", "hrss", "housing"],
    ]
    verified = verify_bundle(bundle, genesis, SUITE)
    assert [d.id for d in verified.departments] == ["market", "tax", "hrss", "housing"]
    # Tampering with a proved change (a different node key for the new department), reordering
    # the changes or stripping a change's checkpoint signatures is refused.
    forged = copy.deepcopy(bundle)
    event = forged["membership"][0]["entry"]["receipt"]["events"][-1]
    event["data"]["membership"][-1]["node_key"] = SUITE.generate_keypair().public.hex()
    with pytest.raises(ProofError, match=r"inclusion|root"):
        verify_bundle(forged, genesis, SUITE)
    with pytest.raises(ProofError, match="in order"):
        verify_bundle(dict(bundle, membership=links[::-1]), genesis, SUITE)
    stripped = copy.deepcopy(bundle)
    stripped["membership"][0]["checkpoint"]["signatures"] = stripped["membership"][0]["checkpoint"][
        "signatures"
    ][:1]
    with pytest.raises(ProofError, match="valid department signature"):
        verify_bundle(stripped, genesis, SUITE)
    # A proved transaction of the network contract that changed nothing is no proof of a change.
    extra = network_tx(net, "tax/admin", "propose", {"action": "remove", "dept": "hrss"})
    node.submit([extra.encode()], wait=True, timeout=20)
    height = node.ledger.locate(extra.tx_id).height
    last = network_tx(net, "tax/admin", "propose", {"action": "remove", "dept": "housing"})
    node.submit([last.encode()], wait=True, timeout=20)
    later = node.receipt_bundle(last.tx_id)
    unchanged = node.ledger.receipt_bundle(extra.tx_id, checkpoint_height=height)
    fake = dict(later, membership=[*later["membership"], {k: unchanged[k] for k in LINK}])
    with pytest.raises(ProofError, match="changed no membership"):
        verify_bundle(fake, genesis, SUITE)


def test_two_membership_changes_in_one_block_are_proved_by_its_last(
    net: NetworkDir, node: Node
) -> None:
    # housing joins and customs leaves in the same block (four departments before and after,
    # so this embedded node's four genesis keys keep making quorum checkpoints).
    pids = [
        call(net, node, "market/admin", "propose", args)["result"]["proposal"]
        for args in (add_args(), {"action": "remove", "dept": "customs"})
    ]
    for pid in pids:
        call(net, node, "tax/admin", "approve", {"proposal": pid})
    # The deciding approvals of both proposals, in one batch: one block, two changes.
    deciding = [network_tx(net, "hrss/admin", "approve", {"proposal": pid}) for pid in pids]
    node.submit([t.encode() for t in deciding], wait=True, timeout=20)
    assert len({node.ledger.locate(t.tx_id).height for t in deciding}) == 1
    tx = network_tx(net, "tax/admin", "propose", {"action": "remove", "dept": "market"})
    node.submit([tx.encode()], wait=True, timeout=20)
    bundle = node.receipt_bundle(tx.tx_id)
    assert len(bundle["membership"]) == 1  # the block's last change states the membership
    verified = verify_bundle(bundle, net.genesis(), SUITE)
    assert [d.id for d in verified.departments] == ["market", "tax", "hrss", "housing"]
