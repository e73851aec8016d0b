"""Machine limits of the crypto suites: signatures per second on this machine, right now.

Benchmarks compare their figures with these (a block validator cannot beat
``verify_per_s_all_cores``), so they measure them in the same run with ``measure_limits``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypedDict

from govchain.crypto import get_suite

MESSAGE_SIZE = 256
"""Bytes per signed message, about the size of an encoded transaction."""
KEY_COUNT = 16
"""Distinct signers in the measured workload (exercises the parsed-key caches like a network)."""
BATCH_SIZE = 1024
"""Signatures per ``verify_many`` call when measuring all cores."""


class CryptoLimits(TypedDict):
    """Measured signature throughput of one suite."""

    suite: str
    """Suite name."""
    cores: int
    """``os.cpu_count()`` at measurement time."""
    sign_per_s: float
    """Signatures per second on one thread."""
    verify_per_s_1core: float
    """``verify`` calls per second on one thread."""
    verify_per_s_all_cores: float
    """Signatures per second through ``verify_many`` on all cores."""


def _rate(seconds: float, step: Callable[[], int]) -> float:
    # Run whole steps until the time is up; each step reports how many operations it did.
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        done += step()
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def measure_limits(suite_name: str, seconds: float = 1.0) -> CryptoLimits:
    """Measure sign/s, verify/s on one thread and verify/s via ``verify_many`` on all cores.

    Each of the three figures runs for about ``seconds``. Raises ``SchemaViolation`` for an
    unknown suite name.
    """
    suite = get_suite(suite_name)
    keys = [suite.generate_keypair() for _ in range(KEY_COUNT)]
    messages = [os.urandom(MESSAGE_SIZE) for _ in range(KEY_COUNT)]
    signed = [
        (key.public, message, suite.sign(key.private, message))
        for key, message in zip(keys, messages, strict=True)
    ]
    batch = [signed[i % KEY_COUNT] for i in range(BATCH_SIZE)]
    suite.verify_many(batch)  # warm the key caches and start the pool outside the timing

    counter = 0

    def sign_once() -> int:
        nonlocal counter
        counter += 1
        key = keys[counter % KEY_COUNT]
        suite.sign(key.private, messages[counter % KEY_COUNT])
        return 1

    def verify_once() -> int:
        nonlocal counter
        counter += 1
        public, message, signature = signed[counter % KEY_COUNT]
        if not suite.verify(public, message, signature):
            raise AssertionError("a valid signature failed to verify")
        return 1

    def verify_batch() -> int:
        if not all(suite.verify_many(batch)):
            raise AssertionError("a valid signature failed to verify")
        return len(batch)

    return CryptoLimits(
        suite=suite_name,
        cores=os.cpu_count() or 1,
        sign_per_s=_rate(seconds, sign_once),
        verify_per_s_1core=_rate(seconds, verify_once),
        verify_per_s_all_cores=_rate(seconds, verify_batch),
    )
