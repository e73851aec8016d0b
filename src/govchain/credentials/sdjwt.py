"""Selective disclosure: SD-JWT (RFC 9901) in the SD-JWT VC format.

Issuance: the issuer signs a JWT whose payload holds the always-visible claims (``iss``,
``vct``, ``iat``, ``nbf``/``exp``, ``cnf``, ``credentialStatus``) and, for each disclosable
claim, only the digest of its *disclosure* ``base64url(JSON [salt, name, value])`` in ``_sd``.
The holder keeps the disclosures and presents ``<JWT>~<D1>~...~<Dk>~[<KB-JWT>]`` with only the
ones a verifier needs; the optional Key Binding JWT (``typ`` ``kb+jwt``) signs ``aud``,
``nonce``, ``iat`` and ``sd_hash`` (the digest of everything before it) with the ``cnf`` key.

============  ============================  =========================================
suite         JWS ``alg``                   ``_sd_alg`` / ``sd_hash`` digest
============  ============================  =========================================
``intl``      ``Ed25519`` (RFC 9864)        ``sha-256``
``gm``        ``SM2SM3`` (ours, 64-byte     ``sm3`` (ours; not in the IANA registry)
              ``r || s``, default ID)
============  ============================  =========================================

``Ed25519`` is the fully-specified name RFC 9864 registers in place of the deprecated
``EdDSA``. JWS has no registered SM2 algorithm; ``SM2SM3`` and ``sm3`` are our names, documented in
docs/credentials.md. The header ``typ`` is ``dc+sd-jwt`` and ``kid`` the issuer's
``did:govchain`` verification method. Claims are top-level object members (the SD-JWT VC
shape); array-element disclosures are read when verifying but never issued.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govchain.credentials import CredentialCheckFailed
from govchain.credentials.multibase import b64url_decode, b64url_encode
from govchain.credentials.proofs import CredentialSigner, network_suite
from govchain.crypto import get_suite
from govchain.errors import GovchainError, SchemaViolation

SD_JWT_TYPE = "dc+sd-jwt"
"""JOSE ``typ`` of an SD-JWT VC."""
KB_JWT_TYPE = "kb+jwt"
"""JOSE ``typ`` of a Key Binding JWT."""
JWS_ALGS = {"intl": "Ed25519", "gm": "SM2SM3"}
"""JWS ``alg`` of each network suite."""
SD_ALGS = {"intl": "sha-256", "gm": "sm3"}
"""``_sd_alg`` of each network suite."""
ALWAYS_VISIBLE = frozenset({"iss", "vct", "iat", "nbf", "exp", "cnf", "credentialStatus"})
"""Claims that may never be made disclosable (the SD-JWT VC rules plus our status entry)."""
_RESERVED = frozenset({"_sd", "_sd_alg", "..."})


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fail(check: str, reason: str) -> CredentialCheckFailed:
    return CredentialCheckFailed(check, reason)


def jwk_of(public_key: bytes, suite: str) -> dict[str, str]:
    """Return the JWK of a raw public key (``OKP``/``Ed25519`` or ``EC``/``SM2``)."""
    if network_suite(suite) == "intl":
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key)}
    return {
        "kty": "EC",
        "crv": "SM2",
        "x": b64url_encode(public_key[:32]),
        "y": b64url_encode(public_key[32:]),
    }


def public_key_of_jwk(jwk: Any) -> tuple[str, bytes]:
    """Return ``(suite, raw public key)`` of a JWK made by ``jwk_of``."""
    try:
        if jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
            return "intl", b64url_decode(jwk["x"])
        if jwk["kty"] == "EC" and jwk["crv"] == "SM2":
            return "gm", b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
    except (KeyError, TypeError, GovchainError):
        pass
    raise _fail("format", "cnf.jwk is not an Ed25519 or SM2 key")


def _sign_jwt(header: dict[str, Any], payload: dict[str, Any], signer: CredentialSigner) -> str:
    signing_input = b64url_encode(_json(header)) + "." + b64url_encode(_json(payload))
    return signing_input + "." + b64url_encode(signer.sign(signing_input.encode("ascii")))


def _parse_jwt(token: str, what: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _fail("format", f"{what} is not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (GovchainError, ValueError):
        raise _fail("format", f"{what} is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise _fail("format", f"{what} header and payload must be JSON objects")
    return header, payload, signature, (parts[0] + "." + parts[1]).encode("ascii")


def _digest(suite: str, text: str) -> str:
    return b64url_encode(get_suite(suite).hash(text.encode("ascii")))


@dataclass(frozen=True, slots=True)
class SdJwt:
    """A parsed SD-JWT (issuer JWT, disclosures, optional Key Binding JWT)."""

    issuer_jwt: str
    """The issuer-signed JWT."""
    disclosures: tuple[str, ...]
    """The disclosures present (base64url strings)."""
    key_binding_jwt: str | None
    """The Key Binding JWT, if any."""

    def serialize(self) -> str:
        """Return the compact form ``<JWT>~<D>~...~[<KB-JWT>]``."""
        return "~".join((self.issuer_jwt, *self.disclosures)) + "~" + (self.key_binding_jwt or "")


def parse(token: str) -> SdJwt:
    """Split a compact SD-JWT; ``format`` check failure if it is not one."""
    if not isinstance(token, str) or "~" not in token or not token.isascii():
        raise _fail("format", "not a compact SD-JWT (<JWT>~...~)")
    parts = token.split("~")
    kb = parts[-1] or None
    if any(not p for p in parts[1:-1]):
        raise _fail("format", "empty disclosure")
    return SdJwt(parts[0], tuple(parts[1:-1]), kb)


def issue_sd_jwt(
    claims: Mapping[str, Any],
    disclosable: Iterable[str],
    signer: CredentialSigner,
    *,
    kid: str,
    salt: Callable[[], bytes] = lambda: secrets.token_bytes(16),
) -> str:
    """Return an SD-JWT VC (with every disclosure, no key binding) for ``claims``.

    ``claims`` must hold ``iss`` and ``vct`` (and may hold ``iat``, ``nbf``, ``exp`` as integer
    seconds, ``cnf`` and ``credentialStatus``); the names in ``disclosable`` become selectively
    disclosable. ``salt`` gives the 128-bit salts (tests pass a seeded source).
    """
    suite = signer.suite
    for required in ("iss", "vct"):
        if not isinstance(claims.get(required), str):
            raise SchemaViolation(f"claim {required!r} is required", field=required)
    chosen = set(disclosable)
    bad = sorted((chosen & ALWAYS_VISIBLE) | (chosen & _RESERVED) | (chosen - set(claims)))
    if bad:
        raise SchemaViolation(f"claims {bad} cannot be disclosable", field="disclosable")
    payload: dict[str, Any] = {k: v for k, v in claims.items() if k not in chosen}
    disclosures = []
    for name in sorted(chosen):
        disclosure = b64url_encode(_json([b64url_encode(salt()), name, claims[name]]))
        disclosures.append(disclosure)
    if disclosures:
        # Sorted digests: the order reveals nothing about the claim names.
        payload["_sd"] = sorted(_digest(suite, d) for d in disclosures)
    payload["_sd_alg"] = SD_ALGS[suite]
    header = {"alg": JWS_ALGS[suite], "typ": SD_JWT_TYPE, "kid": kid}
    jwt = _sign_jwt(header, payload, signer)
    return SdJwt(jwt, tuple(disclosures), None).serialize()


def _disclosure_name(disclosure: str) -> str | None:
    try:
        value = json.loads(b64url_decode(disclosure))
    except (GovchainError, ValueError):
        raise _fail("format", "a disclosure is not base64url JSON") from None
    if isinstance(value, list) and len(value) == 3 and isinstance(value[1], str):
        return value[1]
    return None


def present(
    token: str,
    disclose: Iterable[str],
    *,
    holder: CredentialSigner | None = None,
    aud: str = "",
    nonce: str = "",
    iat: int = 0,
) -> str:
    """Return a presentation with only the disclosures of the claims in ``disclose``.

    With ``holder`` (the key in ``cnf``), a Key Binding JWT over ``aud``, ``nonce`` and ``iat``
    is appended.
    """
    sd = parse(token)
    wanted = set(disclose)
    kept = tuple(d for d in sd.disclosures if _disclosure_name(d) in wanted)
    presented = SdJwt(sd.issuer_jwt, kept, None).serialize()
    if holder is None:
        return presented
    _, payload, _, _ = _parse_jwt(sd.issuer_jwt, "issuer JWT")
    # sd_hash uses the issuer's _sd_alg; the KB-JWT signature uses the holder key's suite.
    issuer_suite = {v: k for k, v in SD_ALGS.items()}.get(payload.get("_sd_alg", ""), "intl")
    sd_hash = _digest(issuer_suite, presented)
    kb_payload = {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_hash}
    kb = _sign_jwt({"alg": JWS_ALGS[holder.suite], "typ": KB_JWT_TYPE}, kb_payload, holder)
    return presented + kb


def issuer_jwt_header(token: str) -> dict[str, Any]:
    """Return the (unverified) header of the issuer JWT, to find ``kid``."""
    header, _, _, _ = _parse_jwt(parse(token).issuer_jwt, "issuer JWT")
    return header


def _replace_digests(
    value: Any, by_digest: dict[str, tuple[str, Any]], used: set[str], suite: str
) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        digests = value.get("_sd", [])
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise _fail("format", "_sd must be a list of digests")
        for key, item in value.items():
            if key in ("_sd", "_sd_alg"):
                continue
            out[key] = _replace_digests(item, by_digest, used, suite)
        for digest in digests:
            if digest in used:
                raise _fail("proof", "a digest appears twice")
            found = by_digest.get(digest)
            if found is None:
                continue  # undisclosed claim (or decoy)
            used.add(digest)
            name, claim = found
            if name in out or name in _RESERVED:
                raise _fail("proof", f"disclosed claim {name!r} clashes with the payload")
            out[name] = _replace_digests(claim, by_digest, used, suite)
        return out
    if isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"..."}:
                digest = item["..."]
                if digest in used:
                    raise _fail("proof", "a digest appears twice")
                found = by_digest.get(digest)
                if found is not None:
                    used.add(digest)
                    items.append(_replace_digests(found[1], by_digest, used, suite))
                continue
            items.append(_replace_digests(item, by_digest, used, suite))
        return items
    return value


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """What an SD-JWT verification established."""

    claims: dict[str, Any]
    """The payload with every presented disclosure put back (``_sd`` members removed)."""
    header: dict[str, Any]
    """The issuer JWT header."""
    key_bound: bool
    """Whether a Key Binding JWT was verified."""


def verify_sd_jwt(
    token: str,
    public_key: bytes,
    suite: str,
    *,
    require_key_binding: bool = False,
    aud: str | None = None,
    nonce: str | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT (VC) presentation under the issuer's ``public_key``.

    Checks the issuer signature and header (``proof``/``format``), that every disclosure's
    digest is in the payload exactly once (``proof``), and the Key Binding JWT when present or
    required (``proof``: ``sd_hash``, ``aud``, ``nonce``, signature by the ``cnf`` key).
    """
    network = network_suite(suite)
    sd = parse(token)
    header, payload, signature, signing_input = _parse_jwt(sd.issuer_jwt, "issuer JWT")
    if header.get("typ") != SD_JWT_TYPE:
        raise _fail("format", f"typ must be {SD_JWT_TYPE}")
    if header.get("alg") != JWS_ALGS[network]:
        raise _fail("proof", f"alg must be {JWS_ALGS[network]}")
    if not get_suite(network).verify(public_key, signing_input, signature):
        raise _fail("proof", "issuer signature does not verify")
    if payload.get("_sd_alg") != SD_ALGS[network]:
        raise _fail("proof", f"_sd_alg must be {SD_ALGS[network]}")
    by_digest: dict[str, tuple[str, Any]] = {}
    for disclosure in sd.disclosures:
        try:
            value = json.loads(b64url_decode(disclosure))
        except (GovchainError, ValueError):
            raise _fail("format", "a disclosure is not base64url JSON") from None
        if not isinstance(value, list) or len(value) not in (2, 3):
            raise _fail("format", "a disclosure must be [salt, name, value] or [salt, value]")
        digest = _digest(network, disclosure)
        if digest in by_digest:
            raise _fail("proof", "the same disclosure is presented twice")
        name = value[1] if len(value) == 3 else ""
        by_digest[digest] = (name, value[-1])
    used: set[str] = set()
    claims = _replace_digests(payload, by_digest, used, network)
    if len(used) != len(by_digest):
        raise _fail("proof", "a disclosure is not covered by the issuer's signature")
    key_bound = False
    if sd.key_binding_jwt is not None:
        _verify_key_binding(sd, payload, network, aud, nonce)
        key_bound = True
    elif require_key_binding:
        raise _fail("proof", "a Key Binding JWT is required")
    return VerifiedSdJwt(claims=claims, header=header, key_bound=key_bound)


def _verify_key_binding(
    sd: SdJwt, payload: dict[str, Any], network: str, aud: str | None, nonce: str | None
) -> None:
    assert sd.key_binding_jwt is not None
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict):
        raise _fail("proof", "a Key Binding JWT needs a cnf key in the credential")
    holder_suite, holder_key = public_key_of_jwk(cnf.get("jwk"))
    header, kb, signature, signing_input = _parse_jwt(sd.key_binding_jwt, "Key Binding JWT")
    if header.get("typ") != KB_JWT_TYPE or header.get("alg") != JWS_ALGS[holder_suite]:
        raise _fail("proof", "Key Binding JWT header is wrong")
    if not get_suite(holder_suite).verify(holder_key, signing_input, signature):
        raise _fail("proof", "Key Binding JWT signature does not verify")
    presented = SdJwt(sd.issuer_jwt, sd.disclosures, None).serialize()
    if kb.get("sd_hash") != _digest(network, presented):
        raise _fail("proof", "Key Binding JWT sd_hash does not match the presentation")
    if aud is not None and kb.get("aud") != aud:
        raise _fail("proof", "Key Binding JWT is for another audience")
    if nonce is not None and kb.get("nonce") != nonce:
        raise _fail("proof", "Key Binding JWT nonce differs")
