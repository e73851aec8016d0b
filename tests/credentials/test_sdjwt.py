"""SD-JWT VC: issuance, presentation, key binding, tampering and interoperability.

Interoperability: the issuer-signed SD-JWT and its disclosures are verified by the SD-JWT
reference implementation (``sd_jwt``, OpenWallet Foundation), and the issuer JWT and the Key
Binding JWT by ``joserfc``, neither written by us.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OKPKey
from jwcrypto.jwk import JWK  # type: ignore[import-untyped]
from sd_jwt.verifier import SDJWTVerifier

from govchain.credentials import CredentialCheckFailed, proofs, sdjwt
from govchain.credentials.multibase import b64url_decode, b64url_encode
from govchain.crypto import KeyPair, get_suite
from govchain.errors import SchemaViolation

ISSUER = "did:govchain:0123456789abcdef:civil"
KID = ISSUER + "#key-1"
CLAIMS: dict[str, Any] = {
    "iss": ISSUER,
    "vct": "https://govchain.example/vct/marriage-certificate",
    "iat": 1_765_000_000,
    "licenceName": "结婚证",
    "holder": "张三",
    "holderIdentifier": "11010519491231002X",
    "maritalStatus": "married",
}


def _key(suite: str, seed: int) -> KeyPair:
    return get_suite(suite).keypair_from_private(seed.to_bytes(32, "big"))


def _counter_salts() -> Any:
    counter = itertools.count()
    return lambda: next(counter).to_bytes(16, "big")


def _issue(suite: str, holder: KeyPair | None = None) -> tuple[str, KeyPair]:
    issuer = _key(suite, 3)
    claims = dict(CLAIMS)
    if holder is not None:
        claims["cnf"] = {"jwk": sdjwt.jwk_of(holder.public, suite)}
    token = sdjwt.issue_sd_jwt(
        claims,
        ["holder", "holderIdentifier", "maritalStatus"],
        proofs.signer_from_keypair(suite, issuer),
        kid=KID,
        salt=_counter_salts(),
    )
    return token, issuer


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_issue_present_verify(suite: str) -> None:
    holder = _key(suite, 4)
    token, issuer = _issue(suite, holder)
    header = sdjwt.issuer_jwt_header(token)
    assert header == {"alg": sdjwt.JWS_ALGS[suite], "typ": "dc+sd-jwt", "kid": KID}
    payload = json.loads(b64url_decode(sdjwt.parse(token).issuer_jwt.split(".")[1]))
    assert "holder" not in payload and len(payload["_sd"]) == 3
    assert payload["_sd_alg"] == sdjwt.SD_ALGS[suite]

    full = sdjwt.verify_sd_jwt(token, issuer.public, suite)
    assert {k: full.claims[k] for k in CLAIMS} == CLAIMS

    shown = sdjwt.present(
        token,
        ["maritalStatus"],
        holder=proofs.signer_from_keypair(suite, holder),
        aud="https://housing.example",
        nonce="abc",
        iat=1_765_000_100,
    )
    result = sdjwt.verify_sd_jwt(
        shown,
        issuer.public,
        suite,
        require_key_binding=True,
        aud="https://housing.example",
        nonce="abc",
    )
    assert result.key_bound
    assert result.claims["maritalStatus"] == "married"
    assert "holder" not in result.claims and "holderIdentifier" not in result.claims


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_tampering_is_refused(suite: str) -> None:
    holder = _key(suite, 4)
    token, issuer = _issue(suite, holder)
    sd = sdjwt.parse(token)
    # A disclosure whose value was changed no longer matches any digest.
    salt, name, _ = json.loads(b64url_decode(sd.disclosures[0]))
    changed = b64url_encode(json.dumps([salt, name, "single"]).encode())
    cases = [
        sdjwt.SdJwt(sd.issuer_jwt, (*sd.disclosures[1:], changed), None).serialize(),
        sdjwt.SdJwt(sd.issuer_jwt, (sd.disclosures[0], sd.disclosures[0]), None).serialize(),
        token.replace(".", ".e", 1),
    ]
    for bad in cases:
        with pytest.raises(CredentialCheckFailed):
            sdjwt.verify_sd_jwt(bad, issuer.public, suite)
    with pytest.raises(CredentialCheckFailed, match="Key Binding JWT is required"):
        sdjwt.verify_sd_jwt(token, issuer.public, suite, require_key_binding=True)
    # A presentation bound by another key, or replayed with a new disclosure, is refused.
    thief = proofs.signer_from_keypair(suite, _key(suite, 5))
    stolen = sdjwt.present(token, ["holder"], holder=thief, aud="a", nonce="n")
    with pytest.raises(CredentialCheckFailed, match="Key Binding"):
        sdjwt.verify_sd_jwt(stolen, issuer.public, suite, aud="a", nonce="n")
    honest = sdjwt.present(
        token, ["holder"], holder=proofs.signer_from_keypair(suite, holder), aud="a", nonce="n"
    )
    head, kb = honest.rsplit("~", 1)
    widened = head + "~" + sd.disclosures[2] + "~" + kb
    with pytest.raises(CredentialCheckFailed, match="sd_hash"):
        sdjwt.verify_sd_jwt(widened, issuer.public, suite, aud="a", nonce="n")


def test_always_visible_claims_cannot_be_made_disclosable() -> None:
    signer = proofs.signer_from_keypair("intl", _key("intl", 3))
    for bad in (["iss"], ["vct"], ["nope"]):
        with pytest.raises(SchemaViolation):
            sdjwt.issue_sd_jwt(CLAIMS, bad, signer, kid=KID)


def test_reference_implementation_verifies_our_sd_jwt() -> None:
    token, issuer = _issue("intl")
    shown = sdjwt.present(token, ["holder", "maritalStatus"])
    issuer_jwk = JWK(kty="OKP", crv="Ed25519", x=b64url_encode(issuer.public))

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        assert iss == ISSUER and header["kid"] == KID
        return issuer_jwk

    verified = SDJWTVerifier(shown, issuer_key).get_verified_payload()
    assert verified["holder"] == "张三" and verified["maritalStatus"] == "married"
    assert "holderIdentifier" not in verified


def test_joserfc_verifies_the_issuer_jwt_and_the_key_binding_jwt() -> None:
    holder = _key("intl", 4)
    token, issuer = _issue("intl", holder)
    shown = sdjwt.present(
        token,
        ["holder"],
        holder=proofs.signer_from_keypair("intl", holder),
        aud="https://bank.example",
        nonce="n1",
        iat=1_765_000_200,
    )
    parts = shown.split("~")
    issuer_key = OKPKey.import_key(
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(issuer.public)}
    )
    obj = jws.deserialize_compact(parts[0], issuer_key, algorithms=["Ed25519"])
    assert obj.headers()["typ"] == "dc+sd-jwt"
    holder_jwk: dict[str, Any] = dict(sdjwt.jwk_of(holder.public, "intl"))
    holder_key = OKPKey.import_key(holder_jwk)
    kb = jws.deserialize_compact(parts[-1], holder_key, algorithms=["Ed25519"])
    claims = json.loads(kb.payload)
    assert claims["aud"] == "https://bank.example" and claims["nonce"] == "n1"
    presented = "~".join(parts[:-1]) + "~"
    assert claims["sd_hash"] == b64url_encode(hashlib.sha256(presented.encode()).digest())
