"""The node process's C allocator (``node.allocator``): with one arena, threads that allocate
create no arenas of their own; an operator's own setting is left alone.

Each case runs in a fresh interpreter, since an arena limit cannot be undone in a process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")

SCRIPT = """
import sys, threading
from govchain.node.allocator import use_one_arena
applied = use_one_arena() if sys.argv[1] == "limit" else None

def work():
    kept = [bytearray(200_000) for _ in range(4)]  # malloc'd by this thread

threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
# A thread arena reserves a 64 MiB-aligned heap: its first mapping starts at a multiple of it.
heaps = 0
with open("/proc/self/maps") as maps:
    for line in maps:
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        fields = line.split()
        if len(fields) == 5 and start % (64 << 20) == 0 and "rw" in fields[1]:
            heaps += 1
print(applied, heaps)
"""


def run(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX",)}
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
        timeout=60,
    ).stdout.split()
    return out[0], int(out[1])


def test_one_arena_means_no_thread_heaps() -> None:
    applied, heaps = run("limit")
    assert applied == "True"
    assert heaps == 0
    # Without the limit the same threads get heaps of their own (what the limit prevents).
    _, default_heaps = run("default")
    assert default_heaps > 0


def test_an_operator_setting_is_left_alone() -> None:
    applied, heaps = run("limit", MALLOC_ARENA_MAX="4")
    assert applied == "False"
    assert heaps > 0  # glibc follows the operator's four arenas
    applied, _ = run("limit", GLIBC_TUNABLES="glibc.malloc.arena_max=2")
    assert applied == "False"
