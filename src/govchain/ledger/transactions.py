"""Signed transactions: wire format, schema validation, canonical bytes, ids and signatures.

A transaction on the wire is the JSON object ``{"body": {...}, "signature": "<hex>"}``. The body
names the chain, the signing member, a nonce, the contract call and who acts for which case and
purpose. Its canonical bytes (``ledger.encoding``) are what is signed (after a domain-separation
prefix) and hashed into the transaction id, so the id does not depend on the signature encoding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.errors import MalformedEncoding, SchemaViolation, TooLarge
from govchain.ledger.encoding import (
    MAX_SAFE_INTEGER,
    canonical_unchecked,
    check_value,
    decode_unchecked,
    right_sized,
)
from govchain.types import MemberId, TxId

TX_FORMAT_VERSION = 1
"""Value of the body's ``v`` field understood by this software."""

SIGNING_DOMAIN = b"govchain/tx/v1\x00"
"""Prefix of every signed transaction message, so a transaction signature can never be
mistaken for a block or checkpoint signature."""

DEFAULT_MAX_TX_BYTES = 64 * 1024
"""Default size limit of one encoded transaction (genesis parameter ``max_tx_bytes``)."""

_IDENT = re.compile(r"[a-z][a-z0-9_.\-]{0,63}\Z")

# field -> (type, max length for strings, may be empty)
_STR_FIELDS: dict[str, tuple[int, bool]] = {
    "chain": (64, False),
    "signer": (128, False),
    "actor": (128, False),
    "case": (128, True),
    "purpose": (256, True),
}
_BODY_FIELDS = frozenset(
    ["v", "chain", "signer", "nonce", "contract", "method", "args", "actor", "case", "purpose"]
)
_ENVELOPE_FIELDS = frozenset(["body", "signature"])
_SORT = orjson.OPT_SORT_KEYS


@dataclass(frozen=True, slots=True)
class Transaction:
    """A parsed, schema-checked transaction (its signature is checked separately)."""

    chain: str
    """Chain id of the network this transaction is for."""
    signer: MemberId
    """Member whose key signed the transaction."""
    nonce: int
    """Per-signer number that is never accepted twice (replay protection)."""
    contract: str
    """Name of the contract called."""
    method: str
    """Entry point of the contract."""
    args: Mapping[str, Any]
    """Arguments of the call (canonical JSON object)."""
    actor: str
    """Id of the person (or service) acting, recorded for accountability."""
    case: str
    """Case (办件) id the action belongs to; may be empty."""
    purpose: str
    """Declared purpose of the action; may be empty."""
    signature: bytes
    """Signature of ``SIGNING_DOMAIN + body_bytes`` by the signer's key."""
    body_bytes: bytes
    """Canonical encoding of the body."""
    tx_id: TxId
    """Hash of ``body_bytes`` under the network's hash function."""

    def signing_message(self) -> bytes:
        """Return the exact bytes the signer signed."""
        return SIGNING_DOMAIN + self.body_bytes

    def body(self) -> dict[str, Any]:
        """Return the body as a JSON object."""
        return {
            "v": TX_FORMAT_VERSION,
            "chain": self.chain,
            "signer": self.signer,
            "nonce": self.nonce,
            "contract": self.contract,
            "method": self.method,
            "args": dict(self.args),
            "actor": self.actor,
            "case": self.case,
            "purpose": self.purpose,
        }

    def envelope(self) -> dict[str, Any]:
        """Return the wire form ``{"body": ..., "signature": hex}``."""
        return {"body": self.body(), "signature": self.signature.hex()}

    def encode(self) -> bytes:
        """Return the canonical bytes of the whole envelope. The body's canonical bytes are
        spliced in rather than rebuilt (keys in canonical order: body, then signature): every
        transaction is encoded into the ordering queue and into its block."""
        return b'{"body":%b,"signature":"%b"}' % (self.body_bytes, self.signature.hex().encode())


def _check_str(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if type(value) is not str:
        raise SchemaViolation(f"body.{name} must be a string", field=f"body.{name}")
    max_len, may_be_empty = _STR_FIELDS[name]
    if len(value) > max_len:
        raise SchemaViolation(
            f"body.{name} is longer than {max_len} characters", field=f"body.{name}"
        )
    if not value and not may_be_empty:
        raise SchemaViolation(f"body.{name} must not be empty", field=f"body.{name}")
    return value


def _check_ident(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if type(value) is not str or not _IDENT.match(value):
        raise SchemaViolation(
            f"body.{name} must be an identifier: lower-case letter, then up to 63 of [a-z0-9_.-]",
            field=f"body.{name}",
        )
    if len(_IDENTS_SEEN) < _IDENTS_SEEN_MAX:
        _IDENTS_SEEN.add(value)
    return value


def slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """Return the setter of slot ``name`` of a slotted (frozen) record class: hot paths build
    such records with ``object.__new__`` plus these setters, which is faster than the generated
    ``__init__`` (one ``object.__setattr__`` per field) and gives the same immutable object."""
    setter: Callable[[Any, Any], None] = vars(cls)[name].__set__
    return setter


_IDENTS_SEEN: set[str] = set()
"""Strings that passed ``_check_ident`` (contract and method names repeat on every call)."""
_IDENTS_SEEN_MAX = 4096

_new = object.__new__
_set_chain = slot_setter(Transaction, "chain")
_set_signer = slot_setter(Transaction, "signer")
_set_nonce = slot_setter(Transaction, "nonce")
_set_contract = slot_setter(Transaction, "contract")
_set_method = slot_setter(Transaction, "method")
_set_args = slot_setter(Transaction, "args")
_set_actor = slot_setter(Transaction, "actor")
_set_case = slot_setter(Transaction, "case")
_set_purpose = slot_setter(Transaction, "purpose")
_set_signature = slot_setter(Transaction, "signature")
_set_body_bytes = slot_setter(Transaction, "body_bytes")
_set_tx_id = slot_setter(Transaction, "tx_id")


def parse_envelope(obj: Any, hash_fn: Callable[[bytes], bytes]) -> Transaction:
    """Validate a decoded envelope (values already canonical-checked) and build the transaction."""
    if type(obj) is not dict:
        raise SchemaViolation("transaction must be a JSON object")
    if obj.keys() != _ENVELOPE_FIELDS:
        missing = sorted(_ENVELOPE_FIELDS - obj.keys())
        extra = sorted(obj.keys() - _ENVELOPE_FIELDS)
        raise SchemaViolation(
            f"transaction must have exactly the fields body and signature "
            f"(missing: {missing}, unknown: {extra})",
            missing=missing,
            unknown=extra,
        )
    body = obj["body"]
    if type(body) is not dict:
        raise SchemaViolation("body must be a JSON object", field="body")
    if body.keys() != _BODY_FIELDS:
        missing = sorted(_BODY_FIELDS - body.keys())
        extra = sorted(body.keys() - _BODY_FIELDS)
        raise SchemaViolation(
            f"body fields are wrong (missing: {missing}, unknown: {extra})",
            missing=missing,
            unknown=extra,
        )
    if body["v"] != TX_FORMAT_VERSION or type(body["v"]) is not int:
        raise SchemaViolation(
            f"body.v must be {TX_FORMAT_VERSION} (transaction format version)", field="body.v"
        )
    nonce = body["nonce"]
    if type(nonce) is float:
        raise MalformedEncoding(
            "body.nonce is a float; floats are not allowed in signed data", path="$.body.nonce"
        )
    if type(nonce) is not int or not 0 <= nonce <= MAX_SAFE_INTEGER:
        raise SchemaViolation("body.nonce must be an integer from 0 to 2^53-1", field="body.nonce")
    args = body["args"]
    if type(args) is not dict:
        raise SchemaViolation("body.args must be a JSON object", field="body.args")
    # Every other field's type is checked exactly below; only args is free-form JSON.
    check_value(args, "$.body.args")
    sig_hex = obj["signature"]
    if type(sig_hex) is not str:
        raise SchemaViolation("signature must be a hex string", field="signature")
    try:
        signature = bytes.fromhex(sig_hex)
    except ValueError:
        raise SchemaViolation("signature is not valid hex", field="signature") from None
    if not 32 <= len(signature) <= 128:
        raise SchemaViolation("signature has an impossible length", field="signature")
    body_bytes = right_sized(orjson.dumps(body, option=_SORT))
    # The common case of each field check is inlined; the helpers raise the precise error.
    chain = body["chain"]
    if type(chain) is not str or not 0 < len(chain) <= 64:
        _check_str(body, "chain")
    signer = body["signer"]
    if type(signer) is not str or not 0 < len(signer) <= 128:
        _check_str(body, "signer")
    contract = body["contract"]
    if type(contract) is not str or contract not in _IDENTS_SEEN:
        _check_ident(body, "contract")
    method = body["method"]
    if type(method) is not str or method not in _IDENTS_SEEN:
        _check_ident(body, "method")
    actor = body["actor"]
    if type(actor) is not str or not 0 < len(actor) <= 128:
        _check_str(body, "actor")
    case = body["case"]
    if type(case) is not str or len(case) > 128:
        _check_str(body, "case")
    purpose = body["purpose"]
    if type(purpose) is not str or len(purpose) > 256:
        _check_str(body, "purpose")
    # Built through the slot descriptors: the same frozen record as ``Transaction(...)``
    # without the generated ``__init__``'s twelve ``object.__setattr__`` calls.
    tx = _new(Transaction)
    _set_chain(tx, chain)
    _set_signer(tx, signer)
    _set_nonce(tx, nonce)
    _set_contract(tx, contract)
    _set_method(tx, method)
    _set_args(tx, args)
    _set_actor(tx, actor)
    _set_case(tx, case)
    _set_purpose(tx, purpose)
    _set_signature(tx, signature)
    _set_body_bytes(tx, body_bytes)
    _set_tx_id(tx, hash_fn(body_bytes))
    return tx


def parse_transaction(
    raw: bytes | str,
    hash_fn: Callable[[bytes], bytes],
    max_bytes: int = DEFAULT_MAX_TX_BYTES,
) -> Transaction:
    """Parse transaction bytes received from outside: size, JSON, canonical values, schema."""
    if len(raw) > max_bytes:
        raise TooLarge(
            f"transaction is {len(raw)} bytes; the limit is {max_bytes}",
            size=len(raw),
            limit=max_bytes,
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = decode_unchecked(raw)  # raises the same error as ``decode_unchecked``
    return parse_envelope(obj, hash_fn)


def parse_transaction_object(
    obj: Any,
    hash_fn: Callable[[bytes], bytes],
    max_bytes: int = DEFAULT_MAX_TX_BYTES,
) -> Transaction:
    """Parse an already-decoded JSON value (e.g. one element of a batch request)."""
    try:
        size = len(canonical_unchecked(obj))
    except (TypeError, ValueError) as exc:
        raise MalformedEncoding(f"transaction cannot be encoded: {exc}") from None
    if size > max_bytes:
        raise TooLarge(
            f"transaction is {size} bytes; the limit is {max_bytes}", size=size, limit=max_bytes
        )
    return parse_envelope(obj, hash_fn)


def build_transaction(
    *,
    chain: str,
    signer: MemberId,
    nonce: int,
    contract: str,
    method: str,
    args: Mapping[str, Any],
    actor: str,
    sign: Callable[[bytes], bytes],
    hash_fn: Callable[[bytes], bytes],
    case: str = "",
    purpose: str = "",
) -> Transaction:
    """Build and sign a transaction (client side); validates exactly like the node does."""
    body = {
        "v": TX_FORMAT_VERSION,
        "chain": chain,
        "signer": signer,
        "nonce": nonce,
        "contract": contract,
        "method": method,
        "args": dict(args),
        "actor": actor,
        "case": case,
        "purpose": purpose,
    }
    check_value(body)
    body_bytes = canonical_unchecked(body)
    signature = sign(SIGNING_DOMAIN + body_bytes)
    return parse_envelope({"body": body, "signature": signature.hex()}, hash_fn)
