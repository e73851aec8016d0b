"""The replay window against a reference model (the set of used nonces), including jumps far
past the window, which must cost nothing (clients use microsecond clocks as nonces)."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from govchain.errors import ReplayedNonce
from govchain.ledger.execution import NonceWindow

SIZE = 16


@given(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**53 - 1)), max_size=60))
def test_window_matches_reference(nonces: list[int]) -> None:
    window = NonceWindow(SIZE)
    used: set[int] = set()
    for n in nonces:
        high = max(used, default=-1)
        accepted = n not in used and n > high - SIZE
        try:
            window.check_and_use(n)
        except ReplayedNonce:
            assert not accepted
        else:
            assert accepted
            used.add(n)
        assert window.high == max(used, default=-1)
        assert 0 <= window.mask < 1 << SIZE
        decoded = NonceWindow.decode(window.encode(), SIZE)
        assert (decoded.high, decoded.mask) == (window.high, window.mask)


def test_a_jump_of_a_day_of_microseconds_is_instant() -> None:
    window = NonceWindow(1024)
    for n in range(5):
        window.check_and_use(n)
    start = time.perf_counter()
    window.check_and_use(86_400 * 10**6 * 365)
    other = window.copy()
    other.use(2**53 - 1)
    assert time.perf_counter() - start < 0.05
    assert window.mask == 1 and other.mask == 1
