"""A local etcd cluster on loopback: members started as processes from Debian's ``etcd-server``.

Used by ``govchain network up`` and by the tests. Each member gets its own data directory and a
free client and peer port on 127.0.0.1; members are stopped by process id. Client and peer
traffic is mutual TLS from the cluster's own authority (``etcd_tls.py``, in ``<root>/tls``):
only clients given a certificate by ``client_tls`` get in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from govchain.errors import NotFound, Unavailable
from govchain.ordering.etcd_client import DEFAULT_TIMEOUT_S, WATCH_PROGRESS_S, EtcdClient
from govchain.ordering.etcd_tls import MEMBER_CN, EtcdTls, LocalAuthority

ETCD_BINARY = "/usr/bin/etcd"
"""Where Debian's ``etcd-server`` installs the server."""

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""A block of 5,000 transactions is a few MiB as base64 JSON; etcd's default limit is 1.5 MiB."""
MAX_TXN_OPS = 20_000
"""Operations per etcd transaction (a block append deletes every queue batch it used)."""


def member_environment(size: int) -> dict[str, str]:
    """The environment of a member of a local cluster of ``size`` members: all share this
    machine, so each Go runtime gets an equal share of its cores (``GOMAXPROCS``) instead of
    one thread per core each, which spin looking for work against each other and the nodes.
    Measured with ``bench/network_bench.py`` on 2 cores: etcd 37-38 -> 30-33 µs of CPU per
    transaction. A ``GOMAXPROCS`` already in the environment wins."""
    env = dict(os.environ)
    env.setdefault("GOMAXPROCS", str(max(1, (os.cpu_count() or 1) // size)))
    return env


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def etcd_binary() -> str:
    """Return the etcd server binary (``NotFound`` naming the Debian package if missing)."""
    path = shutil.which("etcd") or (ETCD_BINARY if os.path.exists(ETCD_BINARY) else None)
    if path is None:
        raise NotFound("etcd is not installed; install the Debian package 'etcd-server'")
    return path


@dataclass
class EtcdMember:
    """One member process."""

    name: str
    """Member name (``etcd0`` ...)."""
    client_port: int
    """Client port on 127.0.0.1."""
    peer_port: int
    """Raft peer port on 127.0.0.1."""
    data_dir: Path
    """Member data directory."""
    log_path: Path
    """Where the member's output goes."""
    tls: bool = True
    """Whether the member speaks TLS (https) to clients and to the other members."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    """The running process, if started."""

    @property
    def client_url(self) -> str:
        """Client URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        """Peer URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return None if self.process is None else self.process.pid


class EtcdCluster:
    """A local etcd cluster of ``size`` members under ``root`` (mutual TLS unless ``tls`` is
    false: plain HTTP is for measuring what TLS costs)."""

    def __init__(
        self, root: Path | str, size: int = 3, token: str = "govchain", *, tls: bool = True
    ) -> None:
        self.root = Path(root)
        self.token = token
        self.tls = tls
        self.members = [
            EtcdMember(
                f"etcd{i}",
                free_port(),
                free_port(),
                self.root / f"etcd{i}",
                self.root / f"etcd{i}.log",
                tls,
            )
            for i in range(size)
        ]

    def _authority(self) -> LocalAuthority:
        return LocalAuthority(self.root / "tls")

    def client_tls(self, name: str) -> EtcdTls | None:
        """Return the TLS files of client ``name`` (a department's node, a tool), issued by
        the cluster's authority on first use; ``None`` for a plain-HTTP cluster."""
        return self._authority().issue(name) if self.tls else None

    def client(
        self,
        endpoints: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        name: str = "client",
    ) -> EtcdClient:
        """Return a client of this cluster (every member, or ``endpoints``) holding the
        certificate ``name``."""
        return EtcdClient(
            self.endpoints if endpoints is None else endpoints,
            timeout,
            tls=self.client_tls(name),
        )

    @staticmethod
    def load_or_create(root: Path | str, size: int = 3) -> EtcdCluster:
        """Return the cluster whose layout (names, ports) ``root/cluster.json`` records, or a
        new one (recorded there): a restarted member must keep its peer URL."""
        root = Path(root)
        path = root / "cluster.json"
        if path.exists():
            doc = json.loads(path.read_text())
            cluster = EtcdCluster.__new__(EtcdCluster)
            cluster.root = root
            cluster.token = doc["token"]
            # Recorded before TLS existed: plain HTTP (the members' peer URLs must not change).
            cluster.tls = bool(doc.get("tls", False))
            cluster.members = [
                EtcdMember(
                    m["name"],
                    m["client_port"],
                    m["peer_port"],
                    root / m["name"],
                    root / f"{m['name']}.log",
                    cluster.tls,
                )
                for m in doc["members"]
            ]
            return cluster
        cluster = EtcdCluster(root, size)
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "token": cluster.token,
                    "tls": cluster.tls,
                    "members": [
                        {"name": m.name, "client_port": m.client_port, "peer_port": m.peer_port}
                        for m in cluster.members
                    ],
                }
            )
        )
        return cluster

    @property
    def endpoints(self) -> list[str]:
        """Client URLs of every member."""
        return [m.client_url for m in self.members]

    def _initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def start_member(self, member: EtcdMember) -> None:
        """Start (or restart, on its existing data) one member."""
        member.data_dir.parent.mkdir(parents=True, exist_ok=True)
        state = "existing" if (member.data_dir / "member").exists() else "new"
        args = [
            etcd_binary(),
            "--name", member.name,
            "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url,
            "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", self._initial_cluster(),
            "--initial-cluster-state", state,
            "--initial-cluster-token", self.token,
            "--max-request-bytes", str(MAX_REQUEST_BYTES),
            "--max-txn-ops", str(MAX_TXN_OPS),
            "--quota-backend-bytes", str(8 * 1024**3),
            "--heartbeat-interval", "100",
            "--election-timeout", "1000",
            # Idle watches hear from the member every second (they reconnect after 3 s silent).
            "--experimental-watch-progress-notify-interval", f"{WATCH_PROGRESS_S}s",
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip
        if self.tls:
            own = self._authority().issue(member.name, server=True)
            cert, key, ca = str(own.cert), str(own.key), str(own.ca)
            # Clients and the other members alike must present a certificate of the authority.
            args += [
                "--cert-file", cert, "--key-file", key,
                "--trusted-ca-file", ca, "--client-cert-auth",
                "--peer-cert-file", cert, "--peer-key-file", key,
                "--peer-trusted-ca-file", ca, "--peer-client-cert-auth",
                # Raft is for members only: a node's client certificate is refused there.
                "--peer-cert-allowed-cn", MEMBER_CN,
            ]  # fmt: skip
        log = open(member.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            member.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=member_environment(len(self.members)),
            )
        finally:
            log.close()

    def start(self, timeout: float = 20.0) -> None:
        """Start every member and wait until the cluster has a leader."""
        for m in self.members:
            self.start_member(m)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until a write through the cluster succeeds (a leader is elected)."""
        deadline = time.monotonic() + timeout
        last = ""
        client = self.client(timeout=1.0, name="cluster")
        try:
            while time.monotonic() < deadline:
                try:
                    client.put(b"_govchain_ready", b"")
                    return
                except Unavailable as exc:
                    last = exc.message
                if all(m.process is None or m.process.poll() is not None for m in self.members):
                    last = "every member exited (see their logs)"
                    break
                time.sleep(0.1)
        finally:
            client.close()
        raise Unavailable(f"the etcd cluster did not become ready within {timeout} s ({last})")

    def kill_member(self, member: EtcdMember) -> None:
        """Kill a member at once (SIGKILL), as a crash would."""
        if member.process is not None and member.process.poll() is None:
            os.kill(member.process.pid, signal.SIGKILL)
            member.process.wait(10)

    def stop_member(self, member: EtcdMember, timeout: float = 10.0) -> None:
        """Stop a member (SIGTERM, then SIGKILL after ``timeout``)."""
        p = member.process
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def stop(self) -> None:
        """Stop every member."""
        for m in self.members:
            self.stop_member(m)
