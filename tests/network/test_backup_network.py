"""Backup and restore on a department network (real etcd cluster, real node processes): one
node is backed up while the others take load, stopped, restored over its own data directory
from that backup, started again, and it catches up from its peers to the network's height with
every acknowledged transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import orjson
import pytest
from netkit import Net, NodeProc

from govchain.storage.lmdb import LmdbStore

pytestmark = pytest.mark.slow

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def govchain(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govchain", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )


class Load:
    """Batches of 20 ``kv.put`` sent in turn to ``nodes`` (waiting for commit) in a thread;
    ``acked`` holds every transaction id whose commit was acknowledged."""

    def __init__(self, net: Net, nodes: list[NodeProc]) -> None:
        self.net = net
        self.nodes = nodes
        self.acked: list[str] = []
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
            txs = [self.net.tx(node.dept, f"backup-load/{i}/{j}", i) for j in range(20)]
            i += 1
            try:
                r = self.net.submit(node, txs, timeout=20)
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                results = r.json()["results"]
                self.acked.extend(t["tx_id"] for t in results if t.get("status") == "committed")


def test_node_backed_up_under_load_restored_and_caught_up(tmp_path: Path) -> None:
    net = Net(tmp_path / "net")
    try:
        net.start()
        node = net.nodes["hrss"]
        others = [n for n in net.nodes.values() if n is not node]
        backup = tmp_path / "hrss-backup"
        with Load(net, others) as load:
            net.wait(lambda: len(load.acked) >= 200, 30, "load to commit")
            r = govchain("backup", "--network", net.root, "--node", "hrss", "--out", backup)
            assert r.returncode == 0, r.stdout + r.stderr
            node.stop()
            stopped_at = len(load.acked)
            # The network moves on without it.
            net.wait(lambda: len(load.acked) >= stopped_at + 400, 40, "blocks without hrss")
        manifest = orjson.loads((backup / "manifest.json").read_bytes())
        assert manifest["node"] == "hrss" and manifest["height"] > 0
        head = net.wait_converged(30)
        assert head["height"] > manifest["height"] + 10

        r = govchain("restore", backup, "--network", net.root, "--node", "hrss", "--force")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok chain" in r.stdout and "the previous data directory is now" in r.stdout

        node.start()
        net.wait(lambda: node.health() is not None, 60, "the restored node to serve")
        agreed = net.wait_converged(60)
        mine = node.health()
        assert mine is not None
        assert (mine["height"], mine["state_root"]) == (agreed["height"], agreed["state_root"])
        assert mine["height"] >= head["height"]
        assert "hrss: caught up" in node.log_text()
        # Everything acknowledged, before and after the backup, is on the restored node.
        store = LmdbStore(net.root / "data" / "hrss", readonly=True)
        try:
            missing = [t for t in load.acked if store.get("txindex", bytes.fromhex(t)) is None]
        finally:
            store.close()
        assert not missing, f"{len(missing)} acknowledged transactions missing on hrss"
    finally:
        net.stop()
