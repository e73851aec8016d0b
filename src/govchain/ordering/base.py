"""The ordering port.

An orderer takes admitted items (opaque to it) and hands them out again in one total order, cut
into batches: a batch becomes one block. Ordering is trusted for order and liveness only; every
node re-validates and re-executes the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class Orderer(Protocol[T]):
    """Orders items into batches."""

    def submit(self, items: Sequence[T]) -> None:
        """Queue items in order; raise ``govchain.errors.Unavailable`` if ordering is down."""
        ...

    def next_batch(self, timeout: float) -> list[T]:
        """Return the next batch, or an empty list if none was cut within ``timeout`` seconds."""
        ...

    def pending(self) -> int:
        """Return how many submitted items are not yet handed out."""
        ...

    def close(self) -> None:
        """Stop ordering; later ``submit`` calls raise ``Unavailable``."""
        ...
