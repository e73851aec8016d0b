"""EdDSA JWTs: RFC 8037 known answer, sign -> verify round trips, and every kind of bad token."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import InvalidToken
from govchain.identity.tokens import TokenKey, TokenSigner, b64u, b64u_decode

ISS = "https://id.example.gov.cn"
NOW = 1_800_000_000

# RFC 8037 appendix A.1 / A.3: the example Ed25519 key and its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
# RFC 8037 appendix A.4: signature of the payload "Example of Ed25519 signing".
RFC8037_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIG = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {"sub": "citizen/1", "aud": "api", "typ": "access"}
    base.update(iat=NOW, exp=NOW + 600)
    base.update(over)
    return base


def test_rfc8037_key_thumbprint_and_signature() -> None:
    key = TokenKey.from_private(b64u_decode(RFC8037_D))
    assert b64u(key.public) == RFC8037_X
    assert key.kid == RFC8037_KID
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    sig = Ed25519PrivateKey.from_private_bytes(key.private).sign(RFC8037_INPUT.encode())
    assert b64u(sig) == RFC8037_SIG


@given(st.dictionaries(st.sampled_from(["name", "dept", "role", "x"]), st.text(max_size=20)))
def test_round_trip(extra: dict[str, str]) -> None:
    signer = TokenSigner(TokenKey.from_private(bytes(32)), ISS)
    token = signer.sign(claims(**extra))
    got = signer.verify(token, audience="api", now=NOW, typ="access")
    assert got["iss"] == ISS
    for k, v in extra.items():
        assert got[k] == v


def _tamper_payload(token: str, **change: object) -> str:
    head, body, sig = token.split(".")
    obj = orjson.loads(b64u_decode(body))
    obj.update(change)
    return f"{head}.{b64u(orjson.dumps(obj))}.{sig}"


def test_bad_tokens_are_rejected() -> None:
    signer = TokenSigner(TokenKey.generate(), ISS)
    good = signer.sign(claims())
    other_key = TokenSigner(TokenKey.generate(), ISS).sign(claims())
    other_issuer_same_key = TokenSigner(signer.key, "https://evil.example").sign(claims())
    head, body, sig = good.split(".")
    none_alg = b64u(b'{"alg":"none","typ":"JWT"}') + f".{body}."
    flipped = bytearray(b64u_decode(sig))
    flipped[0] ^= 1
    cases = {
        "forged payload": _tamper_payload(good, sub="tax/admin"),
        "other key": other_key,
        "other issuer": other_issuer_same_key,
        "alg none": none_alg,
        "bad signature": f"{head}.{body}.{b64u(bytes(flipped))}",
        "not a jws": "abc",
        "garbage": f"{head}.!!!.{sig}",
        "expired": signer.sign(claims(exp=NOW - 31)),
        "not yet": signer.sign(claims(iat=NOW + 3600)),
        "other audience": signer.sign(claims(aud="other")),
        "id token as access": signer.sign(claims(typ="id")),
    }
    for what, token in cases.items():
        with pytest.raises(InvalidToken):
            signer.verify(token, audience="api", now=NOW, typ="access")
            pytest.fail(what)
    assert signer.verify(good, audience="api", now=NOW + 620, typ="access")  # leeway


def test_jwk_has_no_private_part() -> None:
    key = TokenKey.generate()
    jwk = key.jwk()
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == key.public
