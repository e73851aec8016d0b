"""Multibase and Multikey: known keys from the specifications and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.credentials import multibase as mb
from govchain.crypto import get_suite
from govchain.errors import SchemaViolation

# W3C vc-di-eddsa TestVectors/keyPair.json: the Ed25519 key pair of the published examples.
VECTOR_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
VECTOR_PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"


def test_vector_key_pair_decodes_to_matching_ed25519_keys() -> None:
    suite, public = mb.decode_multikey(VECTOR_PUBLIC)
    private = mb.decode(VECTOR_PRIVATE)
    assert suite == "intl"
    assert private[:2] == mb.ED25519_PRIV
    assert get_suite("intl").keypair_from_private(private[2:]).public == public
    assert mb.encode_multikey(public, "intl") == VECTOR_PUBLIC


def test_base58_known_values() -> None:
    # Bitcoin base58 examples (draft-msporny-base58 section 5).
    assert mb.b58encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert mb.b58encode(b"\0\0\x28\x7f\xb4\xcd") == "11233QC4"
    assert mb.b58decode("11233QC4") == b"\0\0\x28\x7f\xb4\xcd"


@given(st.binary(max_size=80))
def test_multibase_round_trip(data: bytes) -> None:
    for base in ("z", "u"):
        assert mb.decode(mb.encode(data, base)) == data


def test_sm2_multikey_round_trip_and_point_check() -> None:
    suite = get_suite("gm")
    for seed in range(1, 6):
        kp = suite.keypair_from_private(seed.to_bytes(32, "big"))
        key = mb.encode_multikey(kp.public, "gm")
        assert mb.decode_multikey(key) == ("gm", kp.public)
    with pytest.raises(SchemaViolation):
        mb.sm2_decompress(b"\x02" + b"\xff" * 32)


@pytest.mark.parametrize("bad", ["", "x123", "z0OIl", "u+/==", "uQQ="])
def test_refuses_malformed_multibase(bad: str) -> None:
    with pytest.raises(SchemaViolation):
        mb.decode(bad)


def _reference_b58encode(data: bytes) -> str:
    # The textbook definition (one division by 58 per digit), as draft-msporny-base58 gives it.
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = alphabet[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


@given(st.binary(max_size=140))
def test_base58_matches_the_textbook_algorithm(data: bytes) -> None:
    assert mb.b58encode(data) == _reference_b58encode(data)
    assert mb.b58encode(b"\0\0" + data) == _reference_b58encode(b"\0\0" + data)
