"""Signature verification on every core, shared by both suites' ``verify_many``.

Both signature libraries release the GIL inside their C verification routine, so on an idle
interpreter plain threads scale with the cores (PyNaCl: ~23k Ed25519 verifications/s on one
thread, ~37k/s on two; tongsuopy: ~3.9k SM2/s on one, ~7.3k/s on two).

A node is not an idle interpreter, though: while its committer thread runs Python (execution,
state, log), a verifying thread must re-acquire the GIL after every single signature and waits
up to the interpreter's switch interval (5 ms) each time — a convoy that was measured to drop
thread-based verification to ~2.4k/s. Large batches therefore go to a pool of worker
*processes* (one per core), which have their own interpreters; each worker resolves the suite by
name and keeps its own parsed-key caches.

The workers are forked (``spawn`` and ``forkserver`` would re-import the caller's ``__main__``,
which breaks scripts without a main guard). With the fork context the executor starts all its
workers on the first submission, before its manager thread exists; ``warm_up`` lets a node do
that at start-up, before it starts threads of its own. Small batches stay on the calling thread,
where handing work over would cost more than it saves.

The workers run at a lower priority than the node (``WORKER_NICENESS``), so the node's
committer thread, the one part that cannot spread over cores, is never queued behind them.

A forked worker starts with copies of every descriptor its parent had open, the API's listening
socket among them (``govchain up`` binds it before the node opens, to fail fast on a busy port).
Each worker closes the sockets it inherited and exits as soon as its parent is gone, so a node
killed with ``kill -9`` leaves no process holding its port or its data files and restarts on the
same port at once.

Figures come from ``bench/crypto_limits.py`` and ``bench/ledger_bench.py``; rerun them rather
than trusting these numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

Verifier = Callable[[bytes, bytes, bytes], bool]
"""A single-signature check: ``verify(public, message, signature) -> bool``."""

INLINE_LIMIT = 64
"""Batches smaller than this are verified on the calling thread: handing work to another
process costs around a hundred microseconds, more than a few Ed25519 verifications."""

CHUNKS_PER_WORKER = 2
"""A batch is cut into this many chunks per worker so that uneven workers even out."""

WORKER_NICENESS = 10
"""How much the workers lower their scheduling priority (``nice``). The node's committer is
one thread and the critical path: with the workers at the same priority the kernel shares a
core between it and them, and the whole pipeline waits for the committer. Niced workers use
what the committer leaves; measured +8-10% throughput in ``bench/ledger_bench.py``."""

_executor: ProcessPoolExecutor | None = None
_executor_lock = threading.Lock()
_threads: ThreadPoolExecutor | None = None


def worker_count() -> int:
    """Return how many worker processes ``verify_many`` spreads a large batch over."""
    return os.cpu_count() or 1


def _get_executor() -> ProcessPoolExecutor:
    global _executor
    executor = _executor
    if executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ProcessPoolExecutor(
                    max_workers=worker_count(),
                    mp_context=multiprocessing.get_context("fork"),
                    initializer=_init_worker,
                    initargs=(os.getpid(),),
                )
            executor = _executor
    return executor


PARENT_CHECK_S = 0.2
"""How often a worker checks that the process that started it is still alive."""


def _init_worker(parent: int) -> None:
    os.nice(WORKER_NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the node stops on it and shuts
    # the pool down, while a worker interrupted in the middle of waiting for work would only
    # print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    close_inherited_sockets()
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()


def close_inherited_sockets() -> int:
    """Close every socket this process holds (a worker talks to its parent over pipes only);
    return how many were closed."""
    closed = 0
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
                closed += 1
        except OSError:
            continue  # the descriptor of the listing itself, already closed
    return closed


def _exit_with_parent(parent: int) -> None:
    # A killed parent's children are re-parented (to init or a subreaper): getppid changes.
    # Polled rather than PR_SET_PDEATHSIG, which fires when the *thread* that forked exits.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def warm_up() -> None:
    """Start the worker processes now (a node calls this at start-up, not on its first batch)."""
    if worker_count() > 1:
        executor = _get_executor()
        for future in [executor.submit(os.getpid) for _ in range(worker_count())]:
            future.result()


def worker_pids() -> list[int]:
    """Return the process ids of the running verification workers (for CPU accounting)."""
    executor = _executor
    if executor is None:
        return []
    processes = getattr(executor, "_processes", None) or {}
    return sorted(int(pid) for pid in processes)


def shutdown() -> None:
    """Stop the worker processes (they are restarted on the next large batch)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


def _forget_executor_in_child() -> None:
    global _executor, _executor_lock, _threads
    _executor = None
    _executor_lock = threading.Lock()
    _threads = None


os.register_at_fork(after_in_child=_forget_executor_in_child)


def _verify_chunk(verify: Verifier, chunk: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    return [verify(public, message, signature) for public, message, signature in chunk]


def _verify_chunk_in_worker(
    suite_name: str, chunk: Sequence[tuple[bytes, bytes, bytes]]
) -> list[bool]:
    from govchain.crypto import get_suite

    suite = get_suite(suite_name)
    # A suite may offer a leaner loop over the same verification (intl does).
    verify_chunk = getattr(suite, "verify_chunk", None)
    if verify_chunk is not None:
        result: list[bool] = verify_chunk(chunk)
        return result
    return _verify_chunk(suite.verify, chunk)


def verify_many(
    suite_name: str, verify: Verifier, items: Sequence[tuple[bytes, bytes, bytes]]
) -> list[bool]:
    """Apply ``verify`` (the suite ``suite_name``'s own) to every ``(public, message,
    signature)`` triple, in order, on all cores; equal to ``[verify(*item) for item in items]``.
    """
    return verify_later(suite_name, verify, items)()


def verify_later(
    suite_name: str, verify: Verifier, items: Sequence[tuple[bytes, bytes, bytes]]
) -> Callable[[], list[bool]]:
    """Start verifying like ``verify_many`` and return at once a function that waits for the
    verdicts and returns them. A caller overlaps its own work with the workers' this way (a
    catching-up node applies one block while the next blocks' signatures are checked). Small
    batches are verified before this returns, on the calling thread."""
    workers = worker_count()
    if len(items) < INLINE_LIMIT or workers == 1:
        verdicts = _verify_chunk(verify, items)
        return lambda: verdicts
    parts = workers * CHUNKS_PER_WORKER
    size = -(-len(items) // parts)
    executor = _get_executor()
    futures: list[Future[list[bool]]] = [
        executor.submit(_verify_chunk_in_worker, suite_name, items[start : start + size])
        for start in range(0, len(items), size)
    ]

    def collect() -> list[bool]:
        results: list[bool] = []
        for future in futures:
            results.extend(future.result())
        return results

    return collect


def _get_threads() -> ThreadPoolExecutor:
    global _threads
    threads = _threads
    if threads is None:
        with _executor_lock:
            if _threads is None:
                _threads = ThreadPoolExecutor(
                    max_workers=worker_count() - 1, thread_name_prefix="govchain-verify"
                )
            threads = _threads
    return threads


def verify_few(verify: Verifier, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Verify a handful of triples on all cores with threads; equal to ``[verify(*item) ...]``.

    For callers whose interpreter is otherwise idle, such as an offline verifier checking one
    receipt: there is no convoy (see the module docstring), and SM2 verifications (~250 µs)
    dwarf the ~20 µs a thread hand-off costs. The calling thread verifies the first share
    itself while pool threads (one fewer than the cores) verify the rest.
    """
    workers = worker_count()
    if len(items) < 2 or workers == 1:
        return _verify_chunk(verify, items)
    size = -(-len(items) // workers)
    threads = _get_threads()
    futures = [
        threads.submit(_verify_chunk, verify, items[start : start + size])
        for start in range(size, len(items), size)
    ]
    results = _verify_chunk(verify, items[:size])
    for future in futures:
        results.extend(future.result())
    return results
