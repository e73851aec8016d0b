"""The C allocator's arenas in a network node's process.

glibc's ``malloc`` gives threads arenas of their own, up to eight per core. A network node's
threads hand memory to each other: the catch-up's fetch thread allocates what its applying
thread frees, and the HTTP and etcd threads hand transactions to the committer. A freed chunk
goes back to the arena of the thread that allocated it, and the extra arenas live in heaps
that glibc returns to the kernel whenever their top is free. The same memory is then faulted
in again, at several microseconds a page on a virtual machine.

With one arena the memory stays in the process. Three alternating pairs of full runs of
``bench/network_bench.py``:

- glibc's default: catch-up at 15,424, 16,349 and 17,544 tx/s (92-99 µs of CPU per
  transaction in the catching-up node);
- one arena: 18,293, 17,964 and 19,802 tx/s (87-92 µs).

Shorter runs (``--count 20000 --catch-up 60000 --seconds 2``), where the node has less
history, showed no difference, and neither did throughput or an embedded node
(``bench/ledger_bench.py``). See ``docs/performance.md``.

An operator's own setting wins: nothing changes when ``MALLOC_ARENA_MAX`` or glibc's
``arena_max`` tunable is set, and nothing happens on a C library without ``mallopt``.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter for the most arenas ``malloc`` may create."""


def use_one_arena() -> bool:
    """Make ``malloc`` keep one arena for every thread of this process; return whether it did.

    Call it before the process starts threads: a thread that has already allocated keeps the
    arena it has."""
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return False
    if "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, 1) == 1)
