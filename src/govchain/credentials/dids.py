"""The ``did:govchain`` method: departments as issuers, resolved offline from the ledger.

A department's DID is ``did:govchain:<network>:<department>``, where ``<network>`` is the first
16 hex digits of the network's genesis hash (the suite hash of the canonical genesis document)
and ``<department>`` the department id of genesis. Its verification methods are the department's
member keys, ``<did>#key-<n>``, numbered from 1 in the order they appear: the department's
genesis members in genesis order, then member keys issued later in ledger order (a number is
never reused). Each is a ``Multikey`` with ``publicKeyMultibase`` and carries the height it was
added at and, once revoked, the height of its revocation.

Resolution needs nothing but the key history (``KeyHistory``), which ``history_from_genesis``
builds from genesis plus the membership changes read from the ledger; ``HistoryResolver`` is the
``DidResolver`` the verifier uses over it.

Key validity for a credential: a key that is not revoked is valid; a revoked key is valid only
for a credential whose issuance the ledger proves (``IssuanceEvidence``) at a height strictly
before the revocation. Any proved issuance must also be at or after the key was added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from govchain.credentials import CredentialCheckFailed
from govchain.credentials.multibase import encode_multikey
from govchain.crypto import get_suite
from govchain.errors import SchemaViolation
from govchain.ledger.genesis import Genesis

METHOD = "govchain"
"""The DID method name."""
NETWORK_ID_HEX = 16
"""Hex digits of the genesis hash in a DID."""

_DID = re.compile(r"did:govchain:([0-9a-f]{16}):([a-z][a-z0-9_\-]{0,31})\Z")
_VM = re.compile(r"(did:govchain:[0-9a-f]{16}:[a-z][a-z0-9_\-]{0,31})#key-([1-9][0-9]{0,8})\Z")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One member key of a department, as the ledger history shows it."""

    department: str
    """Department id."""
    n: int
    """Key number within the department (``#key-<n>``), from 1."""
    public_key: bytes
    """Raw public key of the network suite."""
    suite: str
    """Network crypto suite: ``"intl"`` or ``"gm"``."""
    added_height: int
    """Height at which the key became valid (0 for genesis members)."""
    revoked_height: int | None = None
    """Height of the block that revoked it; ``None`` while it is not revoked."""
    member: str = ""
    """Member id (``<dept>/<name>``) the key belongs to, for display."""


class KeyHistory(Protocol):
    """Every department key of one network, with when it was added and revoked."""

    # A read-only property, so frozen dataclasses and plain attributes both satisfy it.
    @property
    def network_id(self) -> str:
        """First 16 hex digits of the genesis hash."""
        ...

    def keys(self, department: str) -> Sequence[KeyRecord]:
        """Return the department's keys ordered by ``n`` (empty for an unknown department)."""
        ...


@dataclass(frozen=True, slots=True)
class MemberKeyChange:
    """A membership change after genesis, read from the ledger (members / network contracts)."""

    height: int
    """Height of the block holding the change."""
    member: str
    """Member id ``<dept>/<name>``."""
    action: str
    """``"added"`` (a key issued, or a joining department's admin) or ``"revoked"``."""
    public_key: bytes = b""
    """The added key (empty for a revocation)."""


@dataclass(frozen=True, slots=True)
class StaticKeyHistory:
    """A ``KeyHistory`` held in memory (built by ``history_from_genesis`` or by hand)."""

    network_id: str
    """First 16 hex digits of the genesis hash."""
    records: Mapping[str, tuple[KeyRecord, ...]] = field(default_factory=dict)
    """Keys of each department, ordered by ``n``."""

    def keys(self, department: str) -> Sequence[KeyRecord]:
        """Return the department's keys ordered by ``n``."""
        return self.records.get(department, ())


@dataclass(frozen=True, slots=True)
class VerificationMethod:
    """One ``Multikey`` verification method of a DID document."""

    id: str
    """``<did>#key-<n>``."""
    controller: str
    """The department's DID."""
    public_key: bytes
    """Raw public key."""
    suite: str
    """Network crypto suite of the key."""
    added_height: int
    """Height at which the key became valid."""
    revoked_height: int | None
    """Height of its revocation, or ``None``."""

    def to_json(self) -> dict[str, Any]:
        """Return the DID-document JSON of the method (with our two height members)."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": "Multikey",
            "controller": self.controller,
            "publicKeyMultibase": encode_multikey(self.public_key, self.suite),
            "validFromHeight": self.added_height,
        }
        if self.revoked_height is not None:
            out["revokedAtHeight"] = self.revoked_height
        return out


@dataclass(frozen=True, slots=True)
class DidDocument:
    """The resolved DID document of a department."""

    id: str
    """The DID."""
    verification_methods: tuple[VerificationMethod, ...]
    """Every key the department ever had, revoked ones included (old credentials need them)."""

    def method(self, method_id: str) -> VerificationMethod:
        """Return a verification method by id (``issuer`` check failure if absent)."""
        for vm in self.verification_methods:
            if vm.id == method_id:
                return vm
        raise CredentialCheckFailed("issuer", f"{method_id} is not a key of {self.id}")

    def to_json(self) -> dict[str, Any]:
        """Return the W3C DID document JSON."""
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": self.id,
            "verificationMethod": [vm.to_json() for vm in self.verification_methods],
            "assertionMethod": [vm.id for vm in self.verification_methods],
        }


@dataclass(frozen=True, slots=True)
class IssuanceEvidence:
    """Ledger proof that a credential was issued (notarised) at a height."""

    height: int
    """Height of the block that notarised the credential's digest."""
    credential_hash: bytes = b""
    """The notarised digest (``proofs.credential_digest``); empty when not checked here."""
    receipt: Any = None
    """The notarisation receipt (verified by the ledger side before it is trusted)."""


def network_id(genesis: Genesis) -> str:
    """Return the network part of DIDs: 16 hex digits of the genesis hash."""
    return get_suite(genesis.suite).hash(genesis.canonical()).hex()[:NETWORK_ID_HEX]


def department_did(network: str, department: str) -> str:
    """Return the DID of ``department`` on the network with id ``network``."""
    did = f"did:{METHOD}:{network}:{department}"
    if not _DID.match(did):
        raise SchemaViolation(f"{did!r} is not a did:govchain DID", field="did")
    return did


def parse_did(did: str) -> tuple[str, str]:
    """Return ``(network id, department)`` of a DID; ``issuer`` check failure if malformed."""
    m = _DID.match(did) if isinstance(did, str) else None
    if m is None:
        raise CredentialCheckFailed("issuer", f"{did!r} is not a did:govchain DID")
    return m.group(1), m.group(2)


def parse_method_id(method_id: str) -> tuple[str, int]:
    """Return ``(DID, key number)`` of a verification method id ``<did>#key-<n>``."""
    m = _VM.match(method_id) if isinstance(method_id, str) else None
    if m is None:
        raise CredentialCheckFailed("issuer", f"{method_id!r} is not a did:govchain key id")
    return m.group(1), int(m.group(2))


def method_id(did: str, n: int) -> str:
    """Return the verification method id of key ``n`` of ``did``."""
    return f"{did}#key-{n}"


def resolve(did: str, key_history: KeyHistory) -> DidDocument:
    """Resolve a ``did:govchain`` DID from the key history; ``issuer`` check failure if the DID
    names another network or a department without keys."""
    network, department = parse_did(did)
    if network != key_history.network_id:
        raise CredentialCheckFailed(
            "issuer", f"{did} is of network {network}, not {key_history.network_id}"
        )
    records = key_history.keys(department)
    if not records:
        raise CredentialCheckFailed("issuer", f"department {department!r} has no keys")
    return DidDocument(
        id=did,
        verification_methods=tuple(
            VerificationMethod(
                id=method_id(did, r.n),
                controller=did,
                public_key=r.public_key,
                suite=r.suite,
                added_height=r.added_height,
                revoked_height=r.revoked_height,
            )
            for r in records
        ),
    )


class DidResolver(Protocol):
    """Resolves ``did:govchain`` DIDs (offline)."""

    def resolve(self, did: str) -> DidDocument:
        """Return the DID document; ``CredentialCheckFailed("issuer")`` if it does not resolve."""
        ...


@dataclass(frozen=True, slots=True)
class HistoryResolver:
    """A ``DidResolver`` over a key history."""

    key_history: KeyHistory
    """Where the keys come from."""

    def resolve(self, did: str) -> DidDocument:
        """Resolve ``did`` from the history as it is now (never cached: a revocation changes
        an existing key's record, and a stale document would accept a revoked key)."""
        return resolve(did, self.key_history)


def issuer_method(resolver: DidResolver, issuer: str, method_id: Any) -> VerificationMethod:
    """Return the issuer's verification method ``method_id``; ``issuer`` check failure if the
    key is not one of the issuer's or does not resolve."""
    did, _ = parse_method_id(method_id)
    if did != issuer:
        raise CredentialCheckFailed("issuer", f"key {method_id} is not the issuer's ({issuer})")
    return resolver.resolve(issuer).method(method_id)


def check_key_valid(vm: VerificationMethod, evidence: IssuanceEvidence | None) -> None:
    """Apply the key-validity rule (module docstring); ``key`` check failure otherwise."""
    if evidence is not None and evidence.height < vm.added_height:
        raise CredentialCheckFailed(
            "key",
            f"issuance at height {evidence.height} precedes key {vm.id} (added at "
            f"{vm.added_height})",
        )
    if vm.revoked_height is None:
        return
    if evidence is None:
        raise CredentialCheckFailed(
            "key",
            f"key {vm.id} was revoked at height {vm.revoked_height} and no ledger evidence "
            "proves the credential was issued before",
        )
    if evidence.height >= vm.revoked_height:
        raise CredentialCheckFailed(
            "key",
            f"issued at height {evidence.height}, at or after key {vm.id} was revoked "
            f"(height {vm.revoked_height})",
        )


def history_from_genesis(
    genesis: Genesis, changes: Iterable[MemberKeyChange] = ()
) -> StaticKeyHistory:
    """Build the key history of every department from genesis and later membership changes.

    ``changes`` must be in ledger order; a revocation of an unknown member, or a second
    addition of a member id, is refused (``SchemaViolation``).
    """
    suite = genesis.suite
    by_dept: dict[str, list[KeyRecord]] = {d.id: [] for d in genesis.departments}
    index: dict[str, tuple[str, int]] = {}

    def add(member: str, key: bytes, height: int) -> None:
        dept = member.split("/", 1)[0]
        if member in index:
            raise SchemaViolation(f"member {member!r} added twice", field="member")
        records = by_dept.setdefault(dept, [])
        records.append(KeyRecord(dept, len(records) + 1, key, suite, height, None, member))
        index[member] = (dept, len(records) - 1)

    for m in genesis.members:
        add(m.id, m.public_key, 0)
    for change in changes:
        if change.action == "added":
            add(change.member, change.public_key, change.height)
        elif change.action == "revoked":
            where = index.get(change.member)
            if where is None:
                raise SchemaViolation(f"revocation of unknown member {change.member!r}")
            dept, i = where
            old = by_dept[dept][i]
            if old.revoked_height is None:
                by_dept[dept][i] = KeyRecord(
                    old.department,
                    old.n,
                    old.public_key,
                    old.suite,
                    old.added_height,
                    change.height,
                    old.member,
                )
        else:
            raise SchemaViolation(f"unknown membership action {change.action!r}", field="action")
    return StaticKeyHistory(
        network_id=network_id(genesis),
        records={d: tuple(r) for d, r in by_dept.items()},
    )
