"""``govchain network up`` / ``network status`` as a user runs them: real etcd members and node
processes, Ctrl-C (SIGINT) stopping everything it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _govchain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govchain", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "140"},
    )


def test_network_up_status_and_clean_stop_on_ctrl_c(tmp_path: Path) -> None:
    root = tmp_path / "net"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govchain",
            "network",
            "up",
            "--departments",
            "3",
            "--dir",
            str(root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "140"},
    )
    run_file = root / "run.json"
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        ok = False
        while time.monotonic() < deadline:
            assert up.poll() is None, up.stdout.read() if up.stdout else ""
            if run_file.exists():
                st = _govchain("network", "status", "--dir", str(root))
                if st.returncode == 0 and st.stdout.count(" ok ") == 3 and "proposer " in st.stdout:
                    ok = True
                    break
            time.sleep(0.5)
        assert ok, "the network did not come up"
        assert "quorum 3" in st.stdout and "leader" in st.stdout
        run = json.loads(run_file.read_text())
        # etcd speaks mutual TLS: https members, a client certificate per department.
        assert all(e.startswith("https://127.0.0.1:") for e in run["etcd"])
        tls_dir = root / "etcd" / "tls"
        assert {"ca.pem", "tax.pem", "tax-key.pem", "status.pem"} <= {
            p.name for p in tls_dir.iterdir()
        }
        pids = [n["pid"] for n in run["nodes"].values()] + run["etcd_pids"]
        assert all(_alive(p) for p in pids)
        # A transaction through one node, committed (with a quorum receipt) on the network.
        url = run["nodes"]["tax"]["url"]
        tx = _govchain(
            "tx", "put", "permit/1", '{"n": 1}', "--as", "market/admin",
            "--network", str(root), "--url", url, "--receipt-out", str(tmp_path / "r.json"),
        )  # fmt: skip
        assert tx.returncode == 0, tx.stdout + tx.stderr
        check = _govchain(
            "verify-receipt", str(tmp_path / "r.json"), "--genesis", str(root / "genesis.json")
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        os.kill(up.pid, signal.SIGINT)
        out, _ = up.communicate(timeout=90)
    assert up.returncode == 0, out
    assert "stopped" in out
    assert not run_file.exists()
    assert not any(_alive(p) for p in pids), "a process network up started is still running"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--etcd", "https://127.0.0.1:9"], "give --etcd-ca, --etcd-cert and --etcd-key"),
        (
            ["--etcd", "https://127.0.0.1:9", "--etcd-ca", "ca.pem"],
            "needs --etcd-cert, --etcd-key too",
        ),
        (
            [
                "--etcd",
                "http://127.0.0.1:9",
                "--etcd-ca",
                "a",
                "--etcd-cert",
                "b",
                "--etcd-key",
                "c",
            ],
            "every etcd endpoint must be https://",
        ),
        (["--etcd", "127.0.0.1:2379"], "is not http://host:port or https://host:port"),
        (["--etcd", ","], "--etcd names no endpoint"),
    ],
)
def test_node_run_checks_the_etcd_options(tmp_path: Path, options: list[str], message: str) -> None:
    r = _govchain("node", "run", "--dept", "tax", "--network", str(tmp_path), *options)
    assert r.returncode == 1
    assert message in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing opened or created
