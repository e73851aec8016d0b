"""Serving single requests in batches: requests that arrive together are handled together,
each caller gets its own outcome, a failing batch fails only its own callers, nobody is left
waiting, and a full or closed queue refuses at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from govchain.errors import GovchainError, Unavailable
from govchain.sharing.batching import BatchQueue
from govchain.sharing.errors import GrantRevoked


class Handler:
    """Answers ``n`` with ``n * 10``, and ``-1`` with a per-request error; can be held."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | GovchainError]:
        self.started.set()
        self.gate.wait()
        self.batches.append(list(items))
        return [GrantRevoked("revoked") if n == -1 else n * 10 for n in items]


def test_requests_that_arrive_together_are_served_together() -> None:
    handler = Handler()
    queue: BatchQueue[int, int] = BatchQueue(handler, name="test", workers=1)
    handler.gate.clear()
    try:
        with ThreadPoolExecutor(50) as pool:
            first = pool.submit(queue.call, 0)
            assert handler.started.wait(5)  # the worker holds the first request ...
            rest = [pool.submit(queue.call, n) for n in range(1, 50)]
            deadline = time.monotonic() + 10
            while queue.pending < 49 and time.monotonic() < deadline:
                time.sleep(0.01)  # ... while the other 49 queue up
            handler.gate.set()
            assert first.result(10) == 0
            assert [f.result(10) for f in rest] == [n * 10 for n in range(1, 50)]
    finally:
        queue.close()
    assert handler.batches[0] == [0]
    assert sorted(handler.batches[1]) == list(range(1, 50))  # one batch for all that waited


def test_a_request_error_reaches_only_its_caller() -> None:
    queue: BatchQueue[int, int] = BatchQueue(Handler(), name="test")
    try:
        with ThreadPoolExecutor(20) as pool:
            futures = {n: pool.submit(queue.call, n) for n in [*range(10), -1, *range(10, 19)]}
            for n, f in futures.items():
                if n == -1:
                    with pytest.raises(GrantRevoked):
                        f.result(10)
                else:
                    assert f.result(10) == n * 10
    finally:
        queue.close()


@pytest.mark.parametrize("failure", [Unavailable("the node is at capacity"), RuntimeError("bug")])
def test_a_failing_batch_fails_each_of_its_callers_and_nobody_waits(failure: Exception) -> None:
    def handle(items: Sequence[int]) -> list[int | GovchainError]:
        raise failure

    queue: BatchQueue[int, int] = BatchQueue(handle, name="test")
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(queue.call, n) for n in range(8)]
            for f in futures:
                with pytest.raises(Unavailable) as info:
                    f.result(10)
                if isinstance(failure, Unavailable):
                    assert info.value is failure
                else:
                    assert "bug" in info.value.message
    finally:
        queue.close()


def test_callbacks_receive_outcomes() -> None:
    queue: BatchQueue[int, int] = BatchQueue(Handler(), name="test")
    got: dict[int, object] = {}
    done = threading.Semaphore(0)

    def callback(n: int):  # type: ignore[no-untyped-def]
        def record(outcome: object) -> None:
            got[n] = outcome
            done.release()

        return record

    try:
        for n in (3, -1, 4):
            queue.submit(n, callback(n))
        for _ in range(3):
            assert done.acquire(timeout=10)
    finally:
        queue.close()
    assert got[3] == 30 and got[4] == 40 and isinstance(got[-1], GrantRevoked)


def test_a_full_queue_refuses_at_once_and_close_serves_what_is_queued() -> None:
    handler = Handler()
    handler.gate.clear()
    queue: BatchQueue[int, int] = BatchQueue(handler, name="test", workers=1, max_pending=3)
    results: list[object] = []
    queue.submit(0, results.append)
    assert handler.started.wait(5)  # the worker holds request 0; three more fill the queue
    for n in (1, 2, 3):
        queue.submit(n, results.append)
    with pytest.raises(Unavailable):
        queue.submit(4, results.append)
    handler.gate.set()
    queue.close()
    assert sorted(results) == [0, 10, 20, 30]  # type: ignore[type-var]
    with pytest.raises(Unavailable):
        queue.submit(5, results.append)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        BatchQueue(Handler(), name="test", workers=0)
