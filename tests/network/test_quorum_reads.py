"""Proved reads on a department network while another node takes writes: every ``/v1/kv`` and
``/v1/state`` answer of every node, and ``govchain query``, verifies with the client-side
verifier (a quorum of department signatures on the checkpoint, the proof up to its state root);
and, in process, a node that holds only its own signature of its latest checkpoint waits for
the quorum (bounded) instead of serving it.

Before the fix a node answered with its own latest checkpoint, which only it had signed until
the other departments' signatures arrived a few tenths of a second later: under writes a
verifier failed on and off with "has 1 valid department signature(s); 3 of 4 are required"."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from netkit import Net, NodeProc

from govchain.api import views
from govchain.cli.queries import verify_state_answer
from govchain.contracts.kv import state_key
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.errors import GovchainError, ProofError, Unavailable
from govchain.ledger.checkpoints import sign_checkpoint
from govchain.ledger.genesis import Params
from govchain.ledger.membership import Membership
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node, NodeIdentity
from govchain.node.quorum import holds_quorum
from govchain.ordering.solo import SoloOrderer
from govchain.storage.memory import MemoryStore

COUNTER = "reads/counter"
"""The kv key every write batch sets to the batch's number."""
NEVER = "reads/never-written"
"""A kv key no transaction writes (its absence is proved)."""
READ_SECONDS = 12.0
"""How long every node is read while the writes go on."""


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    n = Net(tmp_path_factory.mktemp("net"))
    try:
        n.start()
        yield n
    finally:
        n.stop()


class Writer:
    """A client submitting batches to one node, one after the other (each acknowledged once
    durable): every batch sets ``COUNTER`` to its number and writes 19 more keys."""

    def __init__(self, net: Net, node: NodeProc) -> None:
        self.net = net
        self.node = node
        self.batches = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        dept = self.node.dept
        i = 0
        while not self._stop.is_set():
            i += 1
            txs = [self.net.tx(dept, COUNTER, i)]
            txs += [self.net.tx(dept, f"reads/{i}/{j}", j) for j in range(19)]
            try:
                r = self.net.submit(self.node, txs, timeout=30)
            except httpx.HTTPError as exc:
                self.errors.append(f"batch {i}: {exc!r}")
                continue
            if r.status_code != 200 or r.json()["accepted"] != len(txs):
                self.errors.append(f"batch {i}: {r.status_code} {r.text[:200]}")
                continue
            self.batches = i


@dataclass
class Reads:
    """What one reader saw on one node."""

    answers: int = 0
    """Answers that verified."""
    failures: list[str] = field(default_factory=list)
    """What was wrong with each answer that did not (status, or the verifier's reason)."""
    as_of: list[int] = field(default_factory=list)
    """The checkpoint height of each ``COUNTER`` answer, in the order they came."""
    counter: list[int] = field(default_factory=list)
    """The proven value of ``COUNTER`` in each answer, in the order they came."""


def read_and_verify(net: Net, node: NodeProc, stop: threading.Event, out: Reads) -> None:
    """Read ``COUNTER`` through ``/v1/kv`` and ``/v1/state`` and ``NEVER``'s absence from
    ``node`` until ``stop``, verifying each answer like ``govchain query`` does."""
    paths = (
        (f"/v1/kv/{COUNTER}", state_key(COUNTER)),
        (f"/v1/state/{state_key(COUNTER).decode()}", state_key(COUNTER)),
        (f"/v1/kv/{NEVER}", state_key(NEVER)),
    )
    with httpx.Client(base_url=node.url, timeout=20.0) as client:
        while not stop.is_set():
            for path, key in paths:
                try:
                    r = client.get(path)
                except httpx.HTTPError as exc:
                    out.failures.append(f"{node.dept} {path}: {exc!r}")
                    continue
                if r.status_code != 200:
                    out.failures.append(f"{node.dept} {path}: {r.status_code} {r.text[:300]}")
                    continue
                doc = r.json()
                try:
                    verified = verify_state_answer(doc, key, net.genesis)
                except GovchainError as exc:
                    out.failures.append(f"{node.dept} {path}: {exc.message}")
                    continue
                if key == state_key(NEVER) and verified.value is not None:
                    out.failures.append(f"{node.dept} {path}: a value for a key never written")
                    continue
                out.answers += 1
                if key != state_key(NEVER) and doc["exists"]:
                    out.as_of.append(verified.checkpoint.checkpoint.height)
                    out.counter.append(doc["value"])


def govchain_query(net: Net, node: NodeProc) -> subprocess.Popen[str]:
    """Start ``govchain query COUNTER`` against ``node`` (it verifies the answer itself)."""
    args = ["query", COUNTER, "--url", node.url, "--network", str(net.root)]
    return subprocess.Popen(
        [sys.executable, "-m", "govchain", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_every_node_serves_quorum_proved_reads_while_another_takes_writes(net: Net) -> None:
    net.wait_converged()
    writer_node = net.nodes["market"]
    others = [n for n in net.nodes.values() if n is not writer_node]
    reads = {dept: Reads() for dept in net.nodes}
    stop = threading.Event()
    with Writer(net, writer_node) as writer:
        net.wait(lambda: writer.batches >= 3, 30, "the first write batches")
        start_batches = writer.batches
        threads = [
            threading.Thread(target=read_and_verify, args=(net, node, stop, reads[dept]))
            for dept, node in net.nodes.items()
        ]
        for t in threads:
            t.start()
        started = time.monotonic()
        try:
            # The CLI on two nodes that do not take the writes, while the reads go on.
            time.sleep(READ_SECONDS / 4)
            queries = [(node, govchain_query(net, node)) for node in others[:2]]
            outputs = [(node, q.communicate(timeout=60)[0], q.returncode) for node, q in queries]
            time.sleep(max(0.0, READ_SECONDS - (time.monotonic() - started)))
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        written = writer.batches - start_batches
    assert not writer.errors, writer.errors[:5]
    assert written >= 10, f"only {written} write batches were committed while reading"

    failures = [f for r in reads.values() for f in r.failures]
    total = sum(r.answers for r in reads.values())
    assert not failures, (
        f"{len(failures)} of {total + len(failures)} answers failed: {failures[:5]}"
    )
    for dept, r in reads.items():
        assert r.answers >= 15, f"{dept}: only {r.answers} answers"
        # The reads saw the writes go on, and never went back in time on one node.
        assert len(set(r.as_of)) >= 3, f"{dept}: answers as of heights {sorted(set(r.as_of))}"
        assert r.as_of == sorted(r.as_of), f"{dept}: answers went back in height"
        assert r.counter == sorted(r.counter), f"{dept}: the counter went back"

    for node, out, code in outputs:
        assert code == 0, f"govchain query on {node.dept}: {out}"
        assert "proof verified against checkpoint at height" in out, out
        assert "signed by 3/4 departments" in out or "signed by 4/4 departments" in out, out


# --- in process: one department's node of a 4-department network, no etcd ------------------


class LoneNode:
    """A ``Node`` signing checkpoints with one department key, as a network node does, whose
    certified height the test moves by merging the other departments' signatures itself
    (``embedded``: every department key signs, as in ``govchain up``)."""

    def __init__(self, root: Path, embedded: bool = False) -> None:
        depts = list(DEMO_DEPARTMENTS[:4])
        self.genesis = init_network(
            root,
            chain_id="reads",
            suite_name="intl",
            departments=depts,
            params=Params(state_buckets=256),
        )
        self.suite = get_suite("intl")
        net = NetworkDir(root)
        self.keys = {d: net.node_key(d).keypair.private for d, _ in depts}
        self.admin = net.member_key("market/admin").keypair.private
        self.nonce = 0
        own = depts[0][0]
        signers = tuple(self.keys.items()) if embedded else ((own, self.keys[own]),)
        self.node = Node(
            store=MemoryStore(),
            genesis=self.genesis,
            suite=self.suite,
            host=builtin_registry(self.genesis, self.suite.hash),
            orderer=SoloOrderer[Transaction](100, 10),
            identity=NodeIdentity(own, self.keys[own], signers),
        )
        if not embedded:  # what ``NetworkNode`` sets up
            members = Membership(self.genesis.departments)
            self.node.certified_height = 0
            self.node.holds_quorum = lambda signed: holds_quorum(signed, members)

    def put(self, key: str, value: int) -> int:
        """Commit one block setting kv ``key``; return its height."""
        self.nonce += 1
        tx = build_transaction(
            chain="reads",
            signer="market/admin",
            nonce=self.nonce,
            contract="kv",
            method="put",
            args={"key": key, "value": value},
            actor="market/admin",
            sign=lambda m: self.suite.sign(self.admin, m),
            hash_fn=self.suite.hash,
        )
        return self.node.commit([tx]).header.header.height

    def certify(self, height: int, departments: list[str]) -> None:
        """Merge ``departments``' signatures of ``height`` and move the certified height."""
        ledger = self.node.ledger
        cp = ledger.checkpoint(height).checkpoint
        signed = sign_checkpoint(self.suite, cp, [(d, self.keys[d]) for d in departments])
        ledger.add_checkpoints_signatures({height: signed.signatures})
        self.node.certified_height = height


@pytest.fixture
def lone(tmp_path: Path) -> Iterator[LoneNode]:
    n = LoneNode(tmp_path)
    try:
        yield n
    finally:
        n.node.close()


def test_a_read_waits_for_the_quorum_of_its_height_and_never_serves_less(lone: LoneNode) -> None:
    key = state_key("permit/1")
    assert lone.put("permit/1", 1) == 1
    # Only this node signed height 1: no answer, after a bounded wait (503 over HTTP).
    started = time.monotonic()
    with pytest.raises(Unavailable, match="height 1") as refused:
        lone.node.state_with_proof(key, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 3.0
    assert refused.value.fields["certified_height"] == 0
    # One more signature is still short of 3 of 4: a certified height never says more than
    # the stored signatures.
    lone.certify(1, ["tax"])
    with pytest.raises(Unavailable):
        lone.node.state_with_proof(key, timeout=0.2)
    # The quorum arrives while the read waits: it answers as of height 1, and verifies.
    timer = threading.Timer(0.3, lone.certify, args=(1, ["hrss"]))
    timer.start()
    doc = views.state(lone.node, key, key.decode())
    timer.join()
    verified = verify_state_answer(doc, key, lone.genesis)
    assert verified.checkpoint.checkpoint.height == 1
    assert sorted(verified.signers) == ["hrss", "market", "tax"]
    assert doc["value"] == 1

    # Height 2 is committed but not certified: a read waits for it rather than answering
    # with height 2's lone signature (the client would refuse it) or mixing heights.
    assert lone.put("permit/1", 2) == 2
    assert lone.node.ledger.checkpoint(2).signatures[0][0] == "market"
    with pytest.raises(Unavailable, match="height 2"):
        lone.node.state_with_proof(key, timeout=0.2)
    lone.certify(2, ["customs", "tax"])
    doc = views.state(lone.node, key, key.decode())
    assert verify_state_answer(doc, key, lone.genesis).checkpoint.checkpoint.height == 2
    assert doc["value"] == 2
    # What a node answered before: its latest checkpoint with its own signature only, which
    # the same verifier refuses.
    own = [s for s in doc["checkpoint"]["signatures"] if s["dept"] == "market"]
    doc["checkpoint"]["signatures"] = own
    with pytest.raises(ProofError, match="3 of 4 are required"):
        verify_state_answer(doc, key, lone.genesis)


def test_the_embedded_node_answers_at_once_its_own_signatures_being_the_quorum(
    tmp_path: Path,
) -> None:
    lone = LoneNode(tmp_path, embedded=True)
    try:
        assert lone.node.certified_height is None
        assert lone.put("permit/1", 7) == 1
        key = state_key("permit/1")
        started = time.monotonic()
        doc = views.state(lone.node, key, key.decode())
        assert time.monotonic() - started < 1.0
        verified = verify_state_answer(doc, key, lone.genesis)
        assert verified.checkpoint.checkpoint.height == 1
        assert len(verified.signers) == 4
        assert doc["value"] == 7
    finally:
        lone.node.close()
