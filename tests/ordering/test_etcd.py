"""The etcd block log against a real etcd cluster (3 members on free loopback ports): lease
election, compare-and-swap append, queue batches used exactly once, clear unavailability."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from govchain.errors import NotProposer, OrderingUnavailable
from govchain.ordering.etcd import BlockLog, EtcdOrderer
from govchain.ordering.etcd_client import WATCH_IDLE_S, EtcdClient, op_delete, prefix_end
from govchain.ordering.etcd_cluster import MAX_TXN_OPS, EtcdCluster, member_environment


@pytest.fixture
def client(cluster: EtcdCluster) -> Iterator[EtcdClient]:
    c = cluster.client()
    try:
        yield c
    finally:
        c.close()


def test_prefix_end() -> None:
    assert prefix_end(b"a/") == b"a0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\x00"


def test_one_proposer_at_a_time_and_takeover(
    client: EtcdClient, request: pytest.FixtureRequest
) -> None:
    chain = request.node.name[:20].replace("_", "-")
    a, b = BlockLog(client, chain, "a"), BlockLog(client, chain, "b")
    assert a.campaign(ttl=2)
    assert not b.campaign(ttl=2)
    assert a.leader() == "a"
    a.resign()
    assert b.campaign(ttl=2)
    assert b.leader() == "b"
    # b's lease expires if not renewed: a can take over.
    b.lease = 0  # b stops renewing (as if its process died)
    deadline = time.monotonic() + 10
    while not a.campaign(ttl=2):
        assert time.monotonic() < deadline, "the lease did not expire"
        time.sleep(0.2)
    assert a.leader() == "a"


def test_append_needs_the_lease_and_the_height(client: EtcdClient) -> None:
    a, b = BlockLog(client, "cas", "a"), BlockLog(client, "cas", "b")
    assert a.campaign()
    a.append(1, b"block-1", [])
    with pytest.raises(NotProposer):
        a.append(1, b"again", [])  # height 1 is taken
    with pytest.raises(NotProposer):
        a.append(3, b"gap", [])  # the log ends at 1
    stale = a.lease
    a.resign()
    assert b.campaign()
    a.lease = stale  # a stale proposer still believing it holds the lease
    with pytest.raises(NotProposer):
        a.append(2, b"from-a", [])
    b.append(2, b"from-b", [])
    assert b.height() == 2
    assert b.blocks(1, 10) == [(1, b"block-1"), (2, b"from-b")]
    b.resign()


def test_queued_batches_are_used_by_exactly_one_block(client: EtcdClient) -> None:
    a = BlockLog(client, "queue", "a")
    other = BlockLog(client, "queue", "b")
    other.enqueue([(2, b'["t1","t2"]')])
    a.enqueue([(1, b'["t3"]'), (3, b'["t4","t5","t6"]')])
    keys, total = a.queued(max_items=3)
    assert total == 6
    assert len(keys) == 2  # oldest first, about max_items transactions
    assert a.read(keys) == [b'["t1","t2"]', b'["t3"]']
    assert a.campaign()
    a.append(1, b"b1", keys)
    keys2, total2 = a.queued(max_items=100)
    assert total2 == 3 and a.read(keys2) == [b'["t4","t5","t6"]']
    a.resign()


def test_orderer_hands_batches_to_the_proposer_only(client: EtcdClient) -> None:
    log = BlockLog(client, "orderer", "a")
    proposing = [False]
    orderer: EtcdOrderer[str] = EtcdOrderer(
        log,
        encode=orjson.dumps,
        decode=str,
        keep=lambda items: [i for i in items if i != "dup"],
        may_propose=lambda: proposing[0],
        max_items=10,
        max_wait_ms=20,
    )
    orderer.submit(["x", "dup", "y"])
    assert orderer.next_batch(0.2) == []  # not the proposer
    proposing[0] = True
    assert orderer.next_batch(2.0) == ["x", "y"]
    assert len(orderer.taken) == 1
    orderer.close()
    with pytest.raises(Exception, match="stopped"):
        orderer.submit(["z"])


def test_no_cluster_is_ordering_unavailable() -> None:
    c = EtcdClient(["http://127.0.0.1:9"], timeout=0.5)
    try:
        with pytest.raises(OrderingUnavailable) as err:
            BlockLog(c, "x", "a").height()
        assert err.value.code == "ordering_unavailable"
    finally:
        c.close()


def test_blocks_and_batches_are_stored_compressed(client: EtcdClient) -> None:
    a = BlockLog(client, "packed", "a")
    block = b'{"header":{},"txs":[' + b",".join([b'{"body":{"k":"v"}}'] * 200) + b"]}"
    assert a.campaign()
    a.append(1, block, [])
    stored = client.get(a.k_blocks + b"%020d" % 1)
    assert stored is not None and stored[:1] == b"\x78" and len(stored) < len(block) // 4
    assert a.blocks(1, 5) == [(1, block)]
    # A value written uncompressed (by an older node) is read as it is.
    client.put(a.k_blocks + b"%020d" % 2, b'{"header":{},"txs":[]}')
    assert a.blocks(2, 1) == [(2, b'{"header":{},"txs":[]}')]
    a.enqueue([(1, b'["t1"]')])
    keys, _ = a.queued(10)
    assert a.read(keys) == [b'["t1"]']
    a.resign()


def test_orderer_drops_queued_items_that_do_not_decode(client: EtcdClient) -> None:
    log = BlockLog(client, "garbage", "a")
    orderer: EtcdOrderer[int] = EtcdOrderer(
        log,
        encode=orjson.dumps,
        decode=lambda v: v if type(v) is int else int("not a number"),
        keep=lambda items: items,
        may_propose=lambda: True,
        max_items=10,
        max_wait_ms=1,
    )
    log.enqueue([(3, b'[1,"x",2]'), (1, b"not json")])
    assert orderer.next_batch(2.0) == [1, 2]
    orderer.close()


def test_a_queued_batch_wakes_the_waiting_proposer(client: EtcdClient) -> None:
    log = BlockLog(client, "wake", "a")
    orderer: EtcdOrderer[str] = EtcdOrderer(
        log,
        encode=orjson.dumps,
        decode=str,
        keep=lambda items: items,
        may_propose=lambda: True,
        max_items=1,
        max_wait_ms=1,
        poll_s=60.0,  # without the wake-up it would not look again before its timeout
    )
    got: list[list[str]] = []
    waiter = threading.Thread(target=lambda: got.append(orderer.next_batch(20.0)))
    waiter.start()
    time.sleep(0.3)  # the proposer found an empty queue and waits
    started = time.monotonic()
    orderer.submit(["x"])
    orderer.wake()  # what the watch on the ``queued`` key does
    waiter.join(30)
    assert got == [["x"]]
    assert time.monotonic() - started < 10.0
    orderer.close()


def test_a_later_batch_never_overtakes_one_that_does_not_fit(client: EtcdClient) -> None:
    # One client's batches, in order: 3, 2, 1 transactions. With room for 4, the block takes
    # the first only; the third would fit beside it but must wait for the second.
    a = BlockLog(client, "fifo", "a")
    a.enqueue([(3, b'["n1","n2","n3"]'), (2, b'["n4","n5"]'), (1, b'["n6"]')])
    keys, total = a.queued(max_items=4)
    assert total == 6
    assert a.read(keys) == [b'["n1","n2","n3"]']


def test_members_sharing_a_machine_share_its_cores(cluster: EtcdCluster) -> None:
    # Each running member's Go runtime got its share of this machine's cores.
    share = str(max(1, (os.cpu_count() or 1) // len(cluster.members)))
    for m in cluster.members:
        assert m.pid is not None
        with open(f"/proc/{m.pid}/environ", "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        assert env[b"GOMAXPROCS"] == share.encode()


def test_a_gomaxprocs_already_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMAXPROCS", "7")
    assert member_environment(3)["GOMAXPROCS"] == "7"
    monkeypatch.delenv("GOMAXPROCS")
    assert member_environment(10_000)["GOMAXPROCS"] == "1"


def test_watch_fires_on_changes_and_stays_connected_while_idle(client: EtcdClient) -> None:
    calls: list[float] = []
    fired = threading.Event()

    def on_event() -> None:
        calls.append(time.monotonic())
        fired.set()

    stop = threading.Event()
    t = threading.Thread(target=client.watch, args=(b"/w/", on_event, stop), daemon=True)
    t.start()
    try:
        time.sleep(0.5)  # the stream is open
        client.put(b"/w/a", b"1")
        assert fired.wait(5)
        # Idle for longer than the read deadline: the members' progress notifications keep
        # the stream open, so the watcher is not woken by reconnections.
        seen = len(calls)
        time.sleep(WATCH_IDLE_S + 1.5)
        assert len(calls) == seen
        client.put(b"/x/other", b"1")  # outside the prefix
        time.sleep(0.5)
        assert len(calls) == seen
        client.put(b"/w/b", b"2")
        deadline = time.monotonic() + 5
        while len(calls) == seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) == seen + 1
    finally:
        stop.set()
        t.join(WATCH_IDLE_S + 2)
    assert not t.is_alive()


def test_watch_on_a_member_that_loses_its_leader_reconnects(tmp_path: Path) -> None:
    own = EtcdCluster(tmp_path / "etcd")
    own.start()
    client = own.client([own.members[0].client_url], timeout=1.0)
    calls: list[float] = []
    stop = threading.Event()
    t = threading.Thread(
        target=client.watch, args=(b"/w/", lambda: calls.append(time.monotonic()), stop)
    )
    try:
        t.start()
        time.sleep(1.0)
        assert calls == []
        own.kill_member(own.members[1])
        own.kill_member(own.members[2])
        lost = time.monotonic()
        # Progress notifications would keep the stream open; "no leader" ends it.
        deadline = lost + 15
        while not calls and time.monotonic() < deadline:
            time.sleep(0.1)
        assert calls, "the watch stayed on a member without a leader"
    finally:
        stop.set()
        t.join(10)
        client.close()
        own.stop()


def test_a_request_the_cluster_refuses_is_reported_at_once(client: EtcdClient) -> None:
    too_many = [op_delete(b"/many/%d" % i) for i in range(MAX_TXN_OPS + 1)]
    started = time.monotonic()
    with pytest.raises(OrderingUnavailable, match=r"INVALID_ARGUMENT .*too many operations"):
        client.txn([], too_many)
    assert time.monotonic() - started < 2.0  # not retried until the 5 s deadline


def test_revoking_an_unknown_lease_is_reported_at_once(client: EtcdClient) -> None:
    started = time.monotonic()
    with pytest.raises(OrderingUnavailable, match="NOT_FOUND"):
        client.lease_revoke(0x7FFF_FFFF_FFFF)
    assert time.monotonic() - started < 2.0


def test_a_closed_client_is_unavailable(cluster: EtcdCluster) -> None:
    c = cluster.client()
    c.put(b"/closed/k", b"v")
    c.close()
    with pytest.raises(OrderingUnavailable, match="stopping"):
        c.get(b"/closed/k")
