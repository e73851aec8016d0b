"""The genesis document: chain id, crypto suite, departments, members and parameters.

Genesis is the only thing an offline verifier needs to trust: it names the departments' node keys
(which sign blocks and checkpoints) and the members' keys (which sign transactions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govchain.errors import SchemaViolation
from govchain.ledger.encoding import canonical_bytes, decode
from govchain.types import DeptId, MemberId

ROLES = ("admin", "officer", "auditor", "service")
"""Roles a member key may have."""

_ID = re.compile(r"[a-z][a-z0-9_\-]{0,31}\Z")
_MEMBER_ID = re.compile(r"[a-z][a-z0-9_\-]{0,31}/[a-z0-9][a-z0-9_.\-]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class Params:
    """Network parameters fixed at genesis."""

    max_tx_bytes: int = 64 * 1024
    """Largest accepted encoded transaction."""
    block_max_txs: int = 5000
    """A block is cut when it holds this many transactions ..."""
    block_max_ms: int = 50
    """... or when this many milliseconds passed since its first transaction arrived."""
    state_buckets: int = 2**16
    """Number of buckets of the state hash tree (power of two)."""
    nonce_window: int = 1024
    """How far below a signer's highest nonce a not-yet-used nonce is still accepted."""

    def to_json(self) -> dict[str, int]:
        """Return the JSON form."""
        return {
            "max_tx_bytes": self.max_tx_bytes,
            "block_max_txs": self.block_max_txs,
            "block_max_ms": self.block_max_ms,
            "state_buckets": self.state_buckets,
            "nonce_window": self.nonce_window,
        }


@dataclass(frozen=True, slots=True)
class Department:
    """An organisation that runs a node."""

    id: DeptId
    """Short identifier, e.g. ``"tax"``."""
    name: str
    """Display name, e.g. ``"税务局"``."""
    node_key: bytes
    """Public key that signs this department's blocks and checkpoints."""


@dataclass(frozen=True, slots=True)
class Member:
    """A key allowed to sign transactions."""

    id: MemberId
    """``<department>/<name>``, e.g. ``"tax/admin"``."""
    dept: DeptId
    """Department the member belongs to."""
    role: str
    """One of ``ROLES``."""
    public_key: bytes
    """Raw public key of the network's signature scheme."""

    def to_json(self) -> dict[str, str]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "dept": self.dept,
            "role": self.role,
            "public_key": self.public_key.hex(),
        }


@dataclass(frozen=True, slots=True)
class Genesis:
    """The validated genesis document of a network."""

    chain_id: str
    """Name of the network; every transaction and checkpoint names it."""
    suite: str
    """Crypto suite of the network: ``"intl"`` or ``"gm"``."""
    created_ms: int
    """Creation time (milliseconds since the Unix epoch), for display only."""
    params: Params
    """Network parameters."""
    departments: tuple[Department, ...]
    """Departments, in genesis order."""
    members: tuple[Member, ...]
    """Member keys known at genesis."""
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    """The JSON document as read (its canonical bytes are hashed into the genesis hash)."""

    def department(self, dept: DeptId) -> Department:
        """Return a department by id (``SchemaViolation`` if unknown)."""
        for d in self.departments:
            if d.id == dept:
                return d
        raise SchemaViolation(f"unknown department {dept!r}")

    def canonical(self) -> bytes:
        """Return the canonical bytes of the genesis document."""
        return canonical_bytes(dict(self.raw))

    def quorum(self) -> int:
        """Return how many department signatures make a quorum: more than two thirds."""
        return len(self.departments) * 2 // 3 + 1


def make_genesis(
    *,
    chain_id: str,
    suite: str,
    created_ms: int,
    departments: list[tuple[DeptId, str, bytes]],
    members: list[Member],
    params: Params | None = None,
) -> Genesis:
    """Build a genesis document from its parts (validated like a parsed one)."""
    doc = {
        "chain_id": chain_id,
        "suite": suite,
        "created_ms": created_ms,
        "params": (params or Params()).to_json(),
        "departments": [
            {"id": d, "name": name, "node_key": key.hex()} for d, name, key in departments
        ],
        "members": [m.to_json() for m in members],
    }
    return parse_genesis(doc)


def _get(obj: Mapping[str, Any], key: str, typ: type, where: str) -> Any:
    if key not in obj:
        raise SchemaViolation(f"genesis: {where}.{key} is missing")
    value = obj[key]
    if type(value) is not typ:
        raise SchemaViolation(f"genesis: {where}.{key} must be of type {typ.__name__}")
    return value


def _hex(value: str, where: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SchemaViolation(f"genesis: {where} is not hex") from None


def parse_genesis(doc: Any) -> Genesis:
    """Validate a genesis JSON value (or its bytes) and return the typed document."""
    if isinstance(doc, bytes | str):
        doc = decode(doc)
    if type(doc) is not dict:
        raise SchemaViolation("genesis must be a JSON object")
    canonical_bytes(doc)
    chain_id = _get(doc, "chain_id", str, "$")
    if not _ID.match(chain_id):
        raise SchemaViolation("genesis: chain_id must be a short lower-case identifier")
    suite = _get(doc, "suite", str, "$")
    if suite not in ("intl", "gm"):
        raise SchemaViolation("genesis: suite must be 'intl' or 'gm'")
    created_ms = _get(doc, "created_ms", int, "$")
    p = _get(doc, "params", dict, "$")
    known = set(Params.__dataclass_fields__)
    if set(p) - known:
        raise SchemaViolation(f"genesis: unknown params {sorted(set(p) - known)}")
    for k, v in p.items():
        if type(v) is not int or v <= 0:
            raise SchemaViolation(f"genesis: params.{k} must be a positive integer")
    params = Params(**p)
    if params.state_buckets & (params.state_buckets - 1):
        raise SchemaViolation("genesis: params.state_buckets must be a power of two")
    depts: list[Department] = []
    for i, d in enumerate(_get(doc, "departments", list, "$")):
        where = f"departments[{i}]"
        if type(d) is not dict:
            raise SchemaViolation(f"genesis: {where} must be an object")
        did = _get(d, "id", str, where)
        if not _ID.match(did):
            raise SchemaViolation(f"genesis: {where}.id must be a short lower-case identifier")
        depts.append(
            Department(
                id=did,
                name=_get(d, "name", str, where),
                node_key=_hex(_get(d, "node_key", str, where), f"{where}.node_key"),
            )
        )
    if not depts:
        raise SchemaViolation("genesis: at least one department is needed")
    if len({d.id for d in depts}) != len(depts):
        raise SchemaViolation("genesis: department ids must be unique")
    dept_ids = {d.id for d in depts}
    members: list[Member] = []
    for i, m in enumerate(_get(doc, "members", list, "$")):
        where = f"members[{i}]"
        if type(m) is not dict:
            raise SchemaViolation(f"genesis: {where} must be an object")
        mid = _get(m, "id", str, where)
        dept = _get(m, "dept", str, where)
        role = _get(m, "role", str, where)
        if not _MEMBER_ID.match(mid) or not mid.startswith(dept + "/"):
            raise SchemaViolation(f"genesis: {where}.id must be '<dept>/<name>'")
        if dept not in dept_ids:
            raise SchemaViolation(f"genesis: {where}.dept {dept!r} is not a department")
        if role not in ROLES:
            raise SchemaViolation(f"genesis: {where}.role must be one of {ROLES}")
        members.append(
            Member(
                id=mid,
                dept=dept,
                role=role,
                public_key=_hex(_get(m, "public_key", str, where), f"{where}.public_key"),
            )
        )
    if len({m.id for m in members}) != len(members):
        raise SchemaViolation("genesis: member ids must be unique")
    return Genesis(
        chain_id=chain_id,
        suite=suite,
        created_ms=created_ms,
        params=params,
        departments=tuple(depts),
        members=tuple(members),
        raw=doc,
    )
