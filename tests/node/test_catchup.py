"""Catch-up from peers (``node.catchup``): a follower applies a source node's chain through the
pipeline and ends in the same state; a block or transaction tampered with by the peer is
rejected naming its height, with every block before it applied and nothing after it.

The source chain is made by an embedded node; blocks have 70 transactions so that their
signatures go to the verifier worker processes (``crypto.parallel.INLINE_LIMIT`` is 64)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.errors import IntegrityError
from govchain.ledger.blocks import SignedHeader
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node import catchup
from govchain.node.catchup import CatchUp
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import GC_GEN0_THRESHOLD, Node, NodeIdentity
from govchain.node.peers import Peers
from govchain.node.quorum import MembershipHistory, peer_certificates
from govchain.node.transport import PeerServer, TlsContexts, check_peer, fetch, issue_certificate
from govchain.node.wire import blocks_from, decode_block, stored_block
from govchain.ordering.solo import SoloOrderer
from govchain.storage.buffered import BufferedStore
from govchain.storage.memory import MemoryStore

CHAIN = "catch-up"
BLOCKS = 6
PER_BLOCK = 70
SIGNERS = ("tax/admin", "market/admin")
Tamper = Callable[[int, dict[str, Any]], dict[str, Any] | None]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "net"
    init_network(
        root,
        chain_id=CHAIN,
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(block_max_ms=5),
    )
    return root


def make_tx(network: Path, signer: str, nonce: int) -> Transaction:
    net = NetworkDir(network)
    suite = get_suite("intl")
    key = net.member_key(signer).keypair.private
    return build_transaction(
        chain=CHAIN,
        signer=signer,
        nonce=nonce,
        contract="kv",
        method="put",
        args={"key": f"{signer}:{nonce}", "value": {"n": nonce}},
        actor=f"{signer.split('/')[0]}/officer-1",
        case=f"case-{nonce}",
        purpose="catch-up test",
        sign=lambda m: suite.sign(key, m),
        hash_fn=suite.hash,
    )


@pytest.fixture(scope="module")
def source(network: Path) -> Iterator[Node]:
    """An embedded node with ``BLOCKS`` blocks of ``PER_BLOCK`` transactions."""
    node = open_embedded(network, in_memory=True, check=False)
    nonce = 0
    for _ in range(BLOCKS):
        txs = []
        for i in range(PER_BLOCK):
            txs.append(make_tx(network, SIGNERS[i % 2], nonce))
            nonce += 1
        node.commit(txs)
    yield node
    node.close()


def follower(network: Path, store: BufferedStore | None = None) -> Node:
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    key = net.node_key("tax").keypair.private
    return Node(
        store=store or BufferedStore(MemoryStore()),
        genesis=genesis,
        suite=suite,
        host=builtin_registry(genesis, suite.hash),
        orderer=SoloOrderer(100, 5),
        identity=NodeIdentity(proposer="tax", proposer_key=key, checkpoint_keys=(("tax", key),)),
    )


def peer(source: Node, tamper: Tamper | None = None, limit: int | None = None) -> Any:
    """A fetch function answering from ``source`` like a peer, optionally lying."""

    def fetch_blocks(first: int, n: int) -> list[Any]:
        body = blocks_from(source.ledger, first, n if limit is None else min(n, limit))
        blocks: list[Any] = orjson.loads(body)["blocks"]
        if tamper is None:
            return blocks
        out = []
        for b in blocks:
            changed = tamper(b["header"]["header"]["height"], b)
            if changed is not None:
                out.append(changed)
        return out

    return fetch_blocks


def test_catch_up_reaches_the_source_state_with_one_storage_commit(
    network: Path, source: Node
) -> None:
    store = BufferedStore(MemoryStore())
    node = follower(network, store)
    seen: list[tuple[int, int]] = []
    collecting: set[bool] = set()

    def progress(height: int, target: int) -> None:
        seen.append((height, target))
        collecting.add(gc.isenabled())

    cu = CatchUp(node, peer(source, limit=2), store)  # 2 blocks per request: several requests
    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, as in a node that has not started
    try:
        applied = cu.run(source.ledger.height, progress=progress, defer=True)
        tuned = gc.get_threshold()[0]
    finally:
        gc.set_threshold(*thresholds)
    assert applied == BLOCKS
    assert cu.transactions == BLOCKS * PER_BLOCK
    assert seen[-1] == (BLOCKS, BLOCKS)
    mine, theirs = node.ledger, source.ledger
    assert (mine.height, mine.state.root, mine.log.size, mine.log.root) == (
        theirs.height,
        theirs.state.root,
        theirs.log.size,
        theirs.log.root,
    )
    assert store.flushes == 1 and store.pending() == 0
    # Every block is in the inner store, and the follower signed each block's checkpoint.
    assert store.inner.get("meta", b"head") == BLOCKS.to_bytes(8, "big")
    assert [d for d, _ in mine.checkpoint(BLOCKS).signatures] == ["tax"]
    # Both threads' CPU is accounted (the CLI prints it per transaction), and the node's
    # garbage collector was tuned before catching up, as the committer's start would.
    assert cu.fetch_cpu > 0 and cu.apply_cpu > 0
    # The peer sent its signed checkpoint of each block (here signed by every department):
    # they certify every caught-up height against the follower's own checkpoints.
    assert sorted(cu.checkpoints) == list(range(1, BLOCKS + 1))
    history = MembershipHistory(0, mine.membership())
    certified = peer_certificates(
        node.suite, lambda h: mine.checkpoint(h).checkpoint, history, cu.checkpoints
    )
    assert sorted(certified) == list(range(1, BLOCKS + 1))
    assert {d for d, _ in certified[BLOCKS]} == {d.id for d in mine.membership().departments}
    assert tuned == GC_GEN0_THRESHOLD
    # The cyclic collector was paused while blocks were applied, and runs again after.
    assert collecting == {False} and gc.isenabled()


def test_a_peer_cuts_its_answer_after_the_block_that_passes_the_size(source: Node) -> None:
    def heights(max_bytes: int) -> list[int]:
        body = blocks_from(source.ledger, 2, 100, max_bytes)
        return [b["header"]["header"]["height"] for b in orjson.loads(body)["blocks"]]

    one = len(stored_block(source.ledger, 2))
    assert heights(1) == [2]  # always at least one block, however large
    assert heights(one) == [2]
    assert heights(one + 1) == [2, 3]
    assert heights(1 << 30) == list(range(2, source.ledger.height + 1))


def test_receipts_sent_by_a_peer_are_not_believed(network: Path, source: Node) -> None:
    def lie(height: int, block: dict[str, Any]) -> dict[str, Any]:
        for e in block["entries"]:
            e["receipt"] = {"status": "failed", "result": None, "events": [], "error": None}
        return block

    node = follower(network)
    CatchUp(node, peer(source, lie)).run(source.ledger.height)
    assert node.ledger.log.root == source.ledger.log.root
    assert node.ledger.entry_bytes(0) == source.ledger.entry_bytes(0)


def _tx(block: dict[str, Any], i: int) -> dict[str, Any]:
    tx: dict[str, Any] = block["entries"][i]["tx"]
    return tx


def _args(block: dict[str, Any]) -> dict[str, Any]:
    _tx(block, 3)["body"]["args"]["value"] = {"n": -1}
    return block


def _signature(block: dict[str, Any]) -> dict[str, Any]:
    sig = _tx(block, 3)["signature"]
    _tx(block, 3)["signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    return block


def _first_block_badly_signed(node: Node, source: Node) -> tuple[SignedHeader, list[Any]]:
    """Block 1 of ``source`` decoded by ``node``, its transaction 3's signature altered."""
    body = _signature(orjson.loads(blocks_from(source.ledger, 1, 1))["blocks"][0])
    return decode_block(body, node.suite.hash, 1 << 16)


def _state_root(block: dict[str, Any]) -> dict[str, Any]:
    block["header"]["header"]["state_root"] = "00" * 32
    return block


def _dropped(block: dict[str, Any]) -> dict[str, Any]:
    del block["entries"][5]
    return block


def _swapped(block: dict[str, Any]) -> dict[str, Any]:
    e = block["entries"]
    e[0], e[2] = e[2], e[0]  # both signed by the same member: signatures stay valid
    return block


def _garbage(block: dict[str, Any]) -> dict[str, Any]:
    _tx(block, 1)["body"]["nonce"] = "seven"
    return block


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_args, r"block 4: transaction 3 \([0-9a-f]+\) has an invalid signature"),
        (_signature, r"block 4: transaction 3 \([0-9a-f]+\) has an invalid signature"),
        (_state_root, r"block 4: proposer signature does not verify"),
        (_dropped, r"block 4: header counts 70 transactions, 69 present"),
        (_swapped, r"block 4: transaction root mismatch"),
        (_garbage, r"block 4: received block is malformed"),
    ],
    ids=["args", "signature", "header", "dropped", "reordered", "malformed"],
)
def test_tampered_block_from_a_peer_is_rejected_naming_its_height(
    network: Path,
    source: Node,
    tamper: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    store = BufferedStore(MemoryStore())
    node = follower(network, store)
    cu = CatchUp(node, peer(source, lambda h, b: tamper(b) if h == 4 else b), store)
    with pytest.raises(IntegrityError, match=message) as err:
        cu.run(source.ledger.height, defer=True)
    assert err.value.fields.get("height") in (4, None)
    assert gc.isenabled()  # the collector paused for the catch-up runs again
    # Blocks 1-3 are applied and durable; nothing of block 4 or later is.
    assert node.ledger.height == 3
    assert store.pending() == 0
    assert store.inner.get("meta", b"head") == (3).to_bytes(8, "big")
    assert node.ledger.state.root == source.ledger.header(3).header.state_root


def test_a_peer_answering_with_the_wrong_block_is_refused(network: Path, source: Node) -> None:
    def skip(height: int, block: dict[str, Any]) -> dict[str, Any] | None:
        return None if height == 2 else block

    node = follower(network)
    with pytest.raises(IntegrityError, match="block 2: a peer sent block 3 in its place"):
        CatchUp(node, peer(source, skip)).run(source.ledger.height)
    assert node.ledger.height == 1


def test_no_peer_with_the_blocks_ends_catch_up_where_it_is(network: Path, source: Node) -> None:
    node = follower(network)
    assert CatchUp(node, lambda first, n: []).run(source.ledger.height) == 0
    assert node.ledger.height == 0


def test_signature_checked_ahead_under_another_key_is_checked_again(
    network: Path, source: Node
) -> None:
    # The pipeline passes the key each signature was found valid under; a key that is not
    # the signer's key at the start of the block does not exempt the transaction.
    node = follower(network)
    signed, txs = _first_block_badly_signed(node, source)
    other = get_suite("intl").generate_keypair().public
    with pytest.raises(IntegrityError, match="block 1: transaction 3"):
        node.apply(signed, txs, [other] * len(txs))
    assert node.ledger.height == 0


def test_catch_up_over_mutual_tls_from_a_peer_server(
    tmp_path: Path, network: Path, source: Node
) -> None:
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    members = source.ledger.membership().keys()

    def authorize(cert: bytes | None) -> str:
        return check_peer(suite, CHAIN, cert, members)

    server_tls = TlsContexts(
        issue_certificate(suite, CHAIN, "market", net.node_key("market").keypair.private),
        tmp_path,
    )
    client_tls = TlsContexts(
        issue_certificate(suite, CHAIN, "tax", net.node_key("tax").keypair.private), tmp_path
    )
    server = PeerServer(
        server_tls, authorize, lambda first, n: blocks_from(source.ledger, first, n)
    )
    server.start()
    try:
        server_tls.trust(client_tls.own.cert_pem)
        client_tls.trust(server_tls.own.cert_pem)

        def fetch_blocks(first: int, n: int) -> list[Any]:
            body = fetch(
                client_tls, f"{server.url}/v1/peer/blocks?from={first}&limit={n}", authorize
            )
            blocks: list[Any] = orjson.loads(body)["blocks"]
            return blocks

        node = follower(network)
        assert CatchUp(node, fetch_blocks).run(source.ledger.height) == BLOCKS
        assert node.ledger.state.root == source.ledger.state.root
    finally:
        server.close()
        server_tls.close()
        client_tls.close()


def test_the_fetch_thread_stays_within_its_budget_of_decoded_transactions(
    network: Path, source: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget below one block's size: the fetch thread holds one decoded block at a time.
    monkeypatch.setattr(catchup, "TXS_AHEAD", PER_BLOCK - 1)
    node = follower(network)
    assert CatchUp(node, peer(source)).run(source.ledger.height) == BLOCKS
    assert node.ledger.state.root == source.ledger.state.root


def test_checks_still_under_way_are_awaited_before_the_block_commits(
    network: Path, source: Node
) -> None:
    # Catch-up passes the checks ahead as a function: the block executes meanwhile, and a
    # transaction they do not vouch for under its signer's key is verified before committing.
    node = follower(network)
    signed, txs = _first_block_badly_signed(node, source)
    awaited: list[bool] = []
    right = NetworkDir(network).member_key("tax/admin").keypair.public

    def ahead() -> list[bytes | None]:
        awaited.append(True)
        return [right if t.signer == "tax/admin" else None for t in txs]

    with pytest.raises(IntegrityError, match="block 1: transaction 3"):
        node.apply(signed, txs, ahead)
    assert awaited == [True]
    assert node.ledger.height == 0


class _Directory:
    """The part of ``BlockLog`` that ``Peers`` reads: this node's department and the peer
    entries the nodes published."""

    def __init__(self, dept: str, entries: dict[str, str]) -> None:
        self.dept = dept
        self.client = None
        self.entries = entries

    def nodes(self) -> dict[str, str]:
        return dict(self.entries)


def test_catch_up_spreads_its_ranges_over_the_peers_and_passes_over_one_that_is_down(
    tmp_path: Path, network: Path, source: Node
) -> None:
    net = NetworkDir(network)
    suite = get_suite(net.genesis().suite)
    members = source.ledger.membership().keys()

    def authorize(cert: bytes | None) -> str:
        return check_peer(suite, CHAIN, cert, members)

    def tls(dept: str) -> TlsContexts:
        cert = issue_certificate(suite, CHAIN, dept, net.node_key(dept).keypair.private)
        (tmp_path / dept).mkdir(exist_ok=True)
        return TlsContexts(cert, tmp_path / dept)

    served: dict[str, list[int]] = {"market": [], "hrss": []}
    client = tls("tax")
    servers = {}
    entries = {}
    for dept in served:

        def serve(first: int, n: int, dept: str = dept) -> bytes:
            served[dept].append(first)
            return blocks_from(source.ledger, first, min(n, 2))

        contexts = tls(dept)
        contexts.trust(client.own.cert_pem)
        servers[dept] = PeerServer(contexts, authorize, serve)
        servers[dept].start()
        peer = {"api": "", "peer": servers[dept].url, "cert": contexts.own.cert_pem.decode()}
        entries[dept] = orjson.dumps(peer).decode()
    try:
        directory = _Directory("tax", entries)
        peers = Peers(
            directory,  # type: ignore[arg-type]
            client,
            api_address="",
            peer_address="",
            authorize=authorize,
        )
        node = follower(network)
        assert CatchUp(node, peers.fetch_blocks).run(source.ledger.height) == BLOCKS
        assert node.ledger.state.root == source.ledger.state.root
        # Ranges of at most two blocks, taken in turn from both peers.
        assert served["market"] and served["hrss"]
        assert sorted(served["market"] + served["hrss"]) == [1, 2, 4, 6]

        # One peer down: every range comes from the other, and nothing is missed.
        servers["market"].close()
        again = follower(network)
        before = len(served["hrss"])
        assert CatchUp(again, peers.fetch_blocks).run(source.ledger.height) == BLOCKS
        assert again.ledger.state.root == source.ledger.state.root
        assert len(served["hrss"]) > before
    finally:
        for s in servers.values():
            s.close()
