"""The department network under faults, with a real 3-member etcd cluster and real node
processes: one network is shared by the tests of this module, in order, and each test leaves
it healthy (every node up, every etcd member up)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from netkit import Net, NodeProc

from govchain.ledger.bundles import verify_bundle
from govchain.ledger.checkpoints import SignedCheckpoint, sign_checkpoint
from govchain.ledger.encoding import canonical_unchecked
from govchain.node.network import NetworkDir, write_key
from govchain.ordering.etcd import BlockLog
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore
from govchain.types import Hash32

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    n = Net(tmp_path_factory.mktemp("net"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


class Load:
    """Clients submitting small batches (wait for commit) to the given nodes in a thread;
    ``acked`` holds every transaction id whose commit was acknowledged."""

    def __init__(self, net: Net, nodes: list[NodeProc], batch: int = 20) -> None:
        self.net = net
        self.nodes = nodes
        self.batch = batch
        self.acked: list[str] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            node = self.nodes[i % len(self.nodes)]
            dept = node.dept
            txs = [self.net.tx(dept, f"load/{dept}/{i}/{j}", i) for j in range(self.batch)]
            i += 1
            try:
                r = self.net.submit(node, txs, timeout=20)
            except httpx.HTTPError:
                self.refused += 1
                continue
            if r.status_code != 200:
                self.refused += 1
                time.sleep(0.1)
                continue
            for res in r.json()["results"]:
                if res.get("status") == "committed":
                    self.acked.append(res["tx_id"])


def committed_ids(node: NodeProc) -> list[str]:
    """Every transaction id in the node's blocks, in order (duplicates kept)."""
    h = node.health()
    assert h is not None
    out: list[str] = []
    for height in range(1, h["height"] + 1):
        r = httpx.get(f"{node.url}/v1/blocks/{height}", timeout=10)
        out.extend(r.json()["tx_ids"])
    return out


def assert_exactly_once(net: Net, acked: list[str]) -> None:
    for node in net.live():
        ids = committed_ids(node)
        assert len(ids) == len(set(ids)), f"{node.dept}: a transaction was committed twice"
        missing = set(acked) - set(ids)
        assert not missing, f"{node.dept}: {len(missing)} acknowledged transactions are lost"


def test_blocks_replicate_and_receipts_carry_a_quorum_checkpoint(net: Net) -> None:
    depts = list(net.nodes)
    for i, dept in enumerate(depts[:3]):
        r = net.submit(net.nodes[dept], [net.tx(dept, f"permit/{i}", {"n": i})])
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["status"] == "committed"
    tx = net.tx("tax", "permit/receipt", "x")
    assert net.submit(net.nodes["market"], [tx]).status_code == 200
    head = net.wait_converged()
    assert head["height"] >= 1
    # The receipt comes from a node that did not propose; it verifies offline with genesis.
    follower = next(n for n in net.live() if not n.health()["is_proposer"])  # type: ignore[index]
    bundle = httpx.get(f"{follower.url}/v1/transactions/{tx.tx_id.hex()}/receipt").json()
    verified = verify_bundle(bundle, net.genesis, net.suite)
    assert len(verified.checkpoint_signers) >= net.genesis.quorum()
    # Tampering with the checkpoint's state root breaks every signature on it.
    bundle["checkpoint"]["checkpoint"]["state_root"] = "00" * 32
    with pytest.raises(Exception, match="signature"):
        verify_bundle(bundle, net.genesis, net.suite)


def test_one_etcd_member_killed_under_load_then_rejoins(net: Net) -> None:
    member = net.etcd.members[0]
    with Load(net, net.live()) as load:
        time.sleep(1.0)
        net.etcd.kill_member(member)
        before = len(load.acked)
        net.wait(lambda: len(load.acked) > before + 100, 30, "commits with one etcd member down")
        net.etcd.start_member(member)
        client = net.etcd.client([member.client_url], timeout=1.0)
        try:
            net.wait(lambda: client.member_status(member.client_url) is not None, 30, "rejoin")
            after = len(load.acked)
            net.wait(lambda: len(load.acked) > after + 50, 30, "commits after the rejoin")
        finally:
            client.close()
    # The restarted member serves the same log as the others.
    c0 = net.etcd.client([member.client_url])
    c1 = net.etcd.client([net.etcd.members[1].client_url])
    try:
        key = f"/govchain/{net.genesis.chain_id}/height".encode()
        net.wait(lambda: c0.get(key) == c1.get(key), 20, "the member to catch up")
    finally:
        c0.close()
        c1.close()
    net.wait_converged()
    assert_exactly_once(net, load.acked)


def test_proposer_killed_under_load_another_takes_over(net: Net) -> None:
    net.wait(lambda: net.proposer() is not None, 20, "a proposer")
    old = net.proposer()
    assert old is not None
    followers = [n for n in net.live() if n is not old]
    with Load(net, followers) as load:
        net.wait(lambda: len(load.acked) > 100, 30, "load to commit")
        old.kill()
        killed_at = time.monotonic()
        net.wait(lambda: (p := net.proposer()) is not None and p is not old, 20, "a new proposer")
        takeover = time.monotonic() - killed_at
        after = len(load.acked)
        net.wait(lambda: len(load.acked) > after + 100, 30, "commits under the new proposer")
    assert takeover < 10, f"takeover took {takeover:.1f} s"
    net.wait_converged()
    assert_exactly_once(net, load.acked)
    # The old proposer restarts, catches up and agrees with the quorum.
    old.start()
    net.wait(lambda: old.health() is not None, 60, "the old proposer to restart")
    net.wait_converged()
    assert_exactly_once(net, load.acked)


def test_etcd_majority_lost_refuses_clearly_then_resumes(net: Net) -> None:
    node = net.nodes["market"]
    height = net.wait_converged()["height"]
    down = net.etcd.members[1:]
    for m in down:
        net.etcd.kill_member(m)
    try:
        r = net.submit(node, [net.tx("market", "during/outage", 1)], timeout=30)
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "ordering_unavailable"
        time.sleep(1.0)
        for n in net.live():
            h = n.health()
            assert h is not None and h["height"] == height, "a block was committed without etcd"
        net.wait(
            lambda: node.health()["ordering"]["available"] is False,  # type: ignore[index]
            20,
            "health to report ordering unavailable",
        )
    finally:
        for m in down:
            net.etcd.start_member(m)
    net.etcd.wait_ready(30)
    tx = net.tx("market", "after/outage", 2)
    net.wait(lambda: net.submit(node, [tx]).status_code == 200, 60, "the network to resume")
    head = net.wait_converged()
    assert head["height"] > height


def test_node_down_for_a_while_catches_up_from_peers(net: Net) -> None:
    node = net.nodes["customs"]
    node.kill()
    others = [n for n in net.live()]
    for i in range(30):  # more blocks than the etcd catch-up window: fetched from peers
        r = net.submit(others[i % len(others)], [net.tx("tax", f"while-down/{i}", i)])
        assert r.status_code == 200, r.text
    # Compaction never removes a block the stopped node has not persisted.
    client = net.etcd.client()
    blog = BlockLog(client, net.genesis.chain_id, "customs")
    try:
        down_at = blog.persisted()["customs"]
        time.sleep(6)  # more than one compaction period of the proposer
        oldest = blog.oldest_block()
        assert oldest is not None and oldest <= down_at + 1
        node.start()
        net.wait(lambda: node.health() is not None, 60, "the node to restart")
        head = net.wait_converged()
        # Once every department persisted them, old blocks leave etcd.
        net.wait(lambda: (blog.oldest_block() or 0) > down_at + 1, 30, "compaction")
    finally:
        client.close()
    mine = node.health()
    assert mine is not None
    assert (mine["height"], mine["state_root"]) == (head["height"], head["state_root"])
    assert "from peer" in node.log_text()


def test_badly_signed_transaction_queued_by_a_node_is_dropped_by_the_proposer(net: Net) -> None:
    # A member node that skipped admission (or lies) queues a forged transaction and an item
    # that is no transaction at all directly in etcd: the proposer verifies what others
    # queued and drops what does not decode, so no follower ever sees a bad block.
    good = net.tx("tax", "queued/good", 1)
    forged = dataclasses.replace(net.tx("tax", "queued/forged", 2), signature=bytes(64))
    client = net.etcd.client()
    try:
        log = BlockLog(client, net.genesis.chain_id, "tax")
        body = b"[" + b",".join([forged.encode(), b'{"body":7}', good.encode()]) + b"]"
        log.enqueue([(3, body)])
    finally:
        client.close()

    def committed_everywhere() -> bool:
        return all(
            net.tx_status(n, good.tx_id.hex()).get("status") == "committed" for n in net.live()
        )

    net.wait(committed_everywhere, 30, "the good transaction on every node")
    for n in net.live():
        assert net.tx_status(n, forged.tx_id.hex()).get("code") == "not_found"
        h = n.health()
        assert h is not None and h["status"] == "ok"
    net.wait_converged()


def test_new_department_joins_by_majority_and_its_node_catches_up(net: Net) -> None:
    netdir = NetworkDir(net.root)
    node_kp, admin_kp = net.suite.generate_keypair(), net.suite.generate_keypair()
    write_key(netdir.node_key_path("housing"), "housing", "intl", node_kp)
    write_key(netdir.member_key_path("housing/admin"), "housing/admin", "intl", admin_kp)
    market = net.nodes["market"]
    propose = net.call(
        "market",
        "network",
        "propose",
        {
            "action": "add",
            "dept": "housing",
            "name": "住房和城乡建设局",
            "node_key": node_kp.public.hex(),
            "admin_key": admin_kp.public.hex(),
        },
    )
    r = net.submit(market, [propose])
    assert r.status_code == 200, r.text
    pid = net.tx_status(market, propose.tx_id.hex())["receipt"]["result"]["proposal"]
    for dept in ("tax", "hrss"):  # market + tax + hrss: a majority of 4
        r = net.submit(market, [net.call(dept, "network", "approve", {"proposal": pid})])
        assert r.status_code == 200, r.text
    head = net.wait_converged()
    assert head["departments"] == ["market", "tax", "hrss", "customs", "housing"]
    assert head["quorum"] == 4  # 4 of 5 from now on

    housing = NodeProc(net, "housing")
    net.nodes["housing"] = housing
    housing.start()
    net.wait(lambda: housing.health() is not None, 60, "the new department's node")
    r = net.submit(housing, [net.tx("housing", "housing/first", 1)])
    assert r.status_code == 200, r.text
    head = net.wait_converged()  # five nodes, one state root, certified by 4 of 5
    assert len(net.live()) == 5
    assert head["certified_height"] == head["height"]
    assert "from peer" in housing.log_text()
    # A receipt from now on proves the change: verified offline with genesis alone, its
    # checkpoint counts the new department's signature and needs 4 of the 5.
    tx = net.tx("housing", "housing/second", 2)
    assert net.submit(housing, [tx]).status_code == 200
    net.wait_converged()
    bundle = httpx.get(f"{market.url}/v1/transactions/{tx.tx_id.hex()}/receipt").json()
    assert len(bundle["membership"]) == 1
    verified = verify_bundle(bundle, net.genesis, net.suite)
    assert [d.id for d in verified.departments][-1] == "housing"
    assert len(verified.checkpoint_signers) >= 4
    # The new node got the quorum certificates of the blocks it caught up from its peers, so it
    # serves the same proof of the change itself.
    assert "caught-up blocks from peers" in housing.log_text()
    own = httpx.get(f"{housing.url}/v1/transactions/{tx.tx_id.hex()}/receipt")
    assert own.status_code == 200, own.text
    assert len(own.json()["membership"]) == 1
    assert verify_bundle(own.json(), net.genesis, net.suite).departments[-1].id == "housing"


def test_node_disagreeing_with_the_quorum_stops_and_says_why(net: Net) -> None:
    # The other departments sign a checkpoint with another state root than the one customs
    # computes: customs has diverged. It must stop committing and serving, and report both
    # roots on its health endpoint and in its log.
    node = net.nodes["customs"]
    node.stop()
    r = net.submit(net.nodes["market"], [net.tx("market", "diverge/1", 1)])
    assert r.status_code == 200, r.text
    head = net.wait_converged()
    height = head["height"]
    client = net.etcd.client()
    netdir = NetworkDir(net.root)
    prefix = f"/govchain/{net.genesis.chain_id}/cp/{height:020d}/".encode()
    try:
        for dept in ("market", "tax", "hrss", "housing"):  # 4 of the 5 departments
            raw = client.get(prefix + dept.encode())
            assert raw is not None
            cp = SignedCheckpoint.from_json(orjson.loads(raw)).checkpoint
            forged = dataclasses.replace(cp, state_root=Hash32(b"\x11" * 32))
            key = netdir.node_key(dept).keypair.private
            stmt = sign_checkpoint(net.suite, forged, [(dept, key)])
            client.put(prefix + dept.encode(), canonical_unchecked(stmt.to_json()))
    finally:
        client.close()
    node.start()

    def diverged() -> bool:
        h = node.health()
        return h is not None and h["status"] == "failed"

    net.wait(diverged, 60, "customs to report the divergence")
    h = node.health()
    assert h is not None
    assert h["error"]["code"] == "divergence"
    assert h["error"]["height"] == height
    assert h["error"]["quorum_state_root"] == "11" * 32
    assert h["error"]["local_state_root"] == head["state_root"]
    r = httpx.get(f"{node.url}/v1/kv/diverge/1")
    assert r.status_code == 503  # not served as if nothing happened
    assert "differs from the state root" in node.log_text()


def test_state_altered_on_disk_is_detected_not_served(net: Net) -> None:
    net.nodes["customs"].stop()  # diverged in the previous test
    node = net.nodes["hrss"]
    r = net.submit(net.nodes["market"], [net.tx("market", "before/tamper", 1)])
    assert r.status_code == 200, r.text
    net.wait_converged()
    node.stop()
    path = net.root / "data" / "hrss"
    store = LmdbStore(str(path))
    try:
        buckets = list(store.scan("buckets"))
        assert buckets, "expected stored state buckets"
        key, blob = buckets[0]
        batch = WriteBatch()
        batch.put("buckets", key, bytes([blob[0] ^ 1]) + blob[1:])
        store.commit(batch)
    finally:
        store.close()
    node.start()
    assert node.proc is not None
    assert node.proc.wait(60) == 2
    text = node.log_text()
    assert "integrity check" in text and "state root" in text
    assert node.health() is None  # never served
