"""The network directory: genesis, and each department's keys, as ``govchain init`` writes it.

::

    <network>/genesis.json                          the genesis document (public)
    <network>/departments/<dept>/node.key           the department node's signing key (0600)
    <network>/departments/<dept>/members/<name>.key member signing keys (0600)
    <network>/departments/<dept>/root.key           the department's PKI root key (0600)
    <network>/departments/<dept>/admin.password     initial password of staff <dept>/admin (0600)
    <network>/identity/                             users, access log, token key (node-local)
    <network>/departments/<dept>/agreement.key      key-agreement key of data sharing (0600)
    <network>/data/<node>/                          node data directories (created by nodes)

Key files are JSON ``{"suite": ..., "id": ..., "private": hex, "public": hex}``.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import NotFound, SchemaViolation
from govchain.identity.service import (
    Identity,
    identity_store_path,
    load_or_create_token_key,
)
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.ledger.genesis import Genesis, Member, Params, make_genesis, parse_genesis
from govchain.sharing.keyfiles import SHARING_MEMBER, agreement_key_path, write_agreement_key
from govchain.storage.factory import open_store
from govchain.types import DeptId

DEMO_DEPARTMENTS: tuple[tuple[DeptId, str], ...] = (
    ("market", "市场监督管理局"),
    ("tax", "税务局"),
    ("hrss", "人力资源和社会保障局"),
    ("customs", "海关"),
)
"""Departments of ``govchain init --demo`` (and the first four of ``govchain demo``)."""
DEMO_SERVICE_DEPARTMENTS: tuple[tuple[DeptId, str], ...] = (
    ("health", "卫生健康委员会"),
    ("fire", "消防救援支队"),
    ("housing", "住房和城乡建设局"),
    ("transport", "交通运输局"),
    ("data", "大数据发展管理局"),
    ("public_security", "公安局"),
    ("civil_affairs", "民政局"),
    ("education", "教育局"),
)
"""The other departments ``govchain demo`` runs, for the services that need them (permits'
inspections, property records; the data bureau keeps the registry of government IT systems and
reviews new projects for duplication; public security, civil affairs and education answer and
own the proof-free certification matters)."""


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A key loaded from the network directory."""

    id: str
    """Department id (node keys) or member id (member keys)."""
    suite: str
    """Crypto suite the key belongs to."""
    keypair: KeyPair
    """The key pair."""


def write_key(path: Path, key_id: str, suite: str, kp: KeyPair) -> None:
    """Write a private key file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = canonical_unchecked(
        {"id": key_id, "suite": suite, "private": kp.private.hex(), "public": kp.public.hex()}
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data + b"\n")


def read_key(path: Path) -> KeyFile:
    """Read a key file and check that its public key matches its private key."""
    try:
        obj = decode(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"key file {path} does not exist") from None
    try:
        suite = get_suite(obj["suite"])
        kp = suite.keypair_from_private(bytes.fromhex(obj["private"]))
        if kp.public.hex() != obj["public"]:
            raise SchemaViolation(f"key file {path}: public key does not match private key")
        return KeyFile(id=obj["id"], suite=obj["suite"], keypair=kp)
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaViolation(f"key file {path} is malformed: {exc}") from None


class NetworkDir:
    """Access to a network directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def genesis_path(self) -> Path:
        """Path of ``genesis.json``."""
        return self.root / "genesis.json"

    def exists(self) -> bool:
        """Return whether the directory holds a genesis file."""
        return self.genesis_path.is_file()

    def genesis(self) -> Genesis:
        """Load and validate the genesis document."""
        try:
            return parse_genesis(self.genesis_path.read_bytes())
        except FileNotFoundError:
            raise NotFound(
                f"{self.genesis_path} does not exist; run 'govchain init' first"
            ) from None

    def suite(self) -> CryptoSuite:
        """Return the network's crypto suite."""
        return get_suite(self.genesis().suite)

    def node_key_path(self, dept: DeptId) -> Path:
        """Path of a department's node key."""
        return self.root / "departments" / dept / "node.key"

    def member_key_path(self, member_id: str) -> Path:
        """Path of a member key (``<dept>/<name>``)."""
        dept, _, name = member_id.partition("/")
        return self.root / "departments" / dept / "members" / f"{name}.key"

    def root_key_path(self, dept: DeptId) -> Path:
        """Path of a department's PKI root key (signs its member credentials)."""
        return self.root / "departments" / dept / "root.key"

    def root_key(self, dept: DeptId) -> KeyFile:
        """Load a department's PKI root key."""
        return read_key(self.root_key_path(dept))

    def admin_password_path(self, dept: DeptId) -> Path:
        """Path of the initial password of the department's staff account ``<dept>/admin``."""
        return self.root / "departments" / dept / "admin.password"

    @property
    def identity_dir(self) -> Path:
        """Directory of this node's identity store and token key (never shared)."""
        return self.root / "identity"

    def node_key(self, dept: DeptId) -> KeyFile:
        """Load a department's node key."""
        return read_key(self.node_key_path(dept))

    def member_key(self, member_id: str) -> KeyFile:
        """Load a member's key."""
        return read_key(self.member_key_path(member_id))

    def local_node_keys(self) -> list[KeyFile]:
        """Return every department node key present in this directory (embedded mode has all)."""
        g = self.genesis()
        return [self.node_key(d.id) for d in g.departments if self.node_key_path(d.id).exists()]

    def data_dir(self, node: str) -> Path:
        """Return a node's data directory."""
        return self.root / "data" / node


def init_network(
    root: Path | str,
    *,
    chain_id: str,
    suite_name: str,
    departments: list[tuple[DeptId, str]],
    params: Params | None = None,
    staff_admins: bool = False,
) -> Genesis:
    """Create a network directory: keys for every department (node key, PKI root key, an
    ``admin`` member key, the ``sharing`` service member key and the agreement key of data
    sharing) and the genesis document naming them; with ``staff_admins`` also the staff account
    ``<dept>/admin`` of each department. Refuses to overwrite an existing one."""
    net = NetworkDir(root)
    if net.exists():
        raise SchemaViolation(f"{net.genesis_path} already exists; refusing to overwrite it")
    suite = get_suite(suite_name)
    dept_entries: list[tuple[DeptId, str, bytes]] = []
    members: list[Member] = []
    for dept, name in departments:
        node_kp = suite.generate_keypair()
        write_key(net.node_key_path(dept), dept, suite_name, node_kp)
        dept_entries.append((dept, name, node_kp.public))
        admin_id = f"{dept}/admin"
        admin_kp = suite.generate_keypair()
        write_key(net.member_key_path(admin_id), admin_id, suite_name, admin_kp)
        members.append(Member(admin_id, dept, "admin", admin_kp.public))
        write_key(net.root_key_path(dept), f"{dept}/root", suite_name, suite.generate_keypair())
        # Data sharing: the member key the department's node signs sharing transactions with
        # (its own nonce sequence, apart from people's keys) and the key-agreement key.
        service_id = f"{dept}/{SHARING_MEMBER}"
        service_kp = suite.generate_keypair()
        write_key(net.member_key_path(service_id), service_id, suite_name, service_kp)
        members.append(Member(service_id, dept, "service", service_kp.public))
        write_agreement_key(
            agreement_key_path(net.root, dept), dept, suite_name, suite.agreement_keypair()
        )
    genesis = make_genesis(
        chain_id=chain_id,
        suite=suite_name,
        created_ms=time.time_ns() // 1_000_000,
        departments=dept_entries,
        members=members,
        params=params,
    )
    net.root.mkdir(parents=True, exist_ok=True)
    net.genesis_path.write_bytes(genesis.canonical() + b"\n")
    if staff_admins:
        create_staff_admins(net, [d for d, _ in departments])
    return genesis


def create_staff_admins(net: NetworkDir, departments: list[DeptId]) -> None:
    """Create the staff account ``<dept>/admin`` of every department in the node's identity
    store, each with a random initial password written to ``admin.password`` (0600)."""
    store = open_store(str(identity_store_path(net.identity_dir)))
    try:
        identity = Identity(store, load_or_create_token_key(net.identity_dir), issuer="")
        for dept in departments:
            password = "Ad1-" + secrets.token_urlsafe(18)
            identity.users.create_staff(
                f"{dept}/admin", f"{dept} administrator", dept, "admin", password
            )
            path = net.admin_password_path(dept)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
    finally:
        store.close()
