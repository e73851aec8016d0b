"""QR payloads: base45 (RFC 9285), embedding vs reference, PNG round trips, wrong bytes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from govchain.credentials import QR_CHECK, CredentialCheckFailed, qr

CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:6a1f0c1e-0000-4000-8000-000000000002",
    "type": ["VerifiableCredential"],
    "issuer": "did:govchain:0123456789abcdef:market",
    "credentialSubject": {"licenceName": "食品经营许可证", "licenceNumber": "JY13501000000001"},
}
URL = "https://govchain.example/credentials/verify/urn:uuid:6a1f0c1e"


@pytest.mark.parametrize(
    ("raw", "text"),
    # RFC 9285 section 4.3 examples.
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc9285_examples(raw: bytes, text: str) -> None:
    assert qr.b45encode(raw) == text
    assert qr.b45decode(text) == raw


@given(st.binary(max_size=200))
def test_base45_round_trip(data: bytes) -> None:
    assert qr.b45decode(qr.b45encode(data)) == data


def test_base45_refuses_bad_text() -> None:
    for bad in ("GGW", "a", "ABCD", "::"):
        with pytest.raises(CredentialCheckFailed) as err:
            qr.b45decode(bad)
        assert err.value.check == "format"


@pytest.mark.parametrize("size", ["print", "screen"])
def test_embedded_credential_survives_png(size: str) -> None:
    payload = qr.payload_for(CREDENTIAL, credential_id=CREDENTIAL["id"], url=URL)
    assert payload.startswith(qr.EMBEDDED)
    png = qr.render_png(payload, size)
    width = Image.open(io.BytesIO(png)).size[0]
    assert width % qr.SIZES[size] == 0
    assert qr.decode_payload(qr.read_png(png)).credential == CREDENTIAL


def test_sd_jwt_is_embedded_as_text() -> None:
    token = "eyJhbGciOiJFZDI1NTE5In0.eyJpc3MiOiJ4In0.c2ln~WyJzIiwibiIsInYiXQ~"
    assert qr.decode_payload(qr.embedded_payload(token)).sd_jwt == token


def test_large_credential_gets_a_reference() -> None:
    big = {
        **CREDENTIAL,
        "credentialSubject": {"text": "".join(chr(0x4E00 + i) for i in range(3000))},
    }
    payload = qr.payload_for(big, credential_id=big["id"], url=URL)
    assert payload.startswith(qr.REFERENCE)
    ref = qr.decode_payload(qr.read_png(qr.render_png(payload))).reference
    assert ref is not None and ref.id == big["id"] and ref.url == URL
    qr.check_reference(ref, big)
    with pytest.raises(CredentialCheckFailed) as err:
        qr.check_reference(ref, CREDENTIAL)
    assert err.value.check == QR_CHECK


def test_every_single_wrong_byte_is_refused_by_the_hash_check() -> None:
    payload = qr.embedded_payload(CREDENTIAL)
    framed = qr.b45decode(payload[len(qr.EMBEDDED) :])
    for i in range(len(framed)):
        wrong = bytearray(framed)
        wrong[i] ^= 0x20
        bad = qr.EMBEDDED + qr.b45encode(bytes(wrong))
        with pytest.raises(CredentialCheckFailed) as err:
            qr.decode_payload(bad)
        assert err.value.check == QR_CHECK


def test_not_our_payload_or_no_code() -> None:
    with pytest.raises(CredentialCheckFailed, match="not a govchain"):
        qr.decode_payload("https://example.org")
    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    with pytest.raises(CredentialCheckFailed, match="no QR code"):
        qr.read_png(blank.getvalue())
    with pytest.raises(CredentialCheckFailed, match="not an image"):
        qr.read_png(b"not a png")
