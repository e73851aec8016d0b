"""The per-process cache of verified request signatures answers exactly as verifying would:
generate -> verify -> tamper round trips, for both suites; a failed check is never
remembered; a remembered one is not verified again; the cache stays within its size."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite
from govchain.sharing.requests import REQUEST_DOMAIN, VerifiedSignatures

Triple = tuple[bytes, bytes, bytes]


class Counting:
    """A suite whose ``verify_many`` counts the signatures it really checks."""

    def __init__(self, suite: CryptoSuite) -> None:
        self.suite = suite
        self.checked = 0

    def verify_many(self, items: Sequence[Triple]) -> list[bool]:
        self.checked += len(items)
        return self.suite.verify_many(items)


def _signed(suite: CryptoSuite, n: int) -> list[Triple]:
    kp = suite.generate_keypair()
    out = []
    for i in range(n):
        message = REQUEST_DOMAIN + b'{"nonce":%d}' % i
        out.append((kp.public, message, suite.sign(kp.private, message)))
    return out


def _tamper(item: Triple, where: int, bit: int) -> Triple:
    public, message, signature = item
    parts = [bytearray(public), bytearray(message), bytearray(signature)]
    part = parts[where % 3]
    part[bit % len(part)] ^= 1 << (bit % 8)
    return (bytes(parts[0]), bytes(parts[1]), bytes(parts[2]))


SUITES = {name: get_suite(name) for name in ("intl", "gm")}
SIGNED = {name: _signed(suite, 6) for name, suite in SUITES.items()}


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(SUITES)),
    picks=st.lists(
        st.tuples(st.integers(0, 5), st.booleans(), st.integers(0, 2), st.integers(0, 4095)),
        min_size=1,
        max_size=8,
    ),
)
def test_answers_exactly_as_verifying_would(
    name: str, picks: list[tuple[int, bool, int, int]]
) -> None:
    suite = SUITES[name]
    cache = VerifiedSignatures()
    items = [
        _tamper(SIGNED[name][i], where, bit) if tampered else SIGNED[name][i]
        for i, tampered, where, bit in picks
    ]
    expected = [suite.verify(*item) for item in items]
    assert cache.verify_many(suite, items) == expected  # cold
    assert cache.verify_many(suite, items) == expected  # warm
    assert len(cache) == len({item for item, ok in zip(items, expected, strict=True) if ok})


@pytest.mark.parametrize("name", sorted(SUITES))
def test_only_what_verified_is_remembered(name: str) -> None:
    good = SIGNED[name][:3]
    forged = _tamper(good[0], 2, 5)
    counting = Counting(SUITES[name])
    cache = VerifiedSignatures()
    assert cache.verify_many(counting, [*good, forged]) == [True, True, True, False]  # type: ignore[arg-type]
    assert counting.checked == 4
    assert cache.verify_many(counting, [*good, forged]) == [True, True, True, False]  # type: ignore[arg-type]
    assert counting.checked == 5  # only the forged one was checked again
    # The same signature under another key, or over another message, is not a hit.
    other_key = (SIGNED[name][0][0][::-1], *good[1][1:])
    assert cache.verify_many(counting, [other_key]) == [False]  # type: ignore[arg-type]
    assert counting.checked == 6


def test_the_cache_keeps_within_its_size() -> None:
    suite = SUITES["intl"]
    cache = VerifiedSignatures(size=4)
    items = _signed(suite, 10)
    assert cache.verify_many(suite, items) == [True] * 10
    assert len(cache) == 4
