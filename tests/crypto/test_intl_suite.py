"""Known-answer and edge-case tests of the ``intl`` suite.

Ed25519, SHA-256, AES-256-GCM and X25519 + HKDF-SHA256.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from govchain.crypto import get_suite
from govchain.crypto.intl import IntlSuite, x25519_shared_secret
from govchain.errors import IntegrityError, SchemaViolation

SUITE = get_suite("intl")

# RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3: (secret key, public key, message, signature).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(
    ("secret", "public", "message", "signature"), RFC8032_VECTORS, ids=["test1", "test2", "test3"]
)
def test_ed25519_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    keys = SUITE.keypair_from_private(bytes.fromhex(secret))
    assert keys.public.hex() == public
    assert SUITE.sign(keys.private, bytes.fromhex(message)).hex() == signature
    assert SUITE.verify(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature))
    assert not SUITE.verify(
        bytes.fromhex(public), bytes.fromhex(message) + b"\x00", bytes.fromhex(signature)
    )


def test_sha256_abc() -> None:
    # FIPS 180-2, appendix B.1 (one-block message "abc").
    assert SUITE.hash_name == "sha256"
    assert (
        SUITE.hash(b"abc").hex()
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 14 and 16 (AES-256).
GCM_VECTORS = [
    (
        "00" * 32,
        "00" * 12,
        "00" * 16,
        "",
        "cea7403d4d606b6e074ec5d3baf39d18",
        "d0d1c8a799996bf0265b98b5d48ab919",
    ),
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    ),
]


@pytest.mark.parametrize(
    ("key", "nonce", "plaintext", "aad", "ciphertext", "tag"), GCM_VECTORS, ids=["tc14", "tc16"]
)
def test_aes256_gcm_vectors(
    key: str, nonce: str, plaintext: str, aad: str, ciphertext: str, tag: str
) -> None:
    k, n, p, a = (bytes.fromhex(x) for x in (key, nonce, plaintext, aad))
    sealed = SUITE.aead_encrypt(k, n, p, a)
    assert sealed.hex() == ciphertext + tag
    assert SUITE.aead_decrypt(k, n, sealed, a) == p


# RFC 7748 section 6.1: Alice's and Bob's private keys, public keys and shared secret.
ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def test_x25519_rfc7748_alice_and_bob() -> None:
    assert x25519_shared_secret(ALICE_PRIVATE, BOB_PUBLIC).hex() == SHARED
    assert x25519_shared_secret(BOB_PRIVATE, ALICE_PUBLIC).hex() == SHARED


def _hkdf_sha256_reference(ikm: bytes, info: bytes) -> bytes:
    # RFC 5869 written out with the standard library, independent of the suite's HKDF: with no
    # salt, PRK = HMAC(zeros, IKM); one 32-byte block T(1) = HMAC(PRK, info || 0x01).
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_agree_is_hkdf_sha256_of_the_x25519_secret() -> None:
    info = b"govchain envelope v1"
    expected = _hkdf_sha256_reference(bytes.fromhex(SHARED), info)
    assert SUITE.agree(ALICE_PRIVATE, BOB_PUBLIC, info) == expected
    assert SUITE.agree(BOB_PRIVATE, ALICE_PUBLIC, info) == expected
    assert SUITE.agree(ALICE_PRIVATE, BOB_PUBLIC, info + b"!") != expected


def test_x25519_rejects_low_order_peer() -> None:
    # u = 0 is a point of small order: the shared secret would be all zeros.
    with pytest.raises(SchemaViolation):
        SUITE.agree(ALICE_PRIVATE, bytes(32), b"")


@pytest.mark.parametrize(("private", "public"), [(31, 32), (32, 33), (0, 32)])
def test_agree_rejects_wrong_key_lengths(private: int, public: int) -> None:
    with pytest.raises(SchemaViolation):
        SUITE.agree(bytes(private), bytes(public), b"")


def test_sign_and_keypair_reject_wrong_private_length() -> None:
    with pytest.raises(SchemaViolation):
        SUITE.sign(bytes(31), b"m")
    with pytest.raises(SchemaViolation):
        SUITE.keypair_from_private(bytes(64))


def test_verify_returns_false_for_malformed_inputs() -> None:
    keys = SUITE.generate_keypair()
    signature = SUITE.sign(keys.private, b"m")
    assert SUITE.verify(keys.public, b"m", signature)
    assert not SUITE.verify(keys.public[:-1], b"m", signature)
    assert not SUITE.verify(keys.public, b"m", signature[:-1])
    assert not SUITE.verify(keys.public, b"m", signature + b"\x00")
    assert not SUITE.verify(b"", b"m", b"")
    assert not SUITE.verify(bytes(32), b"m", bytes(64))
    # The identity point (small order) as a key, with an "R = identity, S = 0" signature.
    assert not SUITE.verify(b"\x01" + bytes(31), b"m", b"\x01" + bytes(63))


@pytest.mark.parametrize(("key", "nonce"), [(16, 12), (33, 12), (32, 16), (32, 0)])
def test_aead_rejects_wrong_key_or_nonce_length(key: int, nonce: int) -> None:
    with pytest.raises(SchemaViolation):
        SUITE.aead_encrypt(bytes(key), bytes(nonce), b"p", b"")
    with pytest.raises(SchemaViolation):
        SUITE.aead_decrypt(bytes(key), bytes(nonce), bytes(32), b"")


def test_aead_decrypt_rejects_short_ciphertext_and_wrong_key() -> None:
    sealed = SUITE.aead_encrypt(bytes(32), bytes(12), b"secret", b"aad")
    with pytest.raises(IntegrityError):
        SUITE.aead_decrypt(bytes(32), bytes(12), sealed[:15], b"aad")
    with pytest.raises(IntegrityError):
        SUITE.aead_decrypt(b"\x01" + bytes(31), bytes(12), sealed, b"aad")
    with pytest.raises(IntegrityError):
        SUITE.aead_decrypt(bytes(32), b"\x01" + bytes(11), sealed, b"aad")


def test_suite_sizes() -> None:
    assert isinstance(SUITE, IntlSuite)
    keys = SUITE.generate_keypair()
    assert (len(keys.private), len(keys.public)) == (32, 32)
    assert len(SUITE.sign(keys.private, b"m")) == SUITE.signature_size == 64
    agreement = SUITE.agreement_keypair()
    assert (len(agreement.private), len(agreement.public)) == (32, 32)


def test_intl_verify_chunk_agrees_with_verify() -> None:
    """The workers' lean loop must give exactly the verdicts of ``verify``."""
    from govchain.crypto import get_suite

    suite = get_suite("intl")
    kp = suite.generate_keypair()
    good = [(kp.public, b"m%d" % i, suite.sign(kp.private, b"m%d" % i)) for i in range(20)]
    bad = [
        (kp.public, b"other", good[0][2]),
        (kp.public[:-1] + bytes([kp.public[-1] ^ 1]), good[1][1], good[1][2]),
        (kp.public, good[2][1], good[2][2][:-1] + bytes([good[2][2][-1] ^ 0x80])),
        (kp.public[:31], good[3][1], good[3][2]),
        (kp.public, good[4][1], good[4][2][:63]),
        (kp.public, b"", suite.sign(kp.private, b"")),
        (kp.public, b"x" * 5000, suite.sign(kp.private, b"x" * 5000)),
    ]
    items = good + bad
    assert suite.verify_chunk(items) == [suite.verify(*t) for t in items]
