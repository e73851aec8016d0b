"""Test harness of the department network: a real 3-member etcd cluster and real node
processes (``python -m govchain node run``) on free loopback ports, stopped by pid."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from govchain.crypto import get_suite
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.ordering.etcd_cluster import EtcdCluster, free_port

CHAIN = "net-test"


class NodeProc:
    """One department node process."""

    def __init__(self, net: Net, dept: str) -> None:
        self.net = net
        self.dept = dept
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = net.root / "logs" / f"{dept}.log"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "govchain",
                    "node",
                    "run",
                    "--network",
                    str(self.net.root),
                    "--dept",
                    self.dept,
                    "--etcd",
                    ",".join(self.net.etcd.endpoints),
                    "--port",
                    str(self.port),
                    *self.etcd_tls_args(),
                ],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def etcd_tls_args(self) -> list[str]:
        tls = self.net.etcd.client_tls(self.dept)
        return tls.cli_args() if tls is not None else []

    def kill(self) -> None:
        """SIGKILL the node and its worker processes (its process group)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (clean stop), then SIGKILL of whatever is left of the group."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        self.kill()

    def health(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(f"{self.url}/v1/health", timeout=2.0)
        except httpx.HTTPError:
            return None
        doc: dict[str, Any] = r.json()
        return doc

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


class Net:
    """A network directory, an etcd cluster and one node per department."""

    def __init__(self, root: Path, departments: int = 4, suite: str = "intl") -> None:
        self.root = root
        depts = list(DEMO_DEPARTMENTS[:departments])
        self.genesis = init_network(
            root,
            chain_id=CHAIN,
            suite_name=suite,
            departments=depts,
            params=Params(block_max_txs=2000, block_max_ms=20, state_buckets=256),
        )
        self.suite = get_suite(suite)
        self.etcd = EtcdCluster(root / "etcd")
        self.nodes = {d: NodeProc(self, d) for d, _ in depts}
        netdir = NetworkDir(root)
        self._keys = {d: netdir.member_key(f"{d}/admin").keypair.private for d, _ in depts}
        self._nonce = itertools.count(1)

    def start(self) -> None:
        self.etcd.start()
        for n in self.nodes.values():
            n.start()
        self.wait(lambda: all(n.health() is not None for n in self.nodes.values()), 60, "nodes up")

    def stop(self) -> None:
        for n in self.nodes.values():
            if n.proc is not None and n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes.values():
            n.stop()
        self.etcd.stop()
        for m in self.etcd.members:
            self.etcd.kill_member(m)

    # --- transactions -----------------------------------------------------------------------

    def tx(self, dept: str, key: str, value: Any) -> Transaction:
        return self.call(dept, "kv", "put", {"key": key, "value": value})

    def call(self, dept: str, contract: str, method: str, args: dict[str, Any]) -> Transaction:
        signer = f"{dept}/admin"
        if dept not in self._keys:
            self._keys[dept] = NetworkDir(self.root).member_key(signer).keypair.private
        priv = self._keys[dept]
        return build_transaction(
            chain=CHAIN,
            signer=signer,
            nonce=next(self._nonce),
            contract=contract,
            method=method,
            args=args,
            actor=signer,
            sign=lambda m: self.suite.sign(priv, m),
            hash_fn=self.suite.hash,
        )

    def submit(
        self, node: NodeProc, txs: list[Transaction], wait: bool = True, timeout: float = 30.0
    ) -> httpx.Response:
        body = b"[" + b",".join(t.encode() for t in txs) + b"]"
        return httpx.post(
            f"{node.url}/v1/transactions/batch",
            params={"wait": str(wait).lower()},
            content=body,
            headers={"content-type": "application/json"},
            timeout=timeout,
        )

    # --- waiting and checking ---------------------------------------------------------------

    @staticmethod
    def wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def live(self) -> list[NodeProc]:
        return [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]

    def converged(self, nodes: list[NodeProc] | None = None) -> dict[str, Any] | None:
        """Return the common health of ``nodes`` once they agree on height and state root and
        a quorum certified that height; else ``None``."""
        docs = [n.health() for n in (nodes or self.live())]
        if any(d is None for d in docs):
            return None
        heights = {(d["height"], d["state_root"]) for d in docs if d is not None}
        if len(heights) != 1:
            return None
        first = docs[0]
        assert first is not None
        if any(d is None or d["certified_height"] != first["height"] for d in docs):
            return None
        return first

    def wait_converged(self, timeout: float = 60.0) -> dict[str, Any]:
        out: list[dict[str, Any]] = []

        def cond() -> bool:
            doc = self.converged()
            if doc is not None:
                out.append(doc)
            return doc is not None

        self.wait(cond, timeout, "every live node at the same certified height and state root")
        return out[-1]

    def proposer(self) -> NodeProc | None:
        for n in self.live():
            h = n.health()
            if h is not None and h.get("is_proposer"):
                return n
        return None

    def tx_status(self, node: NodeProc, tx_id: str) -> dict[str, Any]:
        r = httpx.get(f"{node.url}/v1/transactions/{tx_id}", timeout=10.0)
        doc: dict[str, Any] = orjson.loads(r.content)
        return doc
