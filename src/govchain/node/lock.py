"""An exclusive lock on a node's data directory.

LMDB itself lets two processes write one store (it serialises their transactions), but two
nodes on one data directory would each append their own blocks at the same heights; the lock
makes the second one refuse to open.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from govchain.errors import Conflict

_held: set[int] = set()
"""Descriptors of the locks this process holds."""


def _close_inherited() -> None:
    # flock belongs to the open file description, which a forked child (a verifier worker)
    # shares: the child must drop its copy, or the lock would outlive the node that took it.
    for fd in list(_held):
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_inherited)


class DataDirLock:
    """Holds ``<data dir>/node.lock`` (``flock``) with the owner's pid written in it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise ``Conflict`` naming the process that holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "node.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Conflict(
                f"another node (pid {owner}) is running on {self.path}", path=str(self.path)
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _held.add(fd)
        return self

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the ``flock``)."""
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)
            self._fd = None
