"""``kill -9`` of ``govchain up`` leaves nothing behind: its signature-verifier workers exit
with it, none holds the API's port, and the node restarts on the same port at once with every
acknowledged transaction."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

GOVCHAIN = Path(sys.executable).with_name("govchain")
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(c) for c in text)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _up(network: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(GOVCHAIN), "up", "--network", str(network), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_kill_9_then_restart_on_the_same_port(tmp_path: Path) -> None:
    network = tmp_path / "net"
    init = subprocess.run(
        [str(GOVCHAIN), "init", str(network), "--demo"], capture_output=True, env=ENV, check=False
    )
    assert init.returncode == 0, init.stderr
    port = _free_port()
    log = tmp_path / "up.log"
    first = _up(network, port, log)
    try:
        workers = _children(first.pid)
        assert workers, "the node should have forked its verifier workers"
        put = subprocess.run(
            [
                *(str(GOVCHAIN), "tx", "put", "crash/k", '"kept"', "--network", str(network)),
                *("--url", f"http://127.0.0.1:{port}", "--as", "market/admin"),
            ],
            capture_output=True,
            text=True,
            env=ENV,
            check=False,
        )
        assert put.returncode == 0, put.stdout + put.stderr
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        # Nobody holds the port: a new node binds it straight away.
        second = _up(network, port, log)
    finally:
        if first.poll() is None:
            first.kill()
    try:
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "verifier workers outlived their node"
        got = httpx.get(f"http://127.0.0.1:{port}/v1/kv/crash/k", timeout=10)
        assert got.status_code == 200, got.text
        assert got.json()["value"] == "kept"
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(60)
        except subprocess.TimeoutExpired:
            second.kill()
