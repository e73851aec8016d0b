"""Range scans inside a block: committed state, earlier writes of the same block (deletes
included) and the call's own writes, merged in key order — against a dict reference."""

from __future__ import annotations

from typing import Any

from deploy import deploy, reset_nonces
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_net import make_net

STORE = """
from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, entry


class Store(Contract):
    @entry
    def set(self, key: str, value: int) -> None:
        self.ctx.put(key, value)

    @entry
    def drop(self, key: str) -> None:
        self.ctx.delete(key)

    @entry
    def listing(self, prefix: str, limit: int, extra: str) -> list[Any]:
        self.ctx.put(extra, -1)
        return [[k, v] for k, v in self.ctx.scan(prefix, limit)]
"""

keys = st.text(alphabet="abc/", min_size=1, max_size=4)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, st.integers(0, 9)),
        st.tuples(st.just("drop"), keys, st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(ops, ops, st.text(alphabet="abc/", max_size=2), st.integers(1, 20), keys)
def test_scan_matches_reference(
    committed: list[tuple[str, str, int]],
    same_block: list[tuple[str, str, int]],
    prefix: str,
    limit: int,
    extra: str,
) -> None:
    net = make_net("intl")
    ledger = net.ledger()
    reset_nonces(1)
    deploy(net, ledger, "store", STORE)
    reference: dict[str, int] = {}
    nonce = 100

    def txs(block: list[tuple[str, str, int]]) -> list[Any]:
        nonlocal nonce
        out = []
        for method, key, value in block:
            nonce += 1
            args: dict[str, Any] = {"key": key, "value": value} if method == "set" else {"key": key}
            out.append(net.tx(nonce, contract="store", method=method, args=args))
            if method == "set":
                reference[key] = value
            else:
                reference.pop(key, None)
        return out

    if committed:
        net.commit(ledger, txs(committed))
    block = txs(same_block)
    nonce += 1
    block.append(
        net.tx(
            nonce,
            contract="store",
            method="listing",
            args={"prefix": prefix, "limit": limit, "extra": extra},
        )
    )
    reference[extra] = -1
    receipt = net.commit(ledger, block).result.receipts[-1]
    assert receipt.status == "ok", receipt.error
    expected = [[k, v] for k, v in sorted(reference.items()) if k.startswith(prefix)][:limit]
    assert receipt.result == expected
