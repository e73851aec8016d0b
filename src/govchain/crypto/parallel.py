"""Signature verification on every core, shared by both suites' ``verify_many``.

Both signature libraries release the GIL inside their C verification routine, so plain threads
scale with the cores and no process pool is needed (a process pool would have to pickle every
message and could not share the parsed-key caches):

- PyNaCl (libsodium through cffi): about 22k Ed25519 verifications/s on one thread, 37-41k/s
  through ``verify_many`` on this two-core machine (the per-call Python work still holds the GIL).
- tongsuopy (Tongsuo through cffi): about 3.9k SM2 verifications/s on one thread, 7.3-7.7k/s on
  two threads; process CPU time / wall time is 1.98 while two threads verify, so the GIL is not
  held during the curve arithmetic and a process pool could gain at most the missing ~5%.

Figures come from ``bench/crypto_limits.py``; rerun it rather than trusting these numbers.

The pool is created on first use, holds ``os.cpu_count()`` threads and is dropped in a forked
child (a child inherits the pool object but not its threads, so submitting to it would hang).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

Verifier = Callable[[bytes, bytes, bytes], bool]
"""A single-signature check: ``verify(public, message, signature) -> bool``."""

INLINE_LIMIT = 64
"""Batches smaller than this are verified on the calling thread: handing work to the pool costs
tens of microseconds, more than a few Ed25519 verifications."""

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def worker_count() -> int:
    """Return how many threads ``verify_many`` spreads a large batch over."""
    return os.cpu_count() or 1


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    executor = _executor
    if executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=worker_count(), thread_name_prefix="govchain-verify"
                )
            executor = _executor
    return executor


def _forget_executor_in_child() -> None:
    global _executor, _executor_lock
    _executor = None
    _executor_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_executor_in_child)


def _verify_chunk(verify: Verifier, chunk: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    return [verify(public, message, signature) for public, message, signature in chunk]


def verify_many(verify: Verifier, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Apply ``verify`` to every ``(public, message, signature)`` triple, in order, on all cores.

    The result equals ``[verify(*item) for item in items]``. Large batches are cut into one chunk
    per core; the calling thread verifies the first chunk itself instead of waiting idle. Must not
    be called from inside ``verify`` (a pool thread waiting on the pool could deadlock).
    """
    workers = worker_count()
    if len(items) < INLINE_LIMIT or workers == 1:
        return _verify_chunk(verify, items)
    size = -(-len(items) // workers)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    executor = _get_executor()
    futures: list[Future[list[bool]]] = [
        executor.submit(_verify_chunk, verify, chunk) for chunk in chunks[1:]
    ]
    results = _verify_chunk(verify, chunks[0])
    for future in futures:
        results.extend(future.result())
    return results
