"""Read-only calls (views) against committed state: queries from the API, the SDK harness and
services. A view sees the state as of the last committed block and cannot write."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from govchain.contracts.errors import ContractError, ReadOnlyCall
from govchain.errors import GovchainError
from govchain.ledger.execution import CallContext
from govchain.ledger.state import WorldState


@runtime_checkable
class ViewRunner(Protocol):
    """Something that runs views by contract name (``ContractRegistry``)."""

    def view(self, ctx: CallContext, contract: str, method: str, args: Mapping[str, Any]) -> Any:
        """Run a view."""
        ...


class ReadContext:
    """A ``CallContext`` over committed state that refuses writes (no transaction, no signer)."""

    def __init__(self, state: WorldState, height: int, time_ms: int) -> None:
        self._state = state
        self.tx: Any = None
        self.signer_dept = ""
        self.signer_role = ""
        self.height = height
        self.block_time_ms = time_ms

    def get(self, key: bytes) -> bytes | None:
        v = self._state.get(key)
        return None if v is None else v.value

    def put(self, key: bytes, value: bytes) -> None:
        raise ReadOnlyCall("a query cannot write state")

    def delete(self, key: bytes) -> None:
        raise ReadOnlyCall("a query cannot write state")

    def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        raise ReadOnlyCall("a query cannot emit events")

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        for key, v in self._scan(prefix):
            out.append((key, v))
            if len(out) >= limit:
                break
        return out

    def _scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, v in self._state.iter_range(prefix):
            if v.value is not None:
                yield key, v.value


def run_view(
    host: ViewRunner,
    state: WorldState,
    contract: str,
    method: str,
    args: Mapping[str, Any],
    *,
    height: int,
    time_ms: int,
) -> Any:
    """Run ``contract.method(args)`` read-only against committed ``state``.

    A bug in the contract (any exception that is not a ``GovchainError``) becomes
    ``ContractError``, as it becomes a failed receipt with code ``contract_error`` in a block."""
    try:
        return host.view(ReadContext(state, height, time_ms), contract, method, args)
    except GovchainError:
        raise
    except Exception as exc:
        raise ContractError(f"{contract}.{method}: {type(exc).__name__}: {exc}") from None
