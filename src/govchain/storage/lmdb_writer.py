"""A process of its own that writes a node's LMDB commits.

python-lmdb releases the GIL around every single put and around the commit. In a process where
other threads run Python (a node's admission, its HTTP server, the verifier pool's feeder
threads), the committing thread must win the GIL back after each of the ~14,000 puts of a
2,000-transaction block, and waits up to the interpreter's switch interval each time. Measured
here with 14,000 random 32-byte keys: ``putmulti`` 11 ms and commit 14 ms alone; beside one
busy Python thread 100-1,150 ms and 70 ms (``docs/performance.md``).

So a node hands each batch, pickled in one piece, to a writer process over a pipe and waits for
its answer; the writer, a single-threaded interpreter, applies the batch in one write
transaction and commits it durably before it answers. Reads stay in the node process (LMDB is
multi-process: they see each commit once the writer has made it). If the node dies, the writer
finishes the batch in hand, reads end-of-file and exits; a batch is acknowledged only after its
``ok``, so nothing acknowledged depends on the writer outliving the node.

The pipe carries pickles between two processes of the same installation; nothing else writes
to it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Sequence
from typing import IO

import lmdb

from govchain.errors import IntegrityError, Unavailable
from govchain.storage.lmdb_env import (
    MAX_KEY_SIZE,
    apply_sorted,
    grow_for,
    open_environment,
    open_tables,
    sorted_plan,
)

Plan = dict[str, dict[bytes, bytes | None]]
"""A batch: per table, key -> value (``None``: delete)."""

_FRAME = struct.Struct(">Q")
_READY = b"ready"
_OK = b"ok"
_ERROR = b"error:"
_COMMIT = b"C"
_READ = b"R"

_live: weakref.WeakSet[WriterProcess] = weakref.WeakSet()


def _close_pipes_in_child() -> None:
    # A forked child (a verifier worker) must not keep the writer's stdin open: the writer
    # would then never read end-of-file after the node died.
    for writer in list(_live):
        writer.forget_in_child()


os.register_at_fork(after_in_child=_close_pipes_in_child)


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    """Read ``n`` bytes (``None`` at end of file); a raw pipe may return fewer per read."""
    parts: list[bytes] = []
    while n:
        data = stream.read(n)
        if not data:
            return None
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = _read_exactly(stream, _FRAME.size)
    if head is None:
        return None
    (n,) = _FRAME.unpack(head)
    return _read_exactly(stream, n)


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    """Write a length-prefixed frame; a raw pipe may take fewer bytes per write."""
    for part in (_FRAME.pack(len(data)), data):
        view = memoryview(part)
        while view:
            view = view[stream.write(view) or 0 :]
    stream.flush()


class WriterProcess:
    """The node side: start the writer for the store in ``path`` and send it batches."""

    def __init__(self, path: str, map_size: int) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "govchain.storage.lmdb_writer", path, str(map_size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            # Unbuffered: a forked child closes its copies without flushing anything of ours.
            bufsize=0,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout
        if _read_frame(self._out) != _READY:
            self.close()
            raise Unavailable(f"the LMDB writer process for {path} did not start", path=path)
        _live.add(self)

    @property
    def pid(self) -> int | None:
        """Process id of the writer (``None`` once closed)."""
        return None if self._proc is None else self._proc.pid

    def _call(self, request: bytes) -> bytes:
        with self._lock:
            if self._proc is None:
                raise Unavailable("store is closed")
            try:
                _write_frame(self._in, request)
                reply = _read_frame(self._out)
            except (BrokenPipeError, OSError):
                reply = None
        if reply is None:
            raise Unavailable(
                "the store's writer process stopped (a batch it was given may not be durable)"
            )
        if reply.startswith(_ERROR):
            message = reply.removeprefix(_ERROR).decode("utf-8", "replace")
            raise IntegrityError(f"the store refused the request: {message}")
        return reply

    def commit(self, plan: Plan) -> None:
        """Have the writer apply ``plan`` in one write transaction; return once it is durable.

        Raises ``Unavailable`` if the writer is gone and ``IntegrityError`` if LMDB refused the
        batch (then nothing of it was written)."""
        reply = self._call(_COMMIT + pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
        if reply != _OK:
            raise IntegrityError("the store's writer process gave an unexpected answer")

    def get_many(self, table: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """Read many committed keys in one read transaction of the writer (which has no other
        thread to wait for after each lookup)."""
        reply = self._call(_READ + pickle.dumps((table, keys), protocol=pickle.HIGHEST_PROTOCOL))
        values: list[bytes | None] = pickle.loads(reply)
        return values

    def close(self, timeout: float = 30.0) -> None:
        """Let the writer finish and exit (it reads end-of-file)."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        _live.discard(self)
        for stream in (self._in, self._out):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def forget_in_child(self) -> None:
        """In a forked child: close its copies of the pipes without touching the writer."""
        self._proc = None
        for stream in (self._in, self._out):
            with contextlib.suppress(OSError):
                stream.close()


def _commit(
    env: lmdb.Environment, dbs: dict[str, lmdb._Database], page_size: int, plan: Plan
) -> None:
    """Apply ``plan`` in one write transaction and commit it durably, growing the map as
    needed."""
    sorted_ops, n_ops, n_bytes = sorted_plan(plan)
    while True:
        size = grow_for(env, page_size, n_ops, n_bytes)
        if size is not None:
            env.set_mapsize(size)
        txn = env.begin(write=True)
        try:
            for table, puts, deletes in sorted_ops:
                apply_sorted(txn, dbs[table], puts, deletes)
        except lmdb.MapFullError:
            txn.abort()
            env.set_mapsize(env.info()["map_size"] * 2)
            continue
        except BaseException:
            txn.abort()
            raise
        try:
            txn.commit()
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)
            continue
        return


def _serve(path: str, map_size: int) -> None:
    # Ctrl-C and a supervisor's SIGTERM reach the whole process group: the node then drains
    # its queue through this process, which therefore lives on until the node closes the pipe
    # (or dies). SIGKILL still ends it at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    env = open_environment(path, readonly=False, map_size=map_size)
    dbs = open_tables(env, readonly=False)
    page_size = env.stat()["psize"]
    _write_frame(stdout, _READY)
    while True:
        data = _read_frame(stdin)
        if data is None:
            break
        try:
            if data[:1] == _READ:
                table, keys = pickle.loads(data[1:])
                db = dbs[table]
                with env.begin() as txn:
                    get = txn.get
                    values = [
                        get(k, None, db) if 0 < len(k) <= MAX_KEY_SIZE else None for k in keys
                    ]
                _write_frame(stdout, pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))
                continue
            plan: Plan = pickle.loads(data[1:])
            _commit(env, dbs, page_size, plan)
        except Exception as exc:  # reported to the node, which stops committing
            _write_frame(stdout, _ERROR + f"{type(exc).__name__}: {exc}".encode())
            continue
        _write_frame(stdout, _OK)
    env.close()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
