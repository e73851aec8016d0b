"""Known-answer, cross-implementation and edge-case tests of the ``gm`` suite.

gmssl-pyx (GmSSL) is the independent SM2/SM3/SM4 implementation the suite is checked against.
It prints C error traces to stderr on failed verifications, so it is only asked to verify
signatures that must be valid.
"""

from __future__ import annotations

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.crypto.gm import (
    DEFAULT_SIGNER_ID,
    SM2_N,
    GmSuite,
    signature_from_der,
    signature_to_der,
    sm2_ecdh,
)
from govchain.errors import IntegrityError, SchemaViolation

SUITE = get_suite("gm")

# --- SM3, GB/T 32905-2016 appendix A -------------------------------------------------------


def test_sm3_example_1_abc() -> None:
    # GB/T 32905-2016 appendix A.1: the 3-byte message "abc".
    assert SUITE.hash_name == "sm3"
    assert (
        SUITE.hash(b"abc").hex()
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_sm3_example_2_abcd_times_16() -> None:
    # GB/T 32905-2016 appendix A.2: the 64-byte message "abcd" repeated 16 times.
    assert (
        SUITE.hash(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


@given(st.binary(max_size=300))
def test_sm3_matches_gmssl(data: bytes) -> None:
    assert SUITE.hash(data) == gmssl_pyx.sm3_hash(data)


# --- SM4, GB/T 32907-2016 appendix A, and SM4-GCM ------------------------------------------

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_example_1_single_block() -> None:
    # GB/T 32907-2016 appendix A.1: key = plaintext = 0123456789abcdeffedcba9876543210.
    # The suite's SM4 is cryptography's; its block function is what SM4-GCM is built on.
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    assert (encryptor.update(SM4_KEY) + encryptor.finalize()).hex() == (
        "681edf34d206965e86b3e94f536e4246"
    )


def test_sm4_example_2_one_million_encryptions() -> None:
    # GB/T 32907-2016 appendix A.2: encrypt the same block 1,000,000 times with the same key.
    # CBC with a zero IV over (X, 0, 0, ...) computes C_i = E(C_{i-1} xor 0) = E^i(X) inside the
    # library, so the last block is E^1000000(X) without a million Python calls (~0.1 s).
    blocks = 1_000_000
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.CBC(bytes(16))).encryptor()
    out = encryptor.update(SM4_KEY + bytes(16 * (blocks - 1))) + encryptor.finalize()
    assert out[-16:].hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_gcm_rfc8998_vector() -> None:
    # RFC 8998 appendix A.1 (SM4-GCM).
    nonce = bytes.fromhex("00001234567800000000abcd")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    plaintext = bytes.fromhex(
        "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
        "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
    )
    expected = (
        "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735"
        "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
        "83de3541e4c2b58177e065a9bf7b62ec"
    )
    sealed = SUITE.aead_encrypt(SM4_KEY, nonce, plaintext, aad)
    assert sealed.hex() == expected
    assert SUITE.aead_decrypt(SM4_KEY, nonce, sealed, aad) == plaintext


@given(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=12, max_size=12),
    st.binary(min_size=1, max_size=100),  # GmSSL refuses an empty plaintext
    st.binary(max_size=40),
)
def test_sm4_gcm_matches_gmssl(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> None:
    ciphertext, tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, aad, plaintext)
    assert SUITE.aead_encrypt(key, nonce, plaintext, aad) == ciphertext + tag
    assert SUITE.aead_decrypt(key, nonce, ciphertext + tag, aad) == plaintext


@pytest.mark.parametrize(("key", "nonce"), [(32, 12), (15, 12), (16, 16), (16, 0)])
def test_aead_rejects_wrong_key_or_nonce_length(key: int, nonce: int) -> None:
    with pytest.raises(SchemaViolation):
        SUITE.aead_encrypt(bytes(key), bytes(nonce), b"p", b"")
    with pytest.raises(SchemaViolation):
        SUITE.aead_decrypt(bytes(key), bytes(nonce), bytes(32), b"")


def test_aead_decrypt_rejects_short_ciphertext_and_wrong_key() -> None:
    sealed = SUITE.aead_encrypt(bytes(16), bytes(12), b"secret", b"aad")
    with pytest.raises(IntegrityError):
        SUITE.aead_decrypt(bytes(16), bytes(12), sealed[:15], b"aad")
    with pytest.raises(IntegrityError):
        SUITE.aead_decrypt(b"\x01" + bytes(15), bytes(12), sealed, b"aad")


# --- SM2 signatures against GmSSL ----------------------------------------------------------

MESSAGES = [b"", b"abc", b"message digest", bytes(range(256)) * 5]


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "abc", "digest", "1280B"])
def test_sm2_verifies_gmssl_signatures(message: bytes) -> None:
    public, private = gmssl_pyx.sm2_key_generate()
    assert SUITE.keypair_from_private(private).public == public
    assert DEFAULT_SIGNER_ID == gmssl_pyx.SM2_DEFAULT_SIGNER_ID == b"1234567812345678"
    der = gmssl_pyx.sm2_sign(private, public, message, signer_id=DEFAULT_SIGNER_ID)
    signature = signature_from_der(der)
    assert SUITE.verify(public, message, signature)
    assert not SUITE.verify(public, message + b"x", signature)


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "abc", "digest", "1280B"])
def test_gmssl_verifies_sm2_signatures(message: bytes) -> None:
    keys = SUITE.generate_keypair()
    signature = SUITE.sign(keys.private, message)
    assert len(signature) == 64
    assert SUITE.verify(keys.public, message, signature)
    assert gmssl_pyx.sm2_verify(
        keys.public, message, signature_to_der(signature), signer_id=DEFAULT_SIGNER_ID
    )


def test_sm2_der_round_trip_and_rejections() -> None:
    keys = SUITE.generate_keypair()
    signature = SUITE.sign(keys.private, b"m")
    assert signature_from_der(signature_to_der(signature)) == signature
    with pytest.raises(SchemaViolation):
        signature_from_der(b"\x30\x00garbage")
    with pytest.raises(SchemaViolation):
        signature_to_der(signature[:-1])


def test_sm2_private_key_range() -> None:
    # SM2 signing needs (1 + d) invertible mod n, so d must be in [1, n-2].
    for bad in (0, SM2_N - 1, SM2_N, 2**256 - 1):
        with pytest.raises(SchemaViolation):
            SUITE.keypair_from_private(bad.to_bytes(32, "big"))
    with pytest.raises(SchemaViolation):
        SUITE.sign(bytes(33), b"m")
    assert len(SUITE.keypair_from_private((SM2_N - 2).to_bytes(32, "big")).public) == 64


def test_sm2_verify_returns_false_for_malformed_inputs() -> None:
    keys = SUITE.generate_keypair()
    signature = SUITE.sign(keys.private, b"m")
    r, s = signature[:32], signature[32:]
    n = SM2_N.to_bytes(32, "big")
    assert SUITE.verify(keys.public, b"m", signature)
    for bad_signature in (bytes(64), bytes(32) + s, r + bytes(32), n + s, r + n, signature[:63]):
        assert not SUITE.verify(keys.public, b"m", bad_signature)
    off_curve = keys.public[:32] + bytes(a ^ 1 for a in keys.public[32:])
    for bad_public in (bytes(64), off_curve, keys.public[:63], b"\x04" + keys.public):
        assert not SUITE.verify(bad_public, b"m", signature)


def test_sm2_signature_is_not_valid_for_another_signer_id() -> None:
    # The suite verifies with the default ID; a GmSSL signature made with another signer ID must
    # not verify, which shows the ID really is part of what is signed.
    public, private = gmssl_pyx.sm2_key_generate()
    der = gmssl_pyx.sm2_sign(private, public, b"m", signer_id=b"ALICE123@YAHOO.COM")
    assert not SUITE.verify(public, b"m", signature_from_der(der))


# --- SM2-curve static ECDH against a pure-Python reference ---------------------------------

# GB/T 32918.5-2017: the recommended 256-bit curve y^2 = x^3 + ax + b over F_p.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)

Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    # Textbook affine addition: slow and not constant-time, which is fine for a test oracle.
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _multiply(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _encode(point: Point) -> bytes:
    assert point is not None
    return point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def test_reference_curve_parameters() -> None:
    x, y = G
    assert (y * y - (x * x * x + A * x + B)) % P == 0
    assert _multiply(SM2_N, G) is None


@settings(max_examples=10, deadline=None)
@given(st.integers(1, SM2_N - 2), st.integers(1, SM2_N - 2))
def test_sm2_ecdh_matches_reference(ours: int, theirs: int) -> None:
    our_private = ours.to_bytes(32, "big")
    their_public = SUITE.keypair_from_private(theirs.to_bytes(32, "big")).public
    assert their_public == _encode(_multiply(theirs, G))
    shared_point = _multiply(ours, _multiply(theirs, G))
    assert shared_point is not None
    assert sm2_ecdh(our_private, their_public) == shared_point[0].to_bytes(32, "big")


def _hkdf_sm3_reference(ikm: bytes, info: bytes) -> bytes:
    # RFC 5869 with GmSSL's HMAC-SM3: PRK = HMAC(zeros, IKM); T(1) = HMAC(PRK, info || 0x01).
    prk = gmssl_pyx.sm3_hmac(bytes(32), ikm)
    return bytes(gmssl_pyx.sm3_hmac(prk, info + b"\x01"))


def test_agree_is_hkdf_sm3_of_the_ecdh_value() -> None:
    alice, bob = SUITE.agreement_keypair(), SUITE.agreement_keypair()
    info = b"govchain envelope v1"
    expected = _hkdf_sm3_reference(sm2_ecdh(alice.private, bob.public), info)
    assert SUITE.agree(alice.private, bob.public, info) == expected
    assert SUITE.agree(bob.private, alice.public, info) == expected


def test_agree_rejects_malformed_keys() -> None:
    alice = SUITE.agreement_keypair()
    off_curve = alice.public[:32] + bytes(a ^ 1 for a in alice.public[32:])
    for bad_public in (bytes(64), off_curve, alice.public[:63]):
        with pytest.raises(SchemaViolation):
            SUITE.agree(alice.private, bad_public, b"")
    with pytest.raises(SchemaViolation):
        SUITE.agree(bytes(32), alice.public, b"")


def test_agreement_keys_do_not_disturb_signing_keys() -> None:
    # ECDH re-marks its own key objects as plain EC keys; the same raw key must still sign and
    # verify as SM2 afterwards (the signature caches hold separate objects).
    keys = SUITE.generate_keypair()
    signature = SUITE.sign(keys.private, b"m")
    SUITE.agree(keys.private, keys.public, b"")
    assert SUITE.verify(keys.public, b"m", SUITE.sign(keys.private, b"m"))
    assert SUITE.verify(keys.public, b"m", signature)
    assert gmssl_pyx.sm2_verify(keys.public, b"m", signature_to_der(signature))


def test_suite_sizes() -> None:
    assert isinstance(SUITE, GmSuite)
    keys = SUITE.generate_keypair()
    assert (len(keys.private), len(keys.public)) == (32, 64)
    assert SUITE.signature_size == 64
