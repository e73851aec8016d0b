"""The solo orderer: FIFO order, cut by size or by time, back-pressure, closing."""

from __future__ import annotations

import threading

import pytest

from govchain.errors import Unavailable
from govchain.ordering.solo import SoloOrderer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cuts_by_size_in_fifo_order() -> None:
    o: SoloOrderer[int] = SoloOrderer(max_items=3, max_wait_ms=10_000)
    o.submit([1, 2])
    o.submit([3, 4, 5, 6, 7])
    assert o.next_batch(0.01) == [1, 2, 3]
    assert o.next_batch(0.01) == [4, 5, 6]
    assert o.pending() == 1


def test_cuts_by_time_after_the_first_item() -> None:
    clock = FakeClock()
    o: SoloOrderer[int] = SoloOrderer(max_items=100, max_wait_ms=50, clock=clock)
    o.submit([1])
    assert o.next_batch(0) == []  # not due yet
    clock.now = 0.049
    assert o.next_batch(0) == []
    clock.now = 0.05
    assert o.next_batch(0) == [1]
    assert o.next_batch(0) == []


def test_waiting_consumer_wakes_on_real_time_cut() -> None:
    o: SoloOrderer[str] = SoloOrderer(max_items=1000, max_wait_ms=20)
    got: list[list[str]] = []
    t = threading.Thread(target=lambda: got.append(o.next_batch(5)))
    t.start()
    o.submit(["a", "b"])
    t.join(5)
    assert got == [["a", "b"]]


def test_full_queue_and_closed_orderer_refuse_with_unavailable() -> None:
    o: SoloOrderer[int] = SoloOrderer(max_items=10, max_wait_ms=10, max_pending=5)
    o.submit([1, 2, 3])
    with pytest.raises(Unavailable, match="queue is full"):
        o.submit([4, 5, 6])
    assert o.pending() == 3  # nothing of the refused batch was queued
    o.close()
    with pytest.raises(Unavailable, match="stopped"):
        o.submit([7])
    assert o.next_batch(0.01) == [1, 2, 3]  # what was queued is still handed out
    assert o.next_batch(0.01) == []


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        SoloOrderer(max_items=0)
