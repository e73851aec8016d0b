"""Signed data-plane requests: how a department member authenticates to an owner's node.

A request is ``{"body": {...}, "signature": hex}``; the body names the chain, the kind of request
(``read``, ``publish``, ``erase``, ``attest``), the signing member, the acting person, case,
purpose, the signer's clock, a random nonce and the arguments. The member signs
``REQUEST_DOMAIN + canonical(body)`` with its member key; the request id is the hash of the
canonical body. The owner node checks the signature against the member record on-chain, and
the read-log contract checks it again at block time, so a read log cannot be forged.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite
from govchain.errors import BadSignature, SchemaViolation, UnknownSigner
from govchain.ledger.encoding import MAX_SAFE_INTEGER, canonical_unchecked, check_value
from govchain.ledger.execution import MemberRecord, decode_member, member_key
from govchain.sharing.errors import StaleRequest
from govchain.sharing.model import only_fields

REQUEST_DOMAIN = b"govchain/sharing/request/v1\x00"
"""Prefix of every signed request message (never valid as a transaction signature)."""
REQUEST_VERSION = 1
"""Value of the body's ``v``."""
KINDS = ("read", "publish", "erase", "attest")
"""Kinds of request."""
MAX_SKEW_MS = 5 * 60 * 1000
"""How far a request's ``time_ms`` may be from the checking clock."""
_BODY_FIELDS = {
    "v",
    "chain",
    "kind",
    "signer",
    "actor",
    "case",
    "purpose",
    "time_ms",
    "nonce",
    "args",
}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A parsed request (its signature is checked by ``verify_request``)."""

    chain: str
    """Chain id."""
    kind: str
    """One of ``KINDS``."""
    signer: str
    """Member whose key signed."""
    actor: str
    """Person acting."""
    case: str
    """Case id (may be empty)."""
    purpose: str
    """Declared purpose (may be empty)."""
    time_ms: int
    """Signer's clock when signing."""
    nonce: int
    """Random number making each request (and so its id) unique."""
    args: Mapping[str, Any]
    """Arguments of the request."""
    body_bytes: bytes
    """Canonical bytes of the body."""
    signature: bytes
    """Signature of ``REQUEST_DOMAIN + body_bytes``."""

    def envelope(self) -> dict[str, Any]:
        """Return the wire form."""
        return {"body": self.body(), "signature": self.signature.hex()}

    def body(self) -> dict[str, Any]:
        """Return the body as JSON."""
        return {
            "v": REQUEST_VERSION,
            "chain": self.chain,
            "kind": self.kind,
            "signer": self.signer,
            "actor": self.actor,
            "case": self.case,
            "purpose": self.purpose,
            "time_ms": self.time_ms,
            "nonce": self.nonce,
            "args": dict(self.args),
        }

    def request_id(self, suite: CryptoSuite) -> str:
        """Return the request id: hex hash of the canonical body."""
        return suite.hash(self.body_bytes).hex()


def _text(body: Mapping[str, Any], name: str, max_len: int, empty: bool) -> str:
    value = body.get(name)
    if type(value) is not str or len(value) > max_len or (not empty and not value):
        raise SchemaViolation(f"request body.{name} must be a string of at most {max_len}")
    return value


def parse_request(obj: Any) -> SignedRequest:
    """Validate a request's wire form (schema only)."""
    obj = only_fields(obj, {"body", "signature"}, "request")
    body = only_fields(obj.get("body"), _BODY_FIELDS, "request body")
    if set(body) != _BODY_FIELDS:
        raise SchemaViolation(f"request body needs the fields {sorted(_BODY_FIELDS)}")
    if body["v"] != REQUEST_VERSION or type(body["v"]) is not int:
        raise SchemaViolation(f"request body.v must be {REQUEST_VERSION}")
    kind = body["kind"]
    if kind not in KINDS:
        raise SchemaViolation(f"request kind must be one of {list(KINDS)}", field="kind")
    time_ms = body["time_ms"]
    if type(time_ms) is not int or time_ms < 0:
        raise SchemaViolation("request body.time_ms must be a non-negative integer")
    nonce = body["nonce"]
    if type(nonce) is not int or not 0 <= nonce <= MAX_SAFE_INTEGER:
        raise SchemaViolation("request body.nonce must be an integer from 0 to 2^53-1")
    if type(body["args"]) is not dict:
        raise SchemaViolation("request body.args must be an object")
    check_value(body, "$.body")
    sig = obj.get("signature")
    try:
        signature = bytes.fromhex(sig) if type(sig) is str else b""
    except ValueError:
        signature = b""
    if not 32 <= len(signature) <= 128:
        raise SchemaViolation("request signature must be hex of a signature", field="signature")
    return SignedRequest(
        chain=_text(body, "chain", 64, False),
        kind=kind,
        signer=_text(body, "signer", 128, False),
        actor=_text(body, "actor", 128, False),
        case=_text(body, "case", 128, True),
        purpose=_text(body, "purpose", 256, True),
        time_ms=time_ms,
        nonce=nonce,
        args=body["args"],
        body_bytes=canonical_unchecked(body),
        signature=signature,
    )


def build_request(
    *,
    chain: str,
    kind: str,
    signer: str,
    actor: str,
    args: Mapping[str, Any],
    time_ms: int,
    sign: Callable[[bytes], bytes],
    case: str = "",
    purpose: str = "",
) -> SignedRequest:
    """Build and sign a request (client side); validated exactly like the node does."""
    body = {
        "v": REQUEST_VERSION,
        "chain": chain,
        "kind": kind,
        "signer": signer,
        "actor": actor,
        "case": case,
        "purpose": purpose,
        "time_ms": time_ms,
        "nonce": secrets.randbelow(MAX_SAFE_INTEGER + 1),
        "args": dict(args),
    }
    check_value(body)
    signature = sign(REQUEST_DOMAIN + canonical_unchecked(body))
    return parse_request({"body": body, "signature": signature.hex()})


def suite_of_key(public_key: bytes) -> CryptoSuite:
    """Return the suite a member key belongs to: the suites' public keys differ in length
    (Ed25519 32 bytes, SM2 64 bytes), so a contract that is not told the network's suite
    still verifies with exactly the suite that made the key."""
    return get_suite("intl" if len(public_key) == 32 else "gm")


def check_request(
    request: SignedRequest,
    *,
    chain: str,
    read_state: Callable[[bytes], bytes | None],
    now_ms: int,
    kind: str,
) -> MemberRecord:
    """Check chain, kind, clock skew and member (not the signature); return the member."""
    if request.chain != chain:
        raise SchemaViolation(f"request is for chain {request.chain!r}, not {chain!r}")
    if request.kind != kind:
        raise SchemaViolation(f"expected a {kind!r} request, got {request.kind!r}", field="kind")
    if abs(now_ms - request.time_ms) > MAX_SKEW_MS:
        raise StaleRequest(
            f"request time {request.time_ms} is more than {MAX_SKEW_MS // 1000} s from {now_ms}",
            time_ms=request.time_ms,
        )
    raw = read_state(member_key(request.signer))
    member = _decoded_member(raw) if raw is not None else None
    if member is None or not member.active:
        raise UnknownSigner(f"request signer {request.signer!r} is not an active member")
    if member.not_after_ms and now_ms > member.not_after_ms:
        raise UnknownSigner(f"the credential of request signer {request.signer!r} has expired")
    return member


@functools.lru_cache(maxsize=4096)
def _decoded_member(raw: bytes) -> MemberRecord:
    # A pure function of the stored bytes, and a batch of requests comes from a few members.
    return decode_member(raw)


def bad_signature(request: SignedRequest) -> BadSignature:
    """Return the error of a request whose signature does not verify."""
    return BadSignature(f"request signature does not verify under {request.signer!r}'s key")


def verify_request(
    request: SignedRequest,
    *,
    chain: str,
    read_state: Callable[[bytes], bytes | None],
    now_ms: int,
    kind: str,
    suite: CryptoSuite | None = None,
) -> MemberRecord:
    """Check chain, kind, clock skew, member and signature; return the signing member."""
    member = check_request(request, chain=chain, read_state=read_state, now_ms=now_ms, kind=kind)
    s = suite or suite_of_key(member.public_key)
    if not s.verify(member.public_key, REQUEST_DOMAIN + request.body_bytes, request.signature):
        raise bad_signature(request)
    return member


VERIFIED_CACHE_SIZE = 65_536
"""Verified request signatures remembered per process."""


class VerifiedSignatures:
    """Request signatures this process has verified.

    The owner's node verifies a read request's signature before it decrypts anything, and its
    read-log contract verifies the same signature again when it executes the log entry,
    moments later. The second check finds the first here instead of verifying again. Only
    signatures that verified are remembered, keyed by a hash of public key, message and
    signature: a hit is exactly what verifying would answer. Every other node executing the
    entry has not seen the request and verifies it itself.
    """

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self._size = size
        self._seen: dict[bytes, None] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(public: bytes, message: bytes, signature: bytes) -> bytes:
        h = hashlib.sha256()
        for part in (public, message, signature):
            h.update(len(part).to_bytes(4, "big"))
            h.update(part)
        return h.digest()

    def verify_many(
        self, suite: CryptoSuite, items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[bool]:
        """``suite.verify_many(items)``, verifying only the signatures not verified before."""
        keys = [self._key(*item) for item in items]
        seen = self._seen
        todo = [i for i, k in enumerate(keys) if k not in seen]
        valid = [True] * len(items)
        if not todo:
            return valid
        for i, ok in zip(todo, suite.verify_many([items[i] for i in todo]), strict=True):
            valid[i] = ok
        with self._lock:
            for i in todo:
                if valid[i]:
                    seen[keys[i]] = None
            while len(seen) > self._size:
                del seen[next(iter(seen))]
        return valid

    def __len__(self) -> int:
        return len(self._seen)


VERIFIED = VerifiedSignatures()
"""This process's verified request signatures (the owner's service and the read-log contract)."""
