"""Envelope encryption: a known-answer test of the key-encryption key, and generate -> open
round trips with tampering, on both suites."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.errors import IntegrityError
from govchain.sharing import envelope

# RFC 7748 section 6.1: Alice's and Bob's X25519 keys and their shared secret.
ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")

SUITES = ("intl", "gm")


def _hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    # RFC 5869 with the standard library: no salt, so PRK = HMAC(zeros, IKM); T(1) is 32 bytes.
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_kek_known_answer_rfc7748_rfc5869() -> None:
    suite = get_suite("intl")
    expected = _hkdf_sha256(SHARED, b"govchain/sharing/kek/v1\x00tax\x00market")
    assert envelope.kek(suite, ALICE_PRIVATE, BOB_PUBLIC, "tax", "market") == expected
    assert envelope.kek(suite, BOB_PRIVATE, ALICE_PUBLIC, "tax", "market") == expected
    # The departments' roles are part of the key: tax->market differs from market->tax.
    assert envelope.kek(suite, ALICE_PRIVATE, BOB_PUBLIC, "market", "tax") != expected


@pytest.mark.parametrize("name", SUITES)
def test_kek_is_the_same_on_both_sides(name: str) -> None:
    suite = get_suite(name)
    owner, reader = suite.agreement_keypair(), suite.agreement_keypair()
    k1 = envelope.kek(suite, owner.private, reader.public, "tax", "market")
    k2 = envelope.kek(suite, reader.private, owner.public, "tax", "market")
    assert k1 == k2
    assert len(k1) == envelope.key_size(suite) == (32 if name == "intl" else 16)


@pytest.mark.parametrize("name", SUITES)
@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=40), data=st.data())
def test_seal_open_round_trip_and_any_tampering_fails(
    name: str, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    suite = get_suite(name)
    key = envelope.new_data_key(suite)
    sealed = envelope.seal(suite, key, plaintext, aad)
    assert envelope.open_sealed(suite, key, sealed, aad) == plaintext
    i = data.draw(st.integers(0, len(sealed) - 1), "byte")
    bit = data.draw(st.integers(0, 7), "bit")
    tampered = bytearray(sealed)
    tampered[i] ^= 1 << bit
    with pytest.raises(IntegrityError):
        envelope.open_sealed(suite, key, bytes(tampered), aad)
    with pytest.raises(IntegrityError):
        envelope.open_sealed(suite, key, sealed, aad + b"x")
    with pytest.raises(IntegrityError):
        envelope.open_sealed(suite, envelope.new_data_key(suite), sealed, aad)
    with pytest.raises(IntegrityError):
        envelope.open_sealed(suite, key, sealed[: envelope.NONCE_SIZE + 15], aad)


@pytest.mark.parametrize("name", SUITES)
def test_wrapped_data_key_opens_only_for_its_pair_and_place(name: str) -> None:
    suite = get_suite(name)
    tax, market, hrss = (suite.agreement_keypair() for _ in range(3))
    data_key = envelope.new_data_key(suite)
    aad = envelope.data_key_aad("tax", "market", "tax.arrears", "r1")
    wrapped = envelope.seal(
        suite, envelope.kek(suite, tax.private, market.public, "tax", "market"), data_key, aad
    )
    mine = envelope.kek(suite, market.private, tax.public, "tax", "market")
    assert envelope.open_sealed(suite, mine, wrapped, aad) == data_key
    intruder = envelope.kek(suite, hrss.private, tax.public, "tax", "market")
    with pytest.raises(IntegrityError):
        envelope.open_sealed(suite, intruder, wrapped, aad)
    with pytest.raises(IntegrityError):  # moved to another record
        envelope.open_sealed(
            suite, mine, wrapped, envelope.data_key_aad("tax", "market", "tax.arrears", "r2")
        )


@pytest.mark.parametrize("name", SUITES)
@settings(max_examples=25, deadline=None)
@given(plaintext=st.binary(max_size=300), data=st.data())
def test_sealed_under_new_key_opens_with_the_kek_and_any_tampering_fails(
    name: str, plaintext: bytes, data: st.DataObject
) -> None:
    suite = get_suite(name)
    kek = envelope.new_data_key(suite)
    aad = envelope.answer_aad("tax", "market", "ab" * 32)
    wrapped, sealed = envelope.seal_under_new_key(suite, kek, plaintext, aad)
    data_key = envelope.open_sealed(suite, kek, wrapped, aad)
    assert len(data_key) == envelope.key_size(suite)
    assert envelope.open_sealed(suite, data_key, sealed, aad) == plaintext
    assert wrapped[: envelope.NONCE_SIZE] != sealed[: envelope.NONCE_SIZE]  # distinct nonces
    again = envelope.seal_under_new_key(suite, kek, plaintext, aad)
    assert envelope.open_sealed(suite, kek, again[0], aad) != data_key  # a fresh key each time
    which = data.draw(st.sampled_from(["wrapped", "sealed"]), "which")
    blob = bytearray(wrapped if which == "wrapped" else sealed)
    blob[data.draw(st.integers(0, len(blob) - 1), "byte")] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(IntegrityError):
        if which == "wrapped":
            envelope.open_sealed(suite, kek, bytes(blob), aad)
        else:
            envelope.open_sealed(suite, data_key, bytes(blob), aad)
