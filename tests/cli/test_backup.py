"""``govchain backup`` of a running ``govchain up`` under a stream of writes, and ``govchain
restore``: every transaction acknowledged before the backup is in the restored copy, the copy
verifies and is served; corrupted backups are refused naming the check, with nothing installed."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from test_cli import govchain, start_node

from govchain.crypto import get_suite
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.network import NetworkDir
from govchain.storage.factory import open_store

PROBE = "backup-probe-7f3a"
"""A value written once before the backup: the byte flipped by the forged-copy test."""


class Writer:
    """Submits batches of ``kv.put`` (waiting for commit) in a thread; ``acked`` holds the id of
    every transaction whose commit was acknowledged, in order."""

    def __init__(self, root: Path, url: str) -> None:
        net = NetworkDir(root)
        self.genesis = net.genesis()
        self.suite = get_suite(self.genesis.suite)
        self.key = net.member_key("market/admin").keypair.private
        self.url = url
        self.acked: list[str] = []
        self.errors: list[str] = []
        self._nonce = itertools.count(time.time_ns() // 1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tx(self, key: str, value: Any) -> Transaction:
        return build_transaction(
            chain=self.genesis.chain_id,
            signer="market/admin",
            nonce=next(self._nonce),
            contract="kv",
            method="put",
            args={"key": key, "value": value},
            actor="market/admin",
            sign=lambda m: self.suite.sign(self.key, m),
            hash_fn=self.suite.hash,
        )

    def submit(self, txs: list[Transaction]) -> list[str]:
        body = b"[" + b",".join(t.encode() for t in txs) + b"]"
        r = httpx.post(
            f"{self.url}/v1/transactions/batch",
            params={"wait": "true"},
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return [res["tx_id"] for res in r.json()["results"] if res.get("status") == "committed"]

    def _run(self) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            try:
                self.acked.extend(self.submit([self.tx(f"load/{i}/{j}", i) for j in range(10)]))
            except (httpx.HTTPError, AssertionError) as exc:
                self.errors.append(repr(exc))
                time.sleep(0.05)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            assert time.monotonic() < deadline, f"only {len(self.acked)} acknowledged"
            time.sleep(0.05)


@dataclass
class Taken:
    """A backup taken under writes, and what was acknowledged around it."""

    root: Path
    url: str
    path: Path
    manifest: dict[str, Any]
    before: list[str]
    during: int


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """A demo network and its running ``govchain up``."""
    base = tmp_path_factory.mktemp("backup")
    root = base / "net"
    r = govchain("init", root, "--demo")
    assert r.returncode == 0, r.stderr
    proc, url = start_node(root, base / "up.log")
    try:
        yield root, url, base
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def taken(live: tuple[Path, str, Path]) -> Taken:
    root, url, base = live
    out = base / "backup-1"
    with Writer(root, url) as writer:
        writer.submit([writer.tx("probe", PROBE)])
        writer.wait_for(300)
        before = list(writer.acked)  # acknowledged before the backup started
        r = govchain("backup", "--network", root, "--out", out)
        during = len(writer.acked) - len(before)
        writer.wait_for(len(writer.acked) + 20)  # writes go on after the backup too
    assert r.returncode == 0, r.stdout + r.stderr
    assert not writer.errors, writer.errors
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    return Taken(root, url, out, manifest, before, during)


def restore(
    taken: Taken, backup: Path, target: Path, *more: str
) -> subprocess.CompletedProcess[str]:
    return govchain("restore", backup, "--network", taken.root, "--data", target, *more)


def test_backup_is_online_and_its_manifest_describes_the_copy(taken: Taken) -> None:
    m = taken.manifest
    # The node kept committing while the backup ran: it was never stopped.
    assert taken.during > 0
    health = httpx.get(f"{taken.url}/v1/health", timeout=10).json()
    assert health["height"] > m["height"] > 0
    assert m["format"] == "govchain-backup/1"
    assert m["chain_id"] == "govchain-demo" and m["node"] == "embedded"
    assert m["log_size"] >= len(taken.before) + 1
    assert m["checkpoint"]["checkpoint"]["height"] == m["height"]
    assert m["checkpoint"]["checkpoint"]["state_root"] == m["state_root"]
    assert set(m["files"]) == {"data/data.mdb"}
    assert m["files"]["data/data.mdb"]["bytes"] == (taken.path / "data/data.mdb").stat().st_size
    # The same block, as the node serves it now.
    block = httpx.get(f"{taken.url}/v1/blocks/{m['height']}", timeout=10).json()
    assert block["header"]["state_root"] == m["state_root"]


def test_backup_refuses_an_existing_target(taken: Taken) -> None:
    before = (taken.path / "manifest.json").read_bytes()
    r = govchain("backup", "--network", taken.root, "--out", taken.path)
    assert r.returncode == 1
    assert "exists; a backup never overwrites anything" in r.stderr
    assert (taken.path / "manifest.json").read_bytes() == before


def test_restore_holds_every_acknowledged_transaction_verifies_and_serves(
    taken: Taken, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    r = restore(taken, taken.path, target)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("manifest", "network", "target", "files", "store", "chain", "head"):
        assert f"ok {check}" in r.stdout
    store = open_store(str(target), readonly=True)
    try:
        missing = [t for t in taken.before if store.get("txindex", bytes.fromhex(t)) is None]
        for t in taken.before[-50:]:
            location = store.get("txindex", bytes.fromhex(t))
            assert (
                location is not None
                and int.from_bytes(location[:8], "big") <= (taken.manifest["height"])
            )
    finally:
        store.close()
    assert not missing, f"{len(missing)} acknowledged transactions are not in the backup"
    v = govchain("verify", "--network", taken.root, "--data", target)
    assert v.returncode == 0, v.stdout + v.stderr
    assert f"OK: {taken.manifest['height']} blocks" in v.stdout
    # govchain up serves the restored copy (beside the original node, on its own port).
    proc, url = start_node(taken.root, tmp_path / "restored.log", "--data", str(target))
    try:
        health = httpx.get(f"{url}/v1/health", timeout=10).json()
        assert health["height"] == taken.manifest["height"]
        assert health["state_root"] == taken.manifest["state_root"]
        got = httpx.get(f"{url}/v1/transactions/{taken.before[-1]}", timeout=10)
        assert got.status_code == 200, got.text
    finally:
        proc.terminate()
        proc.wait(60)


def _flip_first(path: Path, needle: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at >= 0, f"{needle!r} not in {path}"
    data[at + len(needle) - 1] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_manifest(backup: Path, **changes: Any) -> None:
    m = orjson.loads((backup / "manifest.json").read_bytes())
    for key, value in changes.items():
        m[key] = value(m) if callable(value) else value
    (backup / "manifest.json").write_bytes(orjson.dumps(m))


def _rehash(backup: Path) -> None:
    """Write the data file's true hash into the manifest (a consistent forgery)."""
    from govchain.storage.snapshot import digest_file

    d = digest_file(backup / "data/data.mdb")
    _edit_manifest(backup, files={"data/data.mdb": {"bytes": d.size, "sha256": d.sha256}})


def _flip_data(b: Path) -> None:
    _flip_first(b / "data/data.mdb", PROBE.encode())


def _wrong_hash(b: Path) -> None:
    _edit_manifest(
        b,
        files={
            "data/data.mdb": {"bytes": (b / "data/data.mdb").stat().st_size, "sha256": "ab" * 32}
        },
    )


def _forged(b: Path) -> None:
    _flip_data(b)
    _rehash(b)


def _other_height(b: Path) -> None:
    _edit_manifest(b, height=lambda m: m["height"] - 1)


def _other_network(b: Path) -> None:
    _edit_manifest(b, genesis_hash="00" * 32)


def _no_manifest(b: Path) -> None:
    (b / "manifest.json").unlink()


def _stray_file(b: Path) -> None:
    (b / "data" / "extra.bin").write_bytes(b"x")


@pytest.mark.parametrize(
    ("corrupt", "check", "detail"),
    [
        (_flip_data, "files", "data/data.mdb: SHA-256"),
        (_wrong_hash, "files", "the manifest says abab"),
        (_forged, "chain", "record(s) at fault"),
        (_other_height, "head", "the verified chain's height is"),
        (_other_network, "network", "this network is 'govchain-demo'"),
        (_no_manifest, "manifest", "manifest.json does not exist"),
        (_stray_file, "files", "data/extra.bin is in the backup and not listed"),
    ],
)
def test_restore_refuses_a_corrupted_backup_and_installs_nothing(
    taken: Taken, tmp_path: Path, corrupt: Any, check: str, detail: str
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(taken.path, bad)
    corrupt(bad)
    target = tmp_path / "target"
    r = restore(taken, bad, target)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"restore refused by the {check} check" in r.stderr, r.stderr
    assert detail in r.stderr, r.stderr
    assert "nothing was installed" in r.stderr
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]  # no staging left behind


def test_restore_over_data_asks_for_force_and_moves_it_aside(taken: Taken, tmp_path: Path) -> None:
    target = tmp_path / "node"
    target.mkdir()
    (target / "data.mdb").write_bytes(b"old")
    r = restore(taken, taken.path, target)
    assert r.returncode == 1
    assert "restore refused by the target check" in r.stderr
    assert "is not empty; give --force" in r.stderr
    assert (target / "data.mdb").read_bytes() == b"old"
    r = restore(taken, taken.path, target, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("node.replaced-")]
    assert len(aside) == 1 and (aside[0] / "data.mdb").read_bytes() == b"old"
    assert "the previous data directory is now" in r.stdout
    assert (target / "data.mdb").stat().st_size == taken.manifest["files"]["data/data.mdb"]["bytes"]


def test_restore_refuses_the_data_directory_of_a_running_node(taken: Taken) -> None:
    r = govchain("restore", taken.path, "--network", taken.root, "--force")
    assert r.returncode == 1
    assert "restore refused by the target check" in r.stderr
    assert "another node (pid" in r.stderr
