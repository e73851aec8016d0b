"""``govchain verify``'s audit of a store (``ledger/store_audit.py``) against flipped bits.

A real LMDB store is built through the ledger: kv writes, a deletion, a key longer than LMDB's
key limit (stored under a hashed key), a department that joins through the ``network``
contract, then signs checkpoints and proposes a block itself, and blocks large enough for
interior log tiles. A copy of it then gets one flipped bit at a time (restored after each) in
records of every table, in values and in keys, and the audit must report each one naming the
table, the key and the block at fault.

Which flips may pass, and why: only those in ``extra``. Its records (identity accounts, sealed
materials, click logs) are node-local and the ledger commits to nothing about them, so no
audit of the chain can tell a flipped one from a changed one. Every byte of every other table
is live: the audit compares those records byte for byte with the chain it replays, or (for
checkpoints, which the replay cannot sign) parses them, compares them with their block and
verifies every signature; so a flip anywhere in them is reported. (Flips below the ``KVStore``
interface, in LMDB's free pages or unused page tails, change no stored value and pass for that
reason; this test flips stored values and keys.)
"""

from __future__ import annotations

import random
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_net import Net, make_net

from govchain.crypto.suite import KeyPair
from govchain.errors import IntegrityError
from govchain.ledger.audit import check_integrity, verify_chain
from govchain.ledger.blocks import height_key
from govchain.ledger.chain import Ledger
from govchain.ledger.log import TILE_WIDTH, tile_key
from govchain.ledger.receipts import LogEntry
from govchain.ledger.state_proof import bucket_of
from govchain.ledger.store_audit import AuditReport, Fault, audit_store
from govchain.ledger.transactions import Transaction
from govchain.storage.base import TABLES, KVStore, WriteBatch
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore

LONG_KEY = "键" * 200  # 600 bytes of UTF-8: the state table stores it under a hashed key
SAMPLES = 8  # records flipped per table (all of them where a table holds fewer)


@dataclass
class Built:
    """The store built once per module, and what the test needs to know about it."""

    path: Path
    net: Net
    top: int
    log_sizes: list[int]
    """Log size after each block (index = height)."""


def _commit(
    net: Net,
    ledger: Ledger,
    txs: list[Transaction],
    *,
    proposer: str = "market",
    keys: dict[str, KeyPair],
) -> None:
    signer = keys[proposer]
    ledger.commit_block(
        txs,
        timestamp_ms=1_000 + ledger.height,
        proposer=proposer,
        sign_header=lambda m: net.suite.sign(signer.private, m),
        checkpoint_keys=[(d, k.private) for d, k in keys.items()],
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    net = make_net("intl", buckets=64)
    path = tmp_path_factory.mktemp("store") / "data"
    store = LmdbStore(str(path))
    ledger = net.ledger(store)  # type: ignore[arg-type]
    keys = dict(net.node_keys)
    nonce = iter(range(10_000))
    # 300 writes: two tiles of leaves, interior nodes on levels 1..8.
    _commit(net, ledger, [net.tx(next(nonce)) for _ in range(150)], keys=keys)
    _commit(net, ledger, [net.tx(next(nonce)) for _ in range(150)], keys=keys)
    _commit(
        net,
        ledger,
        [
            net.tx(next(nonce), args={"key": LONG_KEY, "value": {"long": True}}),
            net.tx(next(nonce), method="delete", args={"key": "k3"}),
        ],
        keys=keys,
    )
    housing = net.suite.generate_keypair()
    admin = net.suite.generate_keypair()
    propose = net.tx(
        next(nonce),
        signer="market/admin",
        contract="network",
        method="propose",
        args={
            "action": "add",
            "dept": "housing",
            "name": "HOUSING",
            "node_key": housing.public.hex(),
            "admin_key": admin.public.hex(),
        },
    )
    _commit(net, ledger, [propose], keys=keys)
    pid = propose.tx_id[:16].hex()
    approvals = [
        net.tx(next(nonce), signer=s, contract="network", method="approve", args={"proposal": pid})
        for s in ("tax/admin", "hrss/admin")
    ]
    _commit(net, ledger, approvals, keys=keys)
    assert ledger.membership().ids()[-1] == "housing"
    keys["housing"] = housing  # the joined department signs checkpoints from now on
    _commit(net, ledger, [net.tx(next(nonce)) for _ in range(20)], keys=keys)
    _commit(net, ledger, [net.tx(next(nonce)) for _ in range(5)], proposer="housing", keys=keys)
    sizes = [0] + [ledger.header(h).header.log_size for h in range(1, ledger.height + 1)]
    batch = WriteBatch()
    batch.put("extra", b"identity/users/u1", b'{"name":"x"}')
    store.commit(batch)
    top = ledger.height
    store.close()
    return Built(path, net, top, sizes)


@pytest.fixture
def store(built: Built, tmp_path: Path) -> Iterator[LmdbStore]:
    """A copy of the built store."""
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    s = LmdbStore(str(copy))
    try:
        yield s
    finally:
        s.close()


def audit(built: Built, store: KVStore) -> AuditReport:
    return audit_store(store, built.net.ledger(MemoryStore()))


@contextmanager
def changed(store: KVStore, table: str, key: bytes, new_key: bytes, value: bytes) -> Iterator[None]:
    """Replace ``key = old`` by ``new_key = value`` in ``table``, restoring it afterwards."""
    old = store.get(table, key)
    assert old is not None
    batch = WriteBatch()
    if new_key != key:
        batch.delete(table, key)
    batch.put(table, new_key, value)
    store.commit(batch)
    try:
        yield
    finally:
        batch = WriteBatch()
        batch.delete(table, new_key)
        batch.put(table, key, old)
        store.commit(batch)


def flip(data: bytes, rng: random.Random) -> tuple[bytes, int]:
    """Flip one random bit of ``data``; return the result and the byte position."""
    pos = rng.randrange(len(data))
    out = bytearray(data)
    out[pos] ^= 1 << rng.randrange(8)
    return bytes(out), pos


def expected_height(
    built: Built, store: KVStore, table: str, key: bytes, value: bytes, pos: int
) -> int | None:
    """The block the record belongs to, worked out from the record itself."""
    if table in ("blocks", "checkpoints"):
        return int.from_bytes(key, "big")
    if table == "entries":
        return LogEntry.decode(value).height
    if table == "txindex":
        return int.from_bytes(value[:8], "big")
    if table == "state":
        return int.from_bytes(value[-12:-4], "big")
    if table == "history":
        return int.from_bytes(key[:8], "big")
    if table == "meta":
        return 0 if key == b"genesis_hash" else built.top
    if table == "log":
        if key == b"size":
            return built.top
        level, row = key[0], int.from_bytes(key[1:], "big")
        node = row * TILE_WIDTH + pos // 32
        last_leaf = min(((node + 1) << level) - 1, built.log_sizes[-1] - 1)
        return next(h for h, size in enumerate(built.log_sizes) if size > last_leaf)
    assert table == "buckets"
    return bucket_last_write(built, store, int.from_bytes(key, "big"))


def bucket_last_write(built: Built, store: KVStore, bucket: int) -> int:
    """The last block that wrote a key of ``bucket``, from the ledger's own view of its keys."""
    ledger = built.net.ledger(store)  # type: ignore[arg-type]
    h, n = ledger.h, ledger.state.n_buckets
    heights = [v.height for k, v in ledger.state.iter_range() if bucket_of(h(k), n) == bucket]
    # Deleted (short) keys keep a tombstone whose write changed the bucket too.
    for skey, record in store.scan("state"):
        if record[0] & 1 == 0 and bucket_of(h(skey), n) == bucket:
            heights.append(int.from_bytes(record[-12:-4], "big"))
    return max(heights)


def assert_reported(report: AuditReport, table: str, key: bytes, height: int | None) -> Fault:
    assert not report.ok
    matching = [f for f in report.faults if f.table == table and f.key == key]
    assert matching, f"no fault names {table}/{key.hex()}: {report.faults}"
    assert matching[0].height == height, matching[0]
    assert report.error is not None and report.bad_height is not None
    return matching[0]


def test_the_intact_store_passes(built: Built, store: LmdbStore) -> None:
    report = audit(built, store)
    assert report.ok, report.faults
    assert report.height == built.top and report.transactions == built.log_sizes[-1]
    assert report.faults == ()


@pytest.mark.parametrize("table", [t for t in TABLES if t != "extra"])
def test_a_flipped_value_bit_in_every_table_is_reported(
    built: Built, store: LmdbStore, table: str
) -> None:
    rng = random.Random(f"value-{table}")
    records = list(store.scan(table))
    assert records, f"the built store has no {table} records"
    for key, value in rng.sample(records, min(SAMPLES, len(records))):
        bad, pos = flip(value, rng)
        height = expected_height(built, store, table, key, value, pos)
        with changed(store, table, key, key, bad):
            report = audit(built, store)
        fault = assert_reported(report, table, key, height)
        assert f"table {table}, key {key.hex()}" in fault.describe()


@pytest.mark.parametrize("table", [t for t in TABLES if t != "extra"])
def test_a_flipped_key_bit_in_every_table_is_reported(
    built: Built, store: LmdbStore, table: str
) -> None:
    rng = random.Random(f"key-{table}")
    records = list(store.scan(table))
    for key, value in rng.sample(records, min(3, len(records))):
        bad_key, _ = flip(key, rng)
        with changed(store, table, key, bad_key, value):
            report = audit(built, store)
        assert not report.ok
        named = {(f.table, f.key) for f in report.faults}
        # The record is missing under its key, or (where the replay did not stop first) there
        # is a stray one under the flipped key.
        assert (table, key) in named or (table, bad_key) in named, report.faults


def test_interior_log_tiles_are_checked(built: Built, store: LmdbStore) -> None:
    # The startup check reads leaves and the roots of block sizes only; the audit compares
    # every node of every level.
    rng = random.Random("tiles")
    interior = [(k, v) for k, v in store.scan("log") if len(k) == 9 and k[0] >= 1]
    assert len({k[0] for k, _ in interior}) >= 5
    for key, value in interior:
        bad, pos = flip(value, rng)
        with changed(store, "log", key, key, bad):
            report = audit(built, store)
        fault = assert_reported(
            report, "log", key, expected_height(built, store, "log", key, value, pos)
        )
        assert f"tile ({key[0]}, {int.from_bytes(key[1:], 'big')})" in fault.reason


def test_checkpoint_signatures_are_verified_one_hex_digit_at_a_time(
    built: Built, store: LmdbStore
) -> None:
    # The defect this answers: one hex digit of a stored signature changed (still valid hex,
    # canonical JSON, the same statement) passed ``verify``.
    for height in (1, built.top):  # signed by genesis departments; then also by "housing"
        key = height_key(height)
        raw = store.get("checkpoints", key)
        assert raw is not None
        at = raw.index(b'"signature":"') + len('"signature":"') + 7
        digit = raw[at : at + 1]
        other = b"0" if digit != b"0" else b"1"
        with changed(store, "checkpoints", key, key, raw[:at] + other + raw[at + 1 :]):
            report = audit(built, store)
        fault = assert_reported(report, "checkpoints", key, height)
        assert "does not verify" in fault.reason
    assert b'"dept":"housing"' in (store.get("checkpoints", height_key(built.top)) or b"")


def test_every_fault_is_listed_not_only_the_first(built: Built, store: LmdbStore) -> None:
    flips = [
        ("buckets", next(store.scan("buckets"))),
        ("history", next(store.scan("history", reverse=True))),
        ("txindex", next(store.scan("txindex"))),
    ]
    rng = random.Random("many")
    batch = WriteBatch()
    for table, (key, value) in flips:
        batch.put(table, key, flip(value, rng)[0])
    store.commit(batch)
    report = audit(built, store)
    assert {(f.table, f.key) for f in report.faults} == {(t, kv[0]) for t, kv in flips}


def test_a_flip_in_node_local_records_passes(built: Built, store: LmdbStore) -> None:
    # ``extra`` holds node-local records the ledger commits to nothing about: not checkable.
    key, value = next(store.scan("extra"))
    with changed(store, "extra", key, key, flip(value, random.Random(1))[0]):
        assert audit(built, store).ok


def test_another_networks_store_is_not_replayed(built: Built, store: LmdbStore) -> None:
    other = make_net("intl", buckets=64)
    report = audit_store(store, other.ledger(MemoryStore()))
    assert not report.ok and len(report.faults) == 1
    assert report.faults[0].table == "meta" and "another network" in report.faults[0].reason


def test_verify_chain_audits_the_tables_too(built: Built, store: LmdbStore) -> None:
    key, value = next(store.scan("history"))
    with changed(store, "history", key, key, flip(value, random.Random(2))[0]):
        report = verify_chain(built.net.ledger(store), built.net.ledger())  # type: ignore[arg-type]
    assert_reported(report, "history", key, 0)


def test_the_startup_check_names_the_log_tile_at_fault(built: Built, store: LmdbStore) -> None:
    # Node 0 of level 8 is the root of the first 256 leaves, completed by block 2; the log root
    # of block 2's header is made of it, so the startup check finds it too.
    key = tile_key(8, 0)
    value = store.get("log", key) or b""
    bad = bytes([value[0] ^ 1]) + value[1:]
    with changed(store, "log", key, key, bad), pytest.raises(IntegrityError) as caught:
        check_integrity(built.net.ledger(store))  # type: ignore[arg-type]
    fields = caught.value.fields
    assert (fields["table"], fields["key"], fields["height"]) == ("log", key.hex(), 2)
    assert "node 0 of level 8 is not the hash of its two children" in caught.value.message


def test_damage_to_lmdbs_own_structure_is_reported_or_unreachable(
    built: Built, tmp_path: Path
) -> None:
    # One branch page at a time gets a child page number far beyond the file (LMDB 0.9's
    # on-disk format, see tests/storage/test_lmdb_damage.py). A page still in the tree makes
    # that table unreadable: reported as a fault naming it. A page LMDB freed (copy-on-write
    # left it behind) is dead bytes: the audit passes, and so it must.
    data = (built.path / "data.mdb").read_bytes()
    branches = [
        offset
        for offset in range(2 * 4096, len(data), 4096)
        if struct.unpack_from("<H", data, offset + 10)[0] == 0x01
    ]
    assert branches
    reported = 0
    for offset in branches:
        copy = tmp_path / f"page-{offset}"
        shutil.copytree(built.path, copy)
        damaged = bytearray(data)
        (node,) = struct.unpack_from("<H", damaged, offset + 16)
        struct.pack_into("<H", damaged, offset + node + 4, 0xFFFF)
        (copy / "data.mdb").write_bytes(bytes(damaged))
        store = LmdbStore(str(copy), readonly=True)
        try:
            report = audit(built, store)
        finally:
            store.close()
        if not report.ok:
            fault = report.faults[0]
            assert fault.table in TABLES and "damaged" in fault.reason, fault
            reported += 1
    assert reported, "no branch page in use was found"
