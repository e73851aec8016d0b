"""The node's content store: files addressed by their hash (the network suite's hash), kept
off-chain beside the ledger. The ledger holds hashes; this holds the bytes a department chose to
keep. A file is durable (written, fsynced, renamed into place) before ``put`` returns."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from govchain.errors import IntegrityError, NotFound, RootMismatch, SchemaViolation, TooLarge

_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest file accepted (64 MiB)."""


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lower-case hex characters (``SchemaViolation`` if not)."""
    if not _DIGEST.match(digest):
        raise SchemaViolation(f"digest {digest[:80]!r} must be 64 lower-case hex characters")
    return digest


class ContentStore:
    """Files by hash, in a directory (``root``) or in memory (``root=None``)."""

    def __init__(self, root: Path | None, hash_fn: Callable[[bytes], bytes]) -> None:
        self.root = root
        self.hash_fn = hash_fn
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        assert self.root is not None
        return self.root / digest[:2] / digest

    def put(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data``; return its digest. With ``expected``, refuse data that hashes
        otherwise (``RootMismatch``); nothing is stored then."""
        if len(data) > MAX_FILE_BYTES:
            raise TooLarge(f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")
        digest = self.hash_fn(data).hex()
        if expected is not None and check_digest(expected) != digest:
            raise RootMismatch("file digest", bytes.fromhex(expected), bytes.fromhex(digest))
        if self.root is None:
            with self._lock:
                self._memory[digest] = data
            return digest
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest

    def get(self, digest: str) -> bytes:
        """Return a stored file (``NotFound`` if absent); the bytes are re-hashed on read, and a
        file that no longer hashes to its name is stored corruption (``IntegrityError``: the API
        answers 500 naming it, never the altered bytes)."""
        check_digest(digest)
        if self.root is None:
            data = self._memory.get(digest)
        else:
            try:
                data = self._path(digest).read_bytes()
            except FileNotFoundError:
                data = None
        if data is None:
            raise NotFound(f"no file {digest} in the content store")
        actual = self.hash_fn(data).hex()
        if actual != digest:
            raise IntegrityError(
                f"content store: file {digest} now hashes to {actual}", digest=digest, actual=actual
            )
        return data

    def has(self, digest: str) -> bool:
        """Return whether a file is stored."""
        check_digest(digest)
        if self.root is None:
            return digest in self._memory
        return self._path(digest).exists()
