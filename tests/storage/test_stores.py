"""Behaviour every ``KVStore`` shares (MemoryStore and LmdbStore), plus LMDB's durability.

The kill -9 test runs a child process that commits numbered batches and prints each number
once ``commit`` returned; the parent kills it mid-stream and checks every acknowledged batch
survived and no batch is half applied.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.errors import Forbidden, NotFound, SchemaViolation, TooLarge, Unavailable
from govchain.storage import lmdb as lmdb_store
from govchain.storage.base import TABLES, KVStore, WriteBatch
from govchain.storage.factory import open_store
from govchain.storage.lmdb import LmdbStore
from govchain.storage.memory import MemoryStore

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(params=["memory", "lmdb", "lmdb-chunk2", "lmdb-writer"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    """Each backend; ``lmdb-chunk2`` makes every scan cross read-transaction chunks,
    ``lmdb-writer`` has every commit written by the writer process."""
    s: KVStore
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "lmdb":
        s = LmdbStore(tmp_path / "db")
    elif request.param == "lmdb-writer":
        s = LmdbStore(tmp_path / "db", writer_process=True)
    else:
        s = LmdbStore(tmp_path / "db", scan_chunk=2)
    yield s
    s.close()


def _commit(store: KVStore, table: str, items: dict[bytes, bytes | None]) -> None:
    batch = WriteBatch()
    for k, v in items.items():
        if v is None:
            batch.delete(table, k)
        else:
            batch.put(table, k, v)
    store.commit(batch)


def _active_readers(store: LmdbStore) -> list[str]:
    lines = store._env.readers().splitlines()[1:]
    return [line for line in lines if line.split()[-1] != "-"]


# --- shared behaviour ---------------------------------------------------------------------


def test_put_get_delete(store: KVStore) -> None:
    for table in TABLES:
        assert store.get(table, b"k") is None
    _commit(store, "state", {b"a": b"1", b"b": b"", b"c": b"3" * 5000})
    assert store.get("state", b"a") == b"1"
    assert store.get("state", b"b") == b""
    assert store.get("state", b"c") == b"3" * 5000
    assert store.get("blocks", b"a") is None  # tables are separate
    _commit(store, "state", {b"a": None, b"c": b"new", b"never-there": None})
    assert store.get("state", b"a") is None
    assert store.get("state", b"c") == b"new"
    assert list(store.scan("state")) == [(b"b", b""), (b"c", b"new")]


def test_batch_spans_tables_and_later_ops_win(store: KVStore) -> None:
    batch = WriteBatch()
    batch.put("blocks", b"\x00" * 8, b"block")
    batch.put("meta", b"head", b"1")
    batch.put("meta", b"tmp", b"x")
    batch.delete("meta", b"tmp")
    batch.delete("meta", b"head2")
    batch.put("meta", b"head2", b"2")
    store.commit(batch)
    assert store.get("blocks", b"\x00" * 8) == b"block"
    assert store.get("meta", b"tmp") is None
    assert store.get("meta", b"head2") == b"2"
    store.commit(WriteBatch())  # an empty batch is fine


def test_commit_is_atomic_with_unknown_table(store: KVStore) -> None:
    _commit(store, "state", {b"keep": b"old"})
    batch = WriteBatch()
    batch.put("state", b"keep", b"new")
    batch.put("state", b"other", b"x")
    batch.delete("state", b"keep2")
    batch.put("no-such-table", b"k", b"v")
    batch.put("meta", b"m", b"v")
    with pytest.raises(KeyError):
        store.commit(batch)
    assert store.get("state", b"keep") == b"old"
    assert store.get("state", b"other") is None
    assert store.get("meta", b"m") is None


def test_append_fast_path_and_random_puts_mix(store: KVStore) -> None:
    # Keys below, between and beyond existing ones in one commit, plus deletes of the last key.
    _commit(store, "log", {bytes([i]): bytes([i]) for i in range(0, 200, 10)})
    _commit(
        store,
        "log",
        {
            **{bytes([i]): b"n" for i in range(5, 250, 10)},
            bytes([190]): None,
            bytes([0]): b"over",
        },
    )
    expected = {bytes([i]): bytes([i]) for i in range(0, 190, 10)}
    expected.update({bytes([i]): b"n" for i in range(5, 250, 10)})
    expected[bytes([0])] = b"over"
    assert list(store.scan("log")) == sorted(expected.items())


KEYS = [
    b"\x00",
    b"\x00\x00",
    b"a",
    b"a\x00",
    b"a\x00\x01",
    b"ab",
    b"abc",
    b"b",
    b"\xff",
    b"\xff\xff",
]
BOUNDS = [
    b"",
    b"\x00",
    b"\x00\x00",
    b"a",
    b"a\x00",
    b"aa",
    b"ab",
    b"abd",
    b"b",
    b"c",
    b"\xff\xff\xff",
]


def test_scan_ranges_and_reverse(store: KVStore) -> None:
    _commit(store, "state", {k: k + b"!" for k in KEYS})
    _commit(store, "history", {b"zzz": b"other table"})
    model = sorted((k, k + b"!") for k in KEYS)
    for start, end in itertools.product(BOUNDS, [*BOUNDS, None]):
        want = [(k, v) for k, v in model if k >= start and (end is None or k < end)]
        assert list(store.scan("state", start, end)) == want, (start, end)
        assert list(store.scan("state", start, end, reverse=True)) == want[::-1], (start, end)
    assert list(store.scan("state", b"b", b"a")) == []
    assert list(store.scan("state", b"a", b"a", reverse=True)) == []


def test_scan_of_unknown_table_fails_at_once(store: KVStore) -> None:
    with pytest.raises(KeyError):
        store.scan("nope")


def test_closed_store_is_unavailable(store: KVStore) -> None:
    store.close()
    with pytest.raises(Unavailable):
        store.get("state", b"a")
    with pytest.raises(Unavailable):
        store.commit(WriteBatch(ops={"state": {b"a": b"1"}}))


# --- LMDB -----------------------------------------------------------------------------------


def test_lmdb_reopen_keeps_data(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path)
    _commit(s, "blocks", {i.to_bytes(8, "big"): b"b%d" % i for i in range(100)})
    s.close()
    s = LmdbStore(tmp_path)
    assert s.get("blocks", (42).to_bytes(8, "big")) == b"b42"
    assert len(list(s.scan("blocks"))) == 100
    s.close()


def test_lmdb_is_opened_for_durability(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path)
    flags = s._env.flags()
    assert flags["sync"] and flags["metasync"] and not flags["writemap"]
    assert not flags["map_async"]
    s.close()


@pytest.mark.parametrize("writer_process", [False, True])
def test_lmdb_map_grows_instead_of_failing(tmp_path: Path, writer_process: bool) -> None:
    s = LmdbStore(tmp_path, map_size=64 * 1024, writer_process=writer_process)
    value = os.urandom(1000)
    for n in range(20):
        _commit(s, "extra", {b"%04d/%04d" % (n, i): value for i in range(200)})
        assert s.get("extra", b"%04d/0000" % n) == value  # reads adopt the writer's map
    assert len(list(s.scan("extra"))) == 4000
    s.close()
    s = LmdbStore(tmp_path, map_size=64 * 1024)
    assert s._env.info()["map_size"] >= 4_000_000  # the file grew from 64 KiB
    s.close()
    s = LmdbStore(tmp_path, map_size=64 * 1024)  # the file's size wins over a smaller request
    assert len(list(s.scan("extra"))) == 4000
    assert s.get("extra", b"0019/0199") == value
    s.close()


def test_lmdb_readers_survive_map_growth(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path, map_size=64 * 1024, scan_chunk=7)
    _commit(s, "extra", {b"base/%03d" % i: b"v" for i in range(50)})
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                assert s.get("extra", b"base/007") == b"v"
                assert len(list(s.scan("extra", b"base/", b"base0"))) == 50
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(30):
            _commit(s, "extra", {b"big/%02d/%03d" % (n, i): os.urandom(900) for i in range(100)})
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert s._env.info()["map_size"] >= 2 * 1024 * 1024
    s.close()


def test_lmdb_map_full_fallback_under_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the pre-commit headroom check every growth goes through MapFullError and the
    # abort of a write transaction while other threads keep reading.
    monkeypatch.setattr(lmdb_store, "grow_for", lambda env, page, n_ops, n_bytes: None)
    test_lmdb_readers_survive_map_growth(tmp_path)


def test_lmdb_abandoned_scan_holds_no_transaction(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path, scan_chunk=4)
    _commit(s, "extra", {b"%03d" % i: b"v" for i in range(20)})
    it = s.scan("extra")
    assert next(it) == (b"000", b"v")
    assert _active_readers(s) == []
    _commit(s, "extra", {b"%03d" % i: None for i in range(20)})
    # The iterator finishes its current chunk, then sees the newer snapshot.
    assert [k for k, _ in it] == [b"001", b"002", b"003"]
    s.close()


def test_lmdb_rejects_keys_it_cannot_store(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path)
    for bad in (b"", b"x" * 512):
        batch = WriteBatch()
        batch.put("state", b"fine", b"1")
        batch.put("meta", bad, b"1")
        with pytest.raises(TooLarge):
            s.commit(batch)
        assert s.get("state", b"fine") is None
        assert s.get("meta", bad) is None
    _commit(s, "state", {b"x" * 511: b"max"})
    assert s.get("state", b"x" * 511) == b"max"
    s.close()


GROW_CHILD = """
import os, sys
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

store = LmdbStore(sys.argv[1], map_size=64 * 1024)
for n in range(10):
    batch = WriteBatch()
    for i in range(100):
        batch.put("extra", b"%02d/%03d" % (n, i), os.urandom(1000))
    store.commit(batch)
store.close()
"""


def test_lmdb_readonly_follows_a_writer_in_another_process(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        LmdbStore(tmp_path / "missing", readonly=True)
    rw = LmdbStore(tmp_path, map_size=64 * 1024)
    _commit(rw, "meta", {b"k": b"v"})
    rw.close()
    ro = LmdbStore(tmp_path, readonly=True, map_size=64 * 1024)
    assert ro.get("meta", b"k") == b"v"
    with pytest.raises(Forbidden):
        ro.commit(WriteBatch(ops={"meta": {b"k": b"w"}}))
    # The writer grows the map far beyond the reader's: the reader adopts the new size.
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-c", GROW_CHILD, str(tmp_path)], env=env, check=True)
    assert len(list(ro.scan("extra"))) == 1000
    assert ro.get("extra", b"09/099") is not None
    ro.close()


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # exited; its parent (killed) cannot reap it
        except FileNotFoundError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"writer process {pid} outlived its node")


FORKING_NODE = """
import os, sys, time
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

store = LmdbStore(sys.argv[1], writer_process=True)
if os.fork() == 0:  # like a verifier worker: lives on, must not hold the writer's pipe
    time.sleep(30)
    os._exit(0)
batch = WriteBatch()
batch.put("meta", b"k", b"v")
store.commit(batch)
print(store.writer_pid, flush=True)
time.sleep(30)
"""


def test_lmdb_writer_exits_with_its_node_despite_forked_children(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    node = subprocess.Popen(
        [sys.executable, "-c", FORKING_NODE, str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    assert node.stdout is not None
    try:
        writer_pid = int(node.stdout.readline())
        os.kill(node.pid, signal.SIGKILL)
        node.wait()
        _wait_gone(writer_pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.stdout.close()
    s = LmdbStore(tmp_path)
    assert s.get("meta", b"k") == b"v"
    s.close()


CTRL_C_NODE = """
import sys, time
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

store = LmdbStore(sys.argv[1], writer_process=True)
try:
    print("ready", flush=True)
    time.sleep(30)
except KeyboardInterrupt:  # like a node draining its queue on Ctrl-C
    batch = WriteBatch()
    batch.put("meta", b"drained", b"yes")
    store.commit(batch)
store.close()
"""


def test_lmdb_writer_outlives_ctrl_c_until_its_node_drained(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    node = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_NODE, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    assert node.stdout is not None and node.stderr is not None
    try:
        assert node.stdout.readline().strip() == "ready"
        os.killpg(node.pid, signal.SIGINT)  # Ctrl-C reaches the writer too
        assert node.wait(30) == 0, node.stderr.read()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.stdout.close()
        node.stderr.close()
    s = LmdbStore(tmp_path)
    assert s.get("meta", b"drained") == b"yes"
    s.close()


def test_lmdb_writer_reads_bulk_lookups_consistently(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path, writer_process=True)
    keys = [b"k%05d" % i for i in range(lmdb_store.BULK_READ_MIN * 2)]
    _commit(s, "state", {k: k[::-1] for k in keys[::2]})
    # Through the writer (many keys) and in this process (few) the answers are the same,
    # including absent, empty and over-long keys.
    probe = [*keys, b"", b"x" * 600]
    bulk = s.get_many("state", probe)
    assert bulk == [k[::-1] if i % 2 == 0 else None for i, k in enumerate(keys)] + [None, None]
    assert s.get_many("state", probe[:10]) == bulk[:10]
    with pytest.raises(KeyError):
        s.get_many("nope", keys)
    s.close()


def test_lmdb_writer_refuses_bad_batches_and_reports_a_dead_writer(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path, writer_process=True)
    with pytest.raises(TooLarge):
        _commit(s, "extra", {b"ok": b"v", b"x" * 600: b"v"})
    with pytest.raises(KeyError):
        _commit(s, "nope", {b"k": b"v"})
    assert s.get("extra", b"ok") is None
    _commit(s, "extra", {b"ok": b"v"})
    pid = s.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    with pytest.raises(Unavailable):
        _commit(s, "extra", {b"later": b"v"})
    s.close()
    s = LmdbStore(tmp_path)
    assert s.get("extra", b"ok") == b"v" and s.get("extra", b"later") is None
    s.close()


def test_open_store(tmp_path: Path) -> None:
    assert isinstance(open_store(None), MemoryStore)
    s = open_store(str(tmp_path))
    assert isinstance(s, LmdbStore)
    s.close()
    with pytest.raises(ValueError):
        open_store(None, readonly=True)


CHILD = """
import sys
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

store = LmdbStore(sys.argv[1], writer_process=sys.argv[2] == "1")
print(store.writer_pid, flush=True)
i = 0
while True:
    batch = WriteBatch()
    for j in range(20):
        batch.put("extra", b"b/%08d/%02d" % (i, j), b"%d" % i)
    batch.put("meta", b"last", b"%d" % i)
    batch.put("meta", b"pending/%08d" % i, b"")
    if i:
        batch.delete("meta", b"pending/%08d" % (i - 1))
    store.commit(batch)
    print(i, flush=True)
    i += 1
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kill_after", "writer_process"), [(1, False), (37, False), (150, False), (1, True), (80, True)]
)
def test_lmdb_kill9_loses_no_acknowledged_batch(
    tmp_path: Path, kill_after: int, writer_process: bool
) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "1" if writer_process else "0"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    first = child.stdout.readline().strip()
    writer_pid = None if first == "None" else int(first)
    assert (writer_pid is not None) == writer_process
    acked = -1
    try:
        for line in child.stdout:
            acked = int(line)
            if acked >= kill_after:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    # Lines already in the pipe were printed after their commit returned: acknowledged too.
    for line in child.stdout:
        acked = max(acked, int(line))
    child.stdout.close()
    assert acked >= kill_after, "child died before it was killed"
    if writer_pid is not None:
        # The writer finishes the batch in hand, reads end-of-file and exits.
        _wait_gone(writer_pid)

    s = LmdbStore(tmp_path)
    batches: dict[int, set[bytes]] = {}
    for key, value in s.scan("extra"):
        _, number, j = key.split(b"/")
        assert int(value) == int(number)
        batches.setdefault(int(number), set()).add(j)
    present = sorted(batches)
    assert present == list(range(len(present))), "a batch is missing in the middle"
    assert all(len(js) == 20 for js in batches.values()), "a batch is half applied"
    last = present[-1]
    assert last >= acked, f"acknowledged batch {acked} lost (store ends at {last})"
    assert s.get("meta", b"last") == b"%d" % last
    assert [k for k, _ in s.scan("meta", b"pending/", b"pending0")] == [b"pending/%08d" % last]
    s.close()


def test_a_node_store_writes_inline_unless_a_writer_process_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOVCHAIN_LMDB_WRITER", raising=False)
    s = open_store(str(tmp_path / "a"), node=True)
    assert isinstance(s, LmdbStore) and s.writer_pid is None
    s.close()
    monkeypatch.setenv("GOVCHAIN_LMDB_WRITER", "process")
    s = open_store(str(tmp_path / "b"), node=True)
    assert isinstance(s, LmdbStore) and s.writer_pid is not None
    s.close()
    monkeypatch.setenv("GOVCHAIN_LMDB_WRITER", "thread")
    with pytest.raises(SchemaViolation, match="GOVCHAIN_LMDB_WRITER"):
        open_store(str(tmp_path / "c"), node=True)
