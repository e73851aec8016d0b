"""W3C Bitstring Status List v1.0: revocation and suspension bits, published as a credential.

A list is a bitstring of at least ``MIN_ENTRIES`` (131,072) bits; bit 0 is the most significant
bit of the first byte. Its ``encodedList`` is ``"u"`` + base64url (no padding) of the GZIP of
the bitstring; GZIP is written with mtime 0 and no file name so the same bits always give the
same bytes (and the same notarised hash). A credential points at one bit with a
``BitstringStatusListEntry``; the list itself is a ``BitstringStatusListCredential`` signed by
the same issuer.

A verifier holds the lists it fetched: ``check_status_list`` verifies one list on its own (its
issuer's key valid when it was published, its proof), ``VerifiedStatusLists`` keeps lists
verified once for any number of credentials, and ``usable_list`` refuses a list that is not the
credential issuer's own or has expired (all ``status_issuer`` failures).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govchain.credentials import CredentialCheckFailed
from govchain.credentials import multibase as mb
from govchain.credentials.contexts import VC_V2
from govchain.credentials.dids import (
    DidResolver,
    IssuanceEvidence,
    check_key_valid,
    issuer_method,
)
from govchain.credentials.proofs import parse_datetime, proof_of, verify_proof
from govchain.errors import GovchainError, SchemaViolation

MIN_ENTRIES = 131_072
"""Smallest list the specification allows (16 KiB), which also hides which bits are in use."""
MAX_ENTRIES = 2**24
"""Largest list accepted when decoding (2 MiB of bits): bounds decompression."""
PURPOSES = ("revocation", "suspension")
"""Status purposes we issue and check."""
LIST_TYPE = "BitstringStatusList"
"""``credentialSubject.type`` of a status list credential."""
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
"""Credential type of a status list credential."""
ENTRY_TYPE = "BitstringStatusListEntry"
"""``credentialStatus.type`` of an entry."""


class BitstringStatusList:
    """A mutable bitstring of status bits."""

    __slots__ = ("_bits", "size")

    def __init__(self, size: int = MIN_ENTRIES, bits: bytes | None = None) -> None:
        if size < MIN_ENTRIES or size % 8:
            raise SchemaViolation(
                f"a status list has at least {MIN_ENTRIES} entries, a multiple of 8",
                field="size",
            )
        if bits is not None and len(bits) * 8 != size:
            raise SchemaViolation("bitstring length does not match the size", field="bits")
        self.size = size
        self._bits = bytearray(bits) if bits is not None else bytearray(size // 8)

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise SchemaViolation(
                f"status index {index} is outside 0..{self.size - 1}", field="statusListIndex"
            )

    def get(self, index: int) -> bool:
        """Return whether bit ``index`` is set."""
        self._check(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        """Set (or clear) bit ``index``."""
        self._check(index)
        mask = 0x80 >> (index & 7)
        if value:
            self._bits[index >> 3] |= mask
        else:
            self._bits[index >> 3] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        """Return the raw bitstring."""
        return bytes(self._bits)

    def encode(self) -> str:
        """Return the ``encodedList``: multibase base64url of the deterministic GZIP."""
        return mb.encode(gzip.compress(bytes(self._bits), compresslevel=9, mtime=0), "u")

    @staticmethod
    def decode(encoded: str) -> BitstringStatusList:
        """Parse an ``encodedList``; ``status`` check failure if it is not a valid list."""
        try:
            compressed = mb.decode(encoded)
        except GovchainError:
            raise CredentialCheckFailed("status", "encodedList is not multibase") from None
        if not encoded.startswith("u"):
            raise CredentialCheckFailed("status", "encodedList must be base64url ('u')")
        try:
            # wbits 16+MAX: gzip framing only; max_length bounds a decompression bomb.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            bits = inflater.decompress(compressed, MAX_ENTRIES // 8 + 1)
            if inflater.unconsumed_tail or not inflater.eof:
                raise CredentialCheckFailed("status", "encodedList is too large or truncated")
        except zlib.error:
            raise CredentialCheckFailed("status", "encodedList is not GZIP data") from None
        size = len(bits) * 8
        if not MIN_ENTRIES <= size <= MAX_ENTRIES:
            raise CredentialCheckFailed(
                "status", f"status list of {size} entries is outside {MIN_ENTRIES}..{MAX_ENTRIES}"
            )
        return BitstringStatusList(size, bits)


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """A parsed ``credentialStatus`` entry."""

    purpose: str
    """``"revocation"`` or ``"suspension"``."""
    index: int
    """Bit index in the list."""
    list_credential: str
    """URL (id) of the status list credential."""


def status_entry(list_credential: str, index: int, purpose: str) -> dict[str, Any]:
    """Return a ``BitstringStatusListEntry`` for bit ``index`` of the list ``list_credential``."""
    if purpose not in PURPOSES:
        raise SchemaViolation(f"statusPurpose must be one of {PURPOSES}", field="statusPurpose")
    if index < 0:
        raise SchemaViolation("statusListIndex must be >= 0", field="statusListIndex")
    return {
        "id": f"{list_credential}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_credential,
    }


def parse_entries(credential: dict[str, Any]) -> list[StatusEntry]:
    """Return the credential's status entries (none, one or a list); ``status`` check failure
    for a malformed entry."""
    raw = credential.get("credentialStatus")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("type") != ENTRY_TYPE:
            raise CredentialCheckFailed("status", f"credentialStatus must be a {ENTRY_TYPE}")
        purpose = item.get("statusPurpose")
        index = item.get("statusListIndex")
        url = item.get("statusListCredential")
        if purpose not in PURPOSES:
            raise CredentialCheckFailed("status", f"unknown statusPurpose {purpose!r}")
        if not isinstance(index, str) or not index.isdigit() or not index.isascii():
            raise CredentialCheckFailed("status", "statusListIndex must be a decimal string")
        if not isinstance(url, str) or not url:
            raise CredentialCheckFailed("status", "statusListCredential must be a URL")
        out.append(StatusEntry(purpose, int(index), url))
    return out


def status_list_credential(
    *,
    list_id: str,
    issuer: str,
    purpose: str,
    status_list: BitstringStatusList,
    valid_from: str,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """Return an unsigned ``BitstringStatusListCredential`` carrying ``status_list``."""
    if purpose not in PURPOSES:
        raise SchemaViolation(f"statusPurpose must be one of {PURPOSES}", field="statusPurpose")
    credential: dict[str, Any] = {
        "@context": [VC_V2],
        "id": list_id,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_id}#list",
            "type": LIST_TYPE,
            "statusPurpose": purpose,
            "encodedList": status_list.encode(),
        },
    }
    if valid_until is not None:
        credential["validUntil"] = valid_until
    return credential


def issuer_of(credential: dict[str, Any]) -> str:
    """Return the issuer id of a credential (``issuer`` may be a string or an object)."""
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str):
        raise CredentialCheckFailed("format", "issuer must be a URL or an object with an id")
    return issuer


@dataclass(frozen=True, slots=True)
class ParsedStatusList:
    """The parts of a status list credential a status check needs."""

    id: str
    """The list credential's id (the URL entries name)."""
    issuer: str
    """The list's issuer."""
    purposes: tuple[str, ...]
    """Its status purposes."""
    bits: BitstringStatusList
    """The decoded bits."""

    def bit(self, entry: StatusEntry) -> bool:
        """Return the entry's bit; ``status`` check failure if the entry is not for this list,
        names another purpose, or is outside it."""
        if entry.list_credential != self.id:
            raise CredentialCheckFailed("status", "the status list is not the one the entry names")
        if entry.purpose not in self.purposes:
            raise CredentialCheckFailed("status", f"the list is not a {entry.purpose} list")
        if entry.index >= self.bits.size:
            raise CredentialCheckFailed(
                "status", f"statusListIndex {entry.index} is outside the list of {self.bits.size}"
            )
        return self.bits.get(entry.index)


def parse_list_credential(list_credential: dict[str, Any]) -> ParsedStatusList:
    """Read a (separately verified) status list credential; ``status`` check failure if it is
    not a ``BitstringStatusListCredential``."""
    list_id = list_credential.get("id")
    if not isinstance(list_id, str):
        raise CredentialCheckFailed("status", "the status list has no id")
    types = list_credential.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise CredentialCheckFailed("status", f"the list is not a {LIST_CREDENTIAL_TYPE}")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != LIST_TYPE:
        raise CredentialCheckFailed("status", f"the list's subject is not a {LIST_TYPE}")
    purposes = subject.get("statusPurpose")
    purposes = purposes if isinstance(purposes, list) else [purposes]
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        raise CredentialCheckFailed("status", "the list has no encodedList")
    return ParsedStatusList(
        id=list_id,
        issuer=issuer_of(list_credential),
        purposes=tuple(p for p in purposes if isinstance(p, str)),
        bits=BitstringStatusList.decode(encoded),
    )


def bit_of(entry: StatusEntry, list_credential: dict[str, Any]) -> bool:
    """Return the entry's bit in a (separately verified) list credential (``status`` check
    failure if the list does not fit the entry)."""
    return parse_list_credential(list_credential).bit(entry)


@dataclass(frozen=True, slots=True)
class CachedStatusList:
    """A status list credential held by the verifier, with the ledger evidence of its issuance."""

    credential: dict[str, Any]
    """The signed ``BitstringStatusListCredential``."""
    evidence: IssuanceEvidence | None = None
    """Ledger evidence of when it was published (needed only if its key was later revoked)."""


StatusLists = Mapping[str, "dict[str, Any] | CachedStatusList"]
"""Status list credentials by URL (``id``), as the verifier cached them."""


@dataclass(frozen=True, slots=True)
class CheckedStatusList:
    """A status list whose own proof and key were verified."""

    parsed: ParsedStatusList
    """Its id, issuer, purposes and bits."""
    valid_until: datetime | None
    """Its ``validUntil``, if any."""


def check_status_list(
    cached: dict[str, Any] | CachedStatusList, resolver: DidResolver
) -> CheckedStatusList:
    """Verify a status list credential on its own: shape, its issuer's key valid when it was
    published, its proof. ``CredentialCheckFailed("status_issuer")`` naming what failed."""
    entry = cached if isinstance(cached, CachedStatusList) else CachedStatusList(cached)
    lst = entry.credential
    try:
        parsed = parse_list_credential(lst)
        proof = proof_of(lst)
        vm = issuer_method(resolver, parsed.issuer, proof.get("verificationMethod"))
        check_key_valid(vm, entry.evidence)
        verify_proof(lst, vm.public_key, vm.suite)
        end = parse_datetime(lst["validUntil"], "validUntil") if "validUntil" in lst else None
    except CredentialCheckFailed as exc:
        where = lst.get("id") if isinstance(lst, dict) else None
        raise CredentialCheckFailed(
            "status_issuer", f"status list {where}: {exc.message}"
        ) from None
    return CheckedStatusList(parsed, end)


class VerifiedStatusLists:
    """A verifier's cache of status lists, each verified once when added and then used for
    any number of credentials (add the newer list to refresh one)."""

    __slots__ = ("_lists", "_resolver")

    def __init__(self, resolver: DidResolver) -> None:
        self._resolver = resolver
        self._lists: dict[str, CheckedStatusList] = {}

    def add(self, credential: dict[str, Any], evidence: IssuanceEvidence | None = None) -> None:
        """Verify a status list credential and keep it (``status_issuer`` failure if bad)."""
        checked = check_status_list(CachedStatusList(credential, evidence), self._resolver)
        self._lists[checked.parsed.id] = checked

    def get(self, url: str) -> CheckedStatusList | None:
        """Return the verified list with id ``url``, if cached."""
        return self._lists.get(url)


def usable_list(
    url: str,
    status_lists: StatusLists | VerifiedStatusLists,
    issuer: str,
    resolver: DidResolver,
    now: datetime,
) -> CheckedStatusList:
    """Return the list ``url`` verified, the issuer's own and not expired at ``now``
    (``status_issuer`` check failure otherwise)."""
    if isinstance(status_lists, VerifiedStatusLists):
        checked = status_lists.get(url)
    else:
        cached = status_lists.get(url)
        checked = None if cached is None else check_status_list(cached, resolver)
    if checked is None:
        raise CredentialCheckFailed("status_issuer", f"status list {url} is not available")
    if checked.parsed.issuer != issuer:
        raise CredentialCheckFailed(
            "status_issuer",
            f"status list {url} is issued by {checked.parsed.issuer}, not {issuer}",
        )
    if checked.valid_until is not None and now > checked.valid_until:
        raise CredentialCheckFailed("status_issuer", f"status list {url} has expired")
    return checked
