"""The ``govchain`` command end to end: ``init``, a real ``govchain up`` subprocess on a free
loopback port, ``tx`` / ``query`` / ``status`` against it, then ``verify`` on the stopped node's
data and ``verify-receipt`` on a saved receipt, intact and tampered."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from govchain.storage.base import WriteBatch
from govchain.storage.factory import open_store

GOVCHAIN = Path(sys.executable).with_name("govchain")
# The demo's own data is seeded smaller in tests (``govchain demo`` seeds 1,000 enterprises).
ENV = {
    **os.environ,
    "COLUMNS": "200",
    "NO_COLOR": "1",
    "GOVCHAIN_DEMO_ENTERPRISES": "60",
    "GOVCHAIN_DEMO_SUPERVISION": "200",
    "GOVCHAIN_DEMO_RESIDENTS": "40",
}


def govchain(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GOVCHAIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    network: Path
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        """Stop the node with SIGTERM (graceful: it drains and exits 0)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class Network:
    root: Path
    init_output: str


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    root = tmp_path_factory.mktemp("cli") / "net"
    r = govchain("init", root, "--demo")
    assert r.returncode == 0, r.stderr
    return Network(root, r.stdout)


def start_node(network: Path, log: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``govchain up`` (with ``options``) for ``network`` on a free loopback port, its
    output in ``log``; return the process and its URL once ``/v1/health`` answers (the caller
    stops it)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GOVCHAIN), "up", "--network", str(network), "--port", str(port), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "node did not come up:\n" + log.read_text()
            time.sleep(0.2)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise


@pytest.fixture(scope="module")
def server(network: Network) -> Iterator[Server]:
    log = network.root.parent / "up.log"
    proc, url = start_node(network.root, log)
    srv = Server(network.root, url, proc, log)
    try:
        yield srv
    finally:
        srv.stop()


def cli(server: Server, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a client command against the running node."""
    return govchain(*args, "--network", server.network, "--url", server.url)


@pytest.fixture(scope="module")
def receipt(server: Server) -> Path:
    """A receipt saved by ``tx put --receipt-out`` (second transaction: non-empty proof)."""
    first = cli(server, "tx", "put", "first", '"one"', "--as", "market/admin")
    assert first.returncode == 0, first.stderr
    path = server.network.parent / "receipt.json"
    r = cli(
        server,
        "tx",
        "put",
        "permit/2024-001",
        '{"holder": "杭州某某餐饮有限公司", "fee_fen": 12000}',
        "--as",
        "tax/admin",
        "--case",
        "case-42",
        "--purpose",
        "issue health permit",
        "--receipt-out",
        path,
    )
    assert r.returncode == 0, r.stderr
    assert "committed, ok" in r.stdout
    assert "receipt saved to" in r.stdout and "signed by 4/4 departments" in r.stdout
    return path


# --- init -------------------------------------------------------------------------------------


def test_init_demo_prints_departments_keys_and_genesis_hash(network: Network) -> None:
    out = network.init_output
    for dept in ("market", "tax", "hrss", "customs", "市场监督管理局", "departments/tax/"):
        assert dept in out
    assert "genesis hash" in out and "quorum       3 of 4" in out
    assert (network.root / "genesis.json").is_file()
    key = network.root / "departments" / "tax" / "members" / "admin.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_init_refuses_to_overwrite_and_checks_departments(network: Network, tmp_path: Path):
    again = govchain("init", network.root, "--demo")
    assert again.returncode == 1 and "error: " in again.stderr
    assert "refusing to overwrite" in again.stderr
    bad = govchain("init", tmp_path / "x", "--department", "no-equals-sign")
    assert bad.returncode == 1 and "id=名称" in bad.stderr
    none = govchain("init", tmp_path / "y")
    assert none.returncode == 1
    gm = govchain("init", tmp_path / "gm", "--suite", "gm", "-d", "tax=税务局", "-d", "hrss=人社局")
    assert gm.returncode == 0, gm.stderr
    assert "(sm3)" in gm.stdout and "quorum       2 of 2" in gm.stdout


# --- tx, query, status against a running node -------------------------------------------------


def test_tx_put_then_query_verifies_the_proof(server: Server, receipt: Path) -> None:
    r = cli(server, "query", "permit/2024-001")
    assert r.returncode == 0, r.stderr
    assert 'c/kv/permit/2024-001 = {"fee_fen":12000,"holder":"杭州某某餐饮有限公司"}' in r.stdout
    assert "proof verified against checkpoint at height" in r.stdout
    assert "signed by 4/4 departments" in r.stdout

    raw = cli(server, "query", "--raw-key", "sys/member/tax/admin")
    assert raw.returncode == 0, raw.stderr
    assert '"role":"admin"' in raw.stdout

    missing = cli(server, "query", "never-written")
    assert missing.returncode == 0, missing.stderr
    assert "does not exist (absence proven)" in missing.stdout


def test_tx_delete_call_and_no_wait(server: Server, receipt: Path) -> None:
    assert cli(server, "tx", "put", "tmp", "1", "--as", "hrss/admin").returncode == 0
    d = cli(server, "tx", "delete", "tmp", "--as", "hrss/admin", "--actor", "hrss/clerk-7")
    assert d.returncode == 0, d.stderr
    assert '"existed":true' in d.stdout
    assert "does not exist" in cli(server, "query", "tmp").stdout

    call = cli(
        server,
        "tx",
        "call",
        "kv",
        "put",
        "--args",
        '{"key": "c", "value": [1]}',
        "--as",
        "customs/admin",
    )
    assert call.returncode == 0, call.stderr

    failed = cli(server, "tx", "call", "kv", "put", "--args", '{"key": "c"}', "--as", "tax/admin")
    assert failed.returncode == 1
    assert "committed, failed" in failed.stdout and "bad_arguments" in failed.stdout

    pending = cli(server, "tx", "put", "later", "true", "--as", "tax/admin", "--no-wait")
    assert pending.returncode == 0, pending.stderr
    assert "pending" in pending.stdout


def test_client_errors_are_reported(server: Server, tmp_path: Path) -> None:
    float_value = cli(server, "tx", "put", "k", "1.5", "--as", "tax/admin")
    assert float_value.returncode == 1 and "error: VALUE_JSON" in float_value.stderr
    no_key = cli(server, "tx", "put", "k", "1", "--as", "tax/nobody")
    assert no_key.returncode == 1 and "error: key file" in no_key.stderr

    # Same chain id and member names, other keys: the node rejects the signature.
    other = tmp_path / "other"
    assert govchain("init", other, "--demo").returncode == 0
    forged = govchain(
        "tx", "put", "k", "1", "--as", "tax/admin", "--network", other, "--url", server.url
    )
    assert forged.returncode == 1
    assert "error [bad_signature]:" in forged.stderr

    # A client that trusts the other genesis cannot verify this node's checkpoints.
    q = govchain("query", "permit/2024-001", "--network", other, "--url", server.url)
    assert q.returncode == 1
    assert "proof verification FAILED" in q.stderr

    down = govchain("status", "--url", "http://127.0.0.1:9")
    assert down.returncode == 1 and "cannot reach the node" in down.stderr


def test_status(server: Server, receipt: Path) -> None:
    r = govchain("status", "--url", server.url)
    assert r.returncode == 0, r.stderr
    assert "govchain-demo (intl)" in r.stdout
    assert "signed by" in r.stdout and "4 departments" in r.stdout


# --- verify-receipt (offline, genesis only) ----------------------------------------------------


def test_verify_receipt_passes_with_genesis_only(network: Network, receipt: Path) -> None:
    r = govchain("verify-receipt", receipt, "--genesis", network.root / "genesis.json")
    assert r.returncode == 0, r.stderr
    assert "receipt verified" in r.stdout
    assert "tax/admin (signature verified against genesis)" in r.stdout
    assert "signed by 4/4 departments" in r.stdout
    assert '{"key":"permit/2024-001"}' in r.stdout


def _flip(hex_text: str, at: int = 0) -> str:
    digit = "1" if hex_text[at] == "0" else "0"
    return hex_text[:at] + digit + hex_text[at + 1 :]


def _tamper_result(b: dict[str, Any]) -> None:
    b["entry"]["receipt"]["result"]["key"] = "permit/2024-002"


def _tamper_two_signatures(b: dict[str, Any]) -> None:
    for s in b["checkpoint"]["signatures"][:2]:
        s["signature"] = _flip(s["signature"], 10)


def _tamper_proof(b: dict[str, Any]) -> None:
    b["inclusion_proof"][0] = _flip(b["inclusion_proof"][0])


def _tamper_log_root(b: dict[str, Any]) -> None:
    b["checkpoint"]["checkpoint"]["log_root"] = _flip(b["checkpoint"]["checkpoint"]["log_root"])


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_tamper_result, "inclusion proof"),
        (_tamper_two_signatures, "valid department signature"),
        (_tamper_proof, "inclusion proof"),
        (_tamper_log_root, "valid department signature"),
    ],
    ids=["result", "checkpoint signatures", "inclusion proof", "checkpoint log root"],
)
def test_verify_receipt_fails_when_tampered(
    network: Network, receipt: Path, tmp_path: Path, tamper: Any, reason: str
) -> None:
    bundle = orjson.loads(receipt.read_bytes())
    assert bundle["inclusion_proof"], "the receipt needs a non-empty proof"
    bad = copy.deepcopy(bundle)
    tamper(bad)
    path = tmp_path / "tampered.json"
    path.write_bytes(orjson.dumps(bad))
    r = govchain("verify-receipt", path, "--genesis", network.root / "genesis.json")
    assert r.returncode == 1, r.stdout
    assert "receipt verification FAILED" in r.stderr and reason in r.stderr


def test_one_bad_signature_still_leaves_a_quorum(network: Network, receipt: Path, tmp_path):
    bundle = orjson.loads(receipt.read_bytes())
    sig = bundle["checkpoint"]["signatures"][0]
    sig["signature"] = _flip(sig["signature"], 10)
    path = tmp_path / "one-bad.json"
    path.write_bytes(orjson.dumps(bundle))
    r = govchain("verify-receipt", path, "--network", network.root)
    assert r.returncode == 0, r.stderr
    assert "signed by 3/4 departments" in r.stdout and "quorum 3" in r.stdout


# --- after the node stops: offline verification -------------------------------------------------


def test_verify_the_stopped_nodes_data(server: Server, receipt: Path, tmp_path: Path) -> None:
    deadline = time.monotonic() + 30
    while (health := httpx.get(server.url + "/v1/health").json())["pending"]:
        assert time.monotonic() < deadline, health  # the --no-wait transaction is committing
        time.sleep(0.1)
    height = health["height"]
    assert server.stop() == 0, server.log.read_text()
    assert "stopped at height" in server.log.read_text()

    r = govchain("verify", "--network", server.network)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"OK: {height} blocks," in r.stdout and "transactions verified" in r.stdout

    # A copy of the data with one stored log entry altered fails both checks.
    data = tmp_path / "data"
    shutil.copytree(server.network / "data" / "embedded", data)
    store = open_store(str(data))
    key = (1).to_bytes(8, "big")
    entry = store.get("entries", key)
    assert entry is not None and b"permit/2024-001" in entry
    batch = WriteBatch()
    batch.put("entries", key, entry.replace(b"12000", b"12001"))
    store.commit(batch)
    store.close()

    bad = govchain("verify", "--network", server.network, "--data", data)
    assert bad.returncode == 1
    # The table, the key and the block at fault are named.
    assert f"FAILED at block 2: table entries, key {key.hex()}:" in bad.stdout, bad.stdout

    up = govchain(
        "up", "--network", server.network, "--data", data, "--port", str(free_port()), timeout=60
    )
    assert up.returncode == 2
    assert "integrity check" in up.stderr and "block 2" in up.stderr


@pytest.mark.parametrize("option", ["--access-log", "--no-access-log"])
def test_access_log_can_be_turned_off(tmp_path: Path, option: str) -> None:
    root = tmp_path / "net"
    assert govchain("init", root, "--demo").returncode == 0
    log = tmp_path / "up.log"
    proc, url = start_node(root, log, option)
    server = Server(root, url, proc, log)
    try:
        assert httpx.get(url + "/v1/sharing/catalogue", timeout=10).status_code == 200
    finally:
        assert server.stop() == 0
    text = log.read_text()
    assert "stopped at height" in text  # the graceful stop ran either way
    assert ('"GET /v1/sharing/catalogue HTTP/1.1" 200' in text) is (option == "--access-log")
