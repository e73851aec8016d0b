"""Hypothesis properties every crypto suite must have, and generate→verify round trips with
tampering, run against both ``intl`` and ``gm``."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import SUITE_NAMES, CryptoSuite, get_suite
from govchain.crypto.gm import SM2_N
from govchain.crypto.parallel import INLINE_LIMIT
from govchain.errors import IntegrityError, SchemaViolation

# Every test runs once per suite. Hypothesis deadlines are off: SM2 operations take ~0.3 ms each
# and the first large verify_many starts a thread pool, on a machine shared with other jobs.
pytestmark = pytest.mark.parametrize("name", SUITE_NAMES)

AEAD_KEY_SIZES = {"intl": 32, "gm": 16}
NONCE_SIZE = 12


def private_keys(name: str) -> st.SearchStrategy[bytes]:
    """Valid raw private keys of suite ``name``, drawn by Hypothesis so failures reproduce."""
    if name == "intl":
        return st.binary(min_size=32, max_size=32)
    return st.integers(1, SM2_N - 2).map(lambda d: d.to_bytes(32, "big"))


def _flip(data: bytes, index: int, mask: int) -> bytes:
    position = index % len(data)
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


def test_get_suite_returns_one_instance_per_name(name: str) -> None:
    suite = get_suite(name)
    assert suite is get_suite(name)
    assert suite.name == name
    assert len(suite.hash(b"")) == 32


def test_get_suite_rejects_unknown_names(name: str) -> None:
    with pytest.raises(SchemaViolation):
        get_suite(name.upper())


@settings(deadline=None, max_examples=50)
@given(data=st.data())
def test_sign_then_verify(name: str, data: st.DataObject) -> None:
    suite = get_suite(name)
    keys = suite.keypair_from_private(data.draw(private_keys(name)))
    message = data.draw(st.binary(max_size=512))
    signature = suite.sign(keys.private, message)
    assert suite.verify(keys.public, message, signature)
    assert suite.keypair_from_private(keys.private) == keys


@settings(deadline=None, max_examples=100)
@given(
    data=st.data(),
    part=st.sampled_from(["message", "signature", "public"]),
    index=st.integers(min_value=0),
    mask=st.integers(1, 255),
)
def test_any_flipped_byte_fails_verification(
    name: str, data: st.DataObject, part: str, index: int, mask: int
) -> None:
    suite = get_suite(name)
    keys = suite.keypair_from_private(data.draw(private_keys(name)))
    message = data.draw(st.binary(min_size=1, max_size=256))
    signature = suite.sign(keys.private, message)
    public = keys.public
    if part == "message":
        message = _flip(message, index, mask)
    elif part == "signature":
        signature = _flip(signature, index, mask)
    else:
        public = _flip(public, index, mask)
    assert suite.verify(public, message, signature) is False


@settings(deadline=None, max_examples=100)
@given(
    public=st.binary(max_size=80), message=st.binary(max_size=40), signature=st.binary(max_size=80)
)
def test_verify_never_raises_on_arbitrary_bytes(
    name: str, public: bytes, message: bytes, signature: bytes
) -> None:
    assert get_suite(name).verify(public, message, signature) is False


@cache
def _signed(name: str) -> tuple[tuple[bytes, bytes, bytes], ...]:
    # Eight signers with one signed message each; verify_many examples draw from these.
    suite = get_suite(name)
    triples = []
    for i in range(8):
        keys = suite.keypair_from_private((i + 1).to_bytes(32, "big"))
        message = f"message {i}".encode()
        triples.append((keys.public, message, suite.sign(keys.private, message)))
    return tuple(triples)


KINDS = ["valid", "other_signer", "other_message", "flipped_signature", "short_signature", "junk"]


def _item(name: str, index: int, kind: str) -> tuple[bytes, bytes, bytes]:
    signed = _signed(name)
    public, message, signature = signed[index]
    other_public, other_message, _ = signed[(index + 1) % len(signed)]
    if kind == "other_signer":
        return other_public, message, signature
    if kind == "other_message":
        return public, other_message, signature
    if kind == "flipped_signature":
        return public, message, _flip(signature, index * 7, 0x40)
    if kind == "short_signature":
        return public, message, signature[:-1]
    if kind == "junk":
        return bytes(len(public)), message, bytes(len(signature))
    return public, message, signature


def _check_verify_many(name: str, picks: list[tuple[int, str]]) -> None:
    suite: CryptoSuite = get_suite(name)
    items = [_item(name, index, kind) for index, kind in picks]
    expected = [kind == "valid" for _, kind in picks]
    one_by_one = [suite.verify(*item) for item in items]
    assert one_by_one == expected
    assert suite.verify_many(items) == one_by_one


PICKS = st.tuples(st.integers(0, 7), st.sampled_from(KINDS))


@settings(deadline=None, max_examples=50)
@given(picks=st.lists(PICKS, max_size=INLINE_LIMIT + 8))
def test_verify_many_equals_verify_small(name: str, picks: list[tuple[int, str]]) -> None:
    _check_verify_many(name, picks)


@settings(deadline=None, max_examples=15)
@given(picks=st.lists(PICKS, min_size=INLINE_LIMIT, max_size=400))
def test_verify_many_equals_verify_on_the_pool(name: str, picks: list[tuple[int, str]]) -> None:
    _check_verify_many(name, picks)


@settings(deadline=None)
@given(data=st.data(), plaintext=st.binary(max_size=1024), aad=st.binary(max_size=64))
def test_aead_round_trip(name: str, data: st.DataObject, plaintext: bytes, aad: bytes) -> None:
    suite = get_suite(name)
    size = AEAD_KEY_SIZES[name]
    key = data.draw(st.binary(min_size=size, max_size=size))
    nonce = data.draw(st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE))
    sealed = suite.aead_encrypt(key, nonce, plaintext, aad)
    assert len(sealed) == len(plaintext) + 16
    assert suite.aead_decrypt(key, nonce, sealed, aad) == plaintext


@settings(deadline=None)
@given(
    data=st.data(),
    plaintext=st.binary(max_size=256),
    aad=st.binary(max_size=32),
    where=st.sampled_from(["ciphertext", "aad", "key", "nonce", "truncate"]),
    index=st.integers(min_value=0),
    mask=st.integers(1, 255),
)
def test_aead_tampering_raises_integrity_error(
    name: str,
    data: st.DataObject,
    plaintext: bytes,
    aad: bytes,
    where: str,
    index: int,
    mask: int,
) -> None:
    suite = get_suite(name)
    size = AEAD_KEY_SIZES[name]
    key = data.draw(st.binary(min_size=size, max_size=size))
    nonce = data.draw(st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE))
    sealed = suite.aead_encrypt(key, nonce, plaintext, aad)
    if where == "ciphertext":
        sealed = _flip(sealed, index, mask)
    elif where == "aad":
        aad = _flip(aad, index, mask) if aad else b"\x00"
    elif where == "key":
        key = _flip(key, index, mask)
    elif where == "nonce":
        nonce = _flip(nonce, index, mask)
    else:
        sealed = sealed[: index % len(sealed)]
    with pytest.raises(IntegrityError):
        suite.aead_decrypt(key, nonce, sealed, aad)


@settings(deadline=None, max_examples=30)
@given(info=st.binary(max_size=64))
def test_agreement_is_symmetric(name: str, info: bytes) -> None:
    suite = get_suite(name)
    alice, bob, carol = (suite.agreement_keypair() for _ in range(3))
    shared = suite.agree(alice.private, bob.public, info)
    assert len(shared) == 32
    assert shared == suite.agree(bob.private, alice.public, info)
    assert shared != suite.agree(alice.private, carol.public, info)
    assert shared != suite.agree(alice.private, bob.public, info + b"\x00")


def test_generated_keys_sign_and_reject_tampering(name: str) -> None:
    suite = get_suite(name)
    keys, other = suite.generate_keypair(), suite.generate_keypair()
    assert keys != other
    signature = suite.sign(keys.private, b"transfer 100")
    assert suite.verify(keys.public, b"transfer 100", signature)
    assert not suite.verify(keys.public, b"transfer 900", signature)
    assert not suite.verify(other.public, b"transfer 100", signature)
    assert not suite.verify(
        keys.public, b"transfer 100", suite.sign(other.private, b"transfer 100")
    )
