"""Department PKI: each department's root key certifies the member keys it issues.

* ``intl``: X.509 (``cryptography``): a self-signed Ed25519 root CA certificate per department,
  member certificates with subject ``CN=<member id>, OU=<role>, O=<department>`` signed by it.
* ``gm``: ``cryptography`` cannot sign SM2 and tongsuopy 1.0.1 has no X.509 module, so a member
  credential is a *signed member record*: canonical JSON of the same fields, signed with the
  department's SM2 root key (GB/T 32918, default signer ID) under a domain-separation prefix.

Credentials are verified deterministically by the ``members`` contract (block time as "now").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from govchain.crypto import get_suite
from govchain.errors import BadSignature, SchemaViolation

GM_DOMAIN = b"govchain/member-credential/v1\x00"
"""Prefix of every signed gm credential."""
DEFAULT_VALID_DAYS = 3 * 365
"""Default lifetime of a member credential."""


@dataclass(frozen=True, slots=True)
class MemberCredential:
    """What a verified credential certifies."""

    member_id: str
    """``<dept>/<name>``."""
    dept: str
    """Issuing department."""
    role: str
    """Role of the member."""
    public_key: bytes
    """Raw public key of the member."""
    not_after_ms: int
    """End of validity."""


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _name(cn: str, dept: str, role: str = "") -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, dept),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    if role:
        attrs.insert(1, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role))
    return x509.Name(attrs)


def make_root(suite: str, dept: str, root_private: bytes, now_ms: int) -> bytes:
    """Return the department's self-signed root credential (DER certificate or signed JSON)."""
    if suite == "gm":
        s = get_suite("gm")
        pub = s.keypair_from_private(root_private).public
        body = {"type": "root", "dept": dept, "public_key": pub.hex()}
        return _sign_gm(root_private, body)
    key = Ed25519PrivateKey.from_private_bytes(root_private)
    start = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    name = _name(f"{dept} root", dept)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


def issue_member(
    suite: str,
    dept: str,
    root_private: bytes,
    member_id: str,
    role: str,
    public_key: bytes,
    now_ms: int,
    valid_days: int = DEFAULT_VALID_DAYS,
) -> bytes:
    """Return a member credential signed by the department root."""
    if not member_id.startswith(dept + "/"):
        raise SchemaViolation("a member id is '<department>/<name>' of the issuing department")
    start = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    end = start + dt.timedelta(days=valid_days)
    if suite == "gm":
        body = {
            "type": "member",
            "dept": dept,
            "id": member_id,
            "role": role,
            "public_key": public_key.hex(),
            "not_before_ms": now_ms - 300_000,
            "not_after_ms": _ms(end),
        }
        return _sign_gm(root_private, body)
    key = Ed25519PrivateKey.from_private_bytes(root_private)
    issuer = _name(f"{dept} root", dept)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(member_id, dept, role))
        .issuer_name(issuer)
        .public_key(Ed25519PublicKey.from_public_bytes(public_key))
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


def _sign_gm(root_private: bytes, body: Mapping[str, object]) -> bytes:
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    sig = get_suite("gm").sign(root_private, GM_DOMAIN + data)
    return orjson.dumps({"body": body, "signature": sig.hex()}, option=orjson.OPT_SORT_KEYS)


def _open_gm(cred: bytes, public: bytes | None) -> dict[str, object]:
    try:
        obj = orjson.loads(cred)
        body, sig = obj["body"], bytes.fromhex(obj["signature"])
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        key = public if public is not None else bytes.fromhex(body["public_key"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise SchemaViolation("the credential is not a signed member record") from None
    if not get_suite("gm").verify(key, GM_DOMAIN + data, sig):
        raise BadSignature("the credential's signature does not verify under the root key")
    out: dict[str, object] = body
    return out


def root_public_key(root: bytes) -> tuple[str, str, bytes]:
    """Verify a self-signed root credential; return ``(suite, dept, public key)``."""
    if root[:1] == b"{":
        body = _open_gm(root, None)
        if body.get("type") != "root":
            raise SchemaViolation("the credential is not a root credential")
        return "gm", str(body["dept"]), bytes.fromhex(str(body["public_key"]))
    cert = _load_cert(root)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    if not bc.ca:
        raise SchemaViolation("the root certificate is not a CA certificate")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        raise BadSignature("the root certificate is not validly self-signed") from None
    dept = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    pub = cert.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "intl", str(dept), pub


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise SchemaViolation("the credential is not a DER X.509 certificate") from None


def verify_member(root: bytes, credential: bytes, now_ms: int) -> MemberCredential:
    """Verify a member credential against its department's root credential at ``now_ms``."""
    suite, dept, root_pub = root_public_key(root)
    if suite == "gm":
        body = _open_gm(credential, root_pub)
        if body.get("type") != "member" or body.get("dept") != dept:
            raise SchemaViolation("the credential is not a member credential of this department")
        nb, na = body.get("not_before_ms"), body.get("not_after_ms")
        if type(nb) is not int or type(na) is not int or not nb <= now_ms <= na:
            raise SchemaViolation("the member credential is not valid at this time")
        return MemberCredential(
            str(body["id"]), dept, str(body["role"]), bytes.fromhex(str(body["public_key"])), na
        )
    cert = _load_cert(credential)
    root_cert = _load_cert(root)
    try:
        cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise BadSignature("the member certificate is not signed by the department root") from None
    if not _ms(cert.not_valid_before_utc) <= now_ms <= _ms(cert.not_valid_after_utc):
        raise SchemaViolation("the member certificate is not valid at this time")
    subject = cert.subject
    try:
        member_id = str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        role = str(subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value)
        org = str(subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)
    except IndexError:
        raise SchemaViolation("the member certificate's subject lacks CN, OU or O") from None
    if org != dept:
        raise SchemaViolation("the member certificate names another department")
    pub = cert.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return MemberCredential(member_id, dept, role, pub, _ms(cert.not_valid_after_utc))
