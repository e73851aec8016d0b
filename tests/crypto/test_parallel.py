"""The verifier worker processes: a Ctrl-C meant for the node does not reach into its workers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from govchain.crypto import get_suite, parallel


def test_workers_ignore_ctrl_c_and_keep_verifying() -> None:
    # In a terminal, Ctrl-C signals the whole process group, workers included: the node stops
    # and shuts the pool down; a worker must neither die of it nor print a traceback.
    if parallel.worker_count() < 2:
        pytest.skip("one core: signatures are verified on the calling thread")
    suite = get_suite("intl")
    parallel.warm_up()
    pids = parallel.worker_pids()
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    time.sleep(0.2)
    keys = suite.keypair_from_private(bytes(31) + b"\x01")
    messages = [b"message %d" % i for i in range(parallel.INLINE_LIMIT * 4)]
    items = [(keys.public, m, suite.sign(keys.private, m)) for m in messages]
    items[5] = (keys.public, b"another message", items[5][2])
    assert suite.verify_many(items) == [i != 5 for i in range(len(items))]
    assert parallel.worker_pids() == pids  # the same processes answered
