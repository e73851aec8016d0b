"""World state: a stateful comparison with a dict model, proofs with tampering, reopening.

The reference root below is written from the definition in ``govchain.ledger.state`` with
``hashlib`` and explicit RFC 6962 prefixes, sharing no code with the implementation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from govchain.errors import (
    IntegrityError,
    ProofError,
    RootMismatch,
    SchemaViolation,
    TooLarge,
)
from govchain.ledger.state import StateWrite, VersionedValue, WorldState
from govchain.ledger.state_proof import StateProof, verify_state_proof
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(values: dict[bytes, bytes], n_buckets: int) -> bytes:
    """The state root from its definition, for live ``key -> value``."""
    buckets: list[list[bytes]] = [[] for _ in range(n_buckets)]
    for key, value in values.items():
        kh = hashlib.sha256(key).digest()
        buckets[int.from_bytes(kh[:4], "big") % n_buckets].append(kh + h(value))
    level = [h(b"\x00" + b"".join(sorted(entries))) for entries in buckets]
    while len(level) > 1:
        level = [h(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def commit_block(
    ws: WorldState, store: MemoryStore | LmdbStore, writes: list[StateWrite], height: int
) -> bytes:
    batch = WriteBatch()
    root = ws.stage(batch, writes, height)
    store.commit(batch)
    ws.commit_staged()
    assert ws.root == root
    return root


def w(key: bytes, value: bytes | None, tx_index: int = 0) -> StateWrite:
    return StateWrite(key, value, tx_index, b"tx%d" % tx_index)


HEAD = b"H" * 448  # keys longer than this are stored under head + H(key)
KEY_POOL = [
    b"a",
    b"a\x00",
    b"a\x00\x00",
    b"ab",
    b"\x00",
    b"\xff" * 3,
    b"k" * 447,
    HEAD,
    HEAD + b"\x00",
    HEAD + b"z",
    HEAD + b"a" * 300,
    HEAD + b"b",
    b"G" * 1024,
]
PREFIXES = [b"", b"a", b"a\x00", b"\xff", HEAD[:10], HEAD, HEAD + b"a", b"G" * 500, b"nothing"]


# --- stateful comparison ------------------------------------------------------------------


class StateMachine(RuleBasedStateMachine):
    """WorldState over MemoryStore against a dict of current values and version lists."""

    n_buckets = 4

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.ws = WorldState(self.store, h, self.n_buckets)
        self.history: dict[bytes, list[VersionedValue]] = {}
        self.pending: list[StateWrite] = []
        self.height = 0

    @initialize()
    def empty_root_is_reference(self) -> None:
        assert self.ws.root == reference_root({}, self.n_buckets)

    def live(self) -> dict[bytes, bytes]:
        return {
            k: versions[-1].value
            for k, versions in self.history.items()
            if versions[-1].value is not None
        }

    @rule(key=st.sampled_from(KEY_POOL), value=st.binary(max_size=40) | st.none())
    def write(self, key: bytes, value: bytes | None) -> None:
        i = len(self.pending)
        self.pending.append(StateWrite(key, value, i, b"t%d" % (i * 7 % 5)))

    @rule()
    def commit(self) -> None:
        self.height += 1
        root = commit_block(self.ws, self.store, self.pending, self.height)
        for pw in self.pending:
            versions = self.history.setdefault(pw.key, [])
            versions.append(
                VersionedValue(pw.value, len(versions) + 1, self.height, pw.tx_index, pw.tx_id)
            )
        self.pending = []
        assert root == reference_root(self.live(), self.n_buckets)

    @rule()
    def discard(self) -> None:
        before = self.ws.root
        new_root = self.ws.stage(WriteBatch(), self.pending, self.height + 1)
        with pytest.raises(RuntimeError):
            self.ws.stage(WriteBatch(), self.pending, self.height + 1)
        self.ws.discard_staged()
        assert self.ws.root == before
        # What the block would have produced, had it been committed.
        model = self.live()
        for pw in self.pending:
            if pw.value is None:
                model.pop(pw.key, None)
            else:
                model[pw.key] = pw.value
        assert new_root == reference_root(model, self.n_buckets)
        self.pending = []

    @precondition(lambda self: not self.pending)
    @rule()
    def reopen(self) -> None:
        root, count = self.ws.root, self.ws.count()
        self.ws = WorldState(self.store, h, self.n_buckets)
        assert (self.ws.root, self.ws.count()) == (root, count)

    @invariant()
    def matches_model(self) -> None:
        live = self.live()
        assert self.ws.root == reference_root(live, self.n_buckets)
        assert self.ws.count() == len(live)
        for key in KEY_POOL:
            versions = self.history.get(key, [])
            assert self.ws.get(key) == (versions[-1] if versions else None)
            assert self.ws.get_value(key) == live.get(key)
            assert self.ws.history(key) == versions[::-1]
            assert self.ws.history(key, limit=2) == versions[::-1][:2]
        for prefix in PREFIXES:
            want = sorted((k, v[-1]) for k, v in self.history.items() if k in live)
            want = [(k, vv) for k, vv in want if k.startswith(prefix)]
            assert list(self.ws.iter_range(prefix)) == want, prefix


class OneBucketMachine(StateMachine):
    n_buckets = 1


class ManyBucketsMachine(StateMachine):
    n_buckets = 64


_machine_settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStateMachine = StateMachine.TestCase
TestStateMachine.settings = _machine_settings
TestOneBucket = OneBucketMachine.TestCase
TestOneBucket.settings = _machine_settings
TestManyBuckets = ManyBucketsMachine.TestCase
TestManyBuckets.settings = _machine_settings


# --- versions and staging -----------------------------------------------------------------


def test_versions_within_and_across_blocks() -> None:
    store = MemoryStore()
    ws = WorldState(store, h, 16)
    commit_block(ws, store, [w(b"k", b"1", 0), w(b"k", b"2", 1), w(b"j", None, 2)], 1)
    assert ws.get(b"k") == VersionedValue(b"2", 2, 1, 1, b"tx1")
    assert ws.get(b"j") == VersionedValue(None, 1, 1, 2, b"tx2")  # deleting nothing is a version
    commit_block(ws, store, [w(b"k", None, 0), w(b"j", b"", 1)], 2)
    commit_block(ws, store, [w(b"k", b"3", 5)], 3)
    assert [v.version for v in ws.history(b"k")] == [4, 3, 2, 1]
    assert [v.value for v in ws.history(b"k")] == [b"3", None, b"2", b"1"]
    assert ws.get(b"j") == VersionedValue(b"", 2, 2, 1, b"tx1")
    assert ws.count() == 2
    assert ws.root == reference_root({b"k": b"3", b"j": b""}, 16)


def test_staging_protocol() -> None:
    store = MemoryStore()
    ws = WorldState(store, h, 16)
    with pytest.raises(RuntimeError):
        ws.commit_staged()
    ws.discard_staged()  # nothing staged: harmless
    batch = WriteBatch()
    batch.put("state", b"x", b"y")
    with pytest.raises(RuntimeError):
        ws.stage(batch, [w(b"k", b"v")], 1)
    empty_root = ws.root
    assert commit_block(ws, store, [], 1) == empty_root


def test_rejects_bad_keys_and_fields() -> None:
    ws = WorldState(MemoryStore(), h, 16)
    with pytest.raises(SchemaViolation):
        ws.stage(WriteBatch(), [w(b"", b"v")], 1)
    with pytest.raises(TooLarge):
        ws.stage(WriteBatch(), [w(b"x" * 1025, b"v")], 1)
    with pytest.raises(SchemaViolation):
        ws.stage(WriteBatch(), [w(b"k", b"v", tx_index=-1)], 1)
    with pytest.raises(SchemaViolation):
        ws.stage(WriteBatch(), [StateWrite(b"k", b"v", 0, b"x" * 70000)], 1)
    with pytest.raises(TooLarge):
        ws.get(b"x" * 1025)
    with pytest.raises(ValueError):
        WorldState(MemoryStore(), h, 3)


def test_reopen_on_lmdb_gives_same_root(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path)
    ws = WorldState(store, h, 256)
    model: dict[bytes, bytes] = {}
    for height in range(1, 6):
        writes = [w(b"key-%d-%d" % (height, i), b"v%d" % i, i) for i in range(200)]
        writes += [w(b"key-%d-%d" % (height - 1, i), None, 200 + i) for i in range(0, 200, 3)]
        writes.append(w(HEAD + b"long-%d" % height, b"L", 999))
        commit_block(ws, store, writes, height)
        for x in writes:
            if x.value is None:
                model.pop(x.key, None)
            else:
                model[x.key] = x.value
    root = ws.root
    assert root == reference_root(model, 256)
    store.close()
    store = LmdbStore(tmp_path)
    ws = WorldState(store, h, 256)
    assert ws.root == root
    assert ws.count() == len(model)
    assert ws.get(b"key-5-7") == VersionedValue(b"v7", 1, 5, 7, b"tx7")
    assert [k for k, _ in ws.iter_range(HEAD)] == [HEAD + b"long-%d" % i for i in range(1, 6)]
    with pytest.raises(IntegrityError):
        WorldState(store, h, 512)  # the bucket count is fixed at genesis
    store.close()


# --- proofs -------------------------------------------------------------------------------


def build(n_buckets: int, n_keys: int) -> tuple[WorldState, dict[bytes, bytes]]:
    store = MemoryStore()
    ws = WorldState(store, h, n_buckets)
    values = {b"key%d" % i: b"value%d" % i for i in range(n_keys)}
    commit_block(ws, store, [w(k, v) for k, v in values.items()], 1)
    return ws, values


def flip(b: bytes, bit: int = 0) -> bytes:
    return b[: bit // 8] + bytes([b[bit // 8] ^ (1 << bit % 8)]) + b[bit // 8 + 1 :]


Tamper = Callable[[StateProof], StateProof]
TAMPERS: dict[str, Tamper] = {
    "flip entry bit": lambda p: replace(p, entries=(flip(p.entries[0], 300), *p.entries[1:])),
    "flip key hash bit": lambda p: replace(p, entries=(flip(p.entries[-1], 3), *p.entries[:-1])),
    "reorder entries": lambda p: replace(p, entries=p.entries[::-1]),
    "drop entry": lambda p: replace(p, entries=p.entries[1:]),
    "duplicate entry": lambda p: replace(p, entries=(p.entries[0], *p.entries)),
    "short entry": lambda p: replace(p, entries=(p.entries[0][:63], *p.entries[1:])),
    "wrong bucket": lambda p: replace(p, bucket=p.bucket ^ 1),
    "truncated path": lambda p: replace(p, path=p.path[:-1]),
    "longer path": lambda p: replace(p, path=(*p.path, p.path[0])),
    "flip path bit": lambda p: replace(p, path=(flip(p.path[0], 9), *p.path[1:])),
    "short path hash": lambda p: replace(p, path=(p.path[0][:31], *p.path[1:])),
}


@pytest.mark.parametrize("n_buckets", [4, 256])
def test_proofs_verify_for_present_and_absent_keys(n_buckets: int) -> None:
    ws, values = build(n_buckets, 40)
    for key, value in values.items():
        verify_state_proof(h, ws.root, key, value, ws.prove(key), n_buckets)
    for i in range(40):
        key = b"absent%d" % i
        verify_state_proof(h, ws.root, key, None, ws.prove(key), n_buckets)


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tampered_proofs_fail(name: str) -> None:
    ws, values = build(4, 40)  # ~10 entries per bucket: every tamper has material
    cases = [(b"key7", values[b"key7"]), (b"absent", None)]
    for key, value in cases:
        proof = TAMPERS[name](ws.prove(key))
        with pytest.raises(ProofError):
            verify_state_proof(h, ws.root, key, value, proof, 4)


def test_false_claims_fail() -> None:
    ws, values = build(4, 40)
    present = ws.prove(b"key3")
    with pytest.raises(ProofError):  # wrong value
        verify_state_proof(h, ws.root, b"key3", b"value4", present, 4)
    with pytest.raises(ProofError):  # present key claimed absent
        verify_state_proof(h, ws.root, b"key3", None, present, 4)
    absent = ws.prove(b"nope")
    with pytest.raises(ProofError):  # absent key claimed present
        verify_state_proof(h, ws.root, b"nope", b"x", absent, 4)
    with pytest.raises(RootMismatch):  # another root
        verify_state_proof(h, flip(ws.root), b"key3", values[b"key3"], present, 4)
    with pytest.raises(ProofError):  # another bucket count
        verify_state_proof(h, ws.root, b"key3", values[b"key3"], present, 8)
    # A forged entry for the absent key, correctly placed, still has to match the root.
    kh = h(b"nope")
    forged = tuple(sorted((*absent.entries, kh + h(b"x"))))
    with pytest.raises(RootMismatch):
        verify_state_proof(h, ws.root, b"nope", b"x", replace(absent, entries=forged), 4)


@settings(max_examples=40, deadline=None)
@given(
    keys=st.sets(st.binary(min_size=1, max_size=12), max_size=30),
    probe=st.binary(min_size=1, max_size=12),
    bit=st.integers(min_value=0),
)
def test_any_bit_flip_breaks_a_proof(keys: set[bytes], probe: bytes, bit: int) -> None:
    store = MemoryStore()
    ws = WorldState(store, h, 8)
    commit_block(ws, store, [w(k, k[::-1]) for k in sorted(keys)], 1)
    value = probe[::-1] if probe in keys else None
    proof = ws.prove(probe)
    verify_state_proof(h, ws.root, probe, value, proof, 8)
    parts = [*proof.entries, *proof.path]
    total_bits = sum(8 * len(x) for x in parts)
    bit %= total_bits
    for i, part in enumerate(parts):
        if bit < 8 * len(part):
            parts[i] = flip(part, bit)
            break
        bit -= 8 * len(part)
    n = len(proof.entries)
    tampered = replace(proof, entries=tuple(parts[:n]), path=tuple(parts[n:]))
    with pytest.raises(ProofError):
        verify_state_proof(h, ws.root, probe, value, tampered, 8)


def test_proof_json_round_trip() -> None:
    ws, _ = build(16, 30)
    proof = ws.prove(b"key1")
    text = json.dumps(proof.to_json())
    assert StateProof.from_json(json.loads(text)) == proof
    good = proof.to_json()
    bads: list[Any] = [
        [],
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "path"},
        {**good, "bucket": True},
        {**good, "bucket": -1},
        {**good, "entries": "00"},
        {**good, "entries": ["zz"]},
        {**good, "path": [1]},
    ]
    for bad in bads:
        with pytest.raises(SchemaViolation):
            StateProof.from_json(bad)


def test_prove_against_lmdb_store(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path)
    ws = WorldState(store, h, 1024)
    commit_block(ws, store, [w(b"k%d" % i, b"v%d" % i) for i in range(500)], 1)
    proof = ws.prove(b"k42")
    verify_state_proof(h, ws.root, b"k42", b"v42", proof, 1024)
    assert len(proof.path) == 10
    store.close()
