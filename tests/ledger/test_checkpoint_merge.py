"""Merging other departments' checkpoint signatures (a network node certifying heights): many
heights in one durable storage commit, each stored checkpoint holding every signature."""

from __future__ import annotations

from ledger_net import Net

from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore


class CountingStore(MemoryStore):
    """A memory store that counts its commits."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    def commit(self, batch: WriteBatch) -> None:
        self.commits += 1
        super().commit(batch)


def test_signatures_of_several_heights_are_merged_by_one_commit(intl_net: Net) -> None:
    store = CountingStore()
    ledger = intl_net.ledger(store)
    market = intl_net.node_keys["market"]
    for nonce in range(3):
        ledger.commit_block(
            [intl_net.tx(nonce)],
            timestamp_ms=1_000,
            proposer="market",
            sign_header=lambda m: intl_net.suite.sign(market.private, m),
            checkpoint_keys=[("market", market.private)],
        )
    others = {d: k for d, k in intl_net.node_keys.items() if d != "market"}
    wanted = {
        h: [
            (d, intl_net.suite.sign(k.private, ledger.checkpoint(h).checkpoint.signing_message()))
            for d, k in others.items()
        ]
        for h in (1, 3)
    }
    before = store.commits
    merged = ledger.add_checkpoints_signatures(wanted)
    assert store.commits == before + 1
    for h in (1, 3):
        stored = ledger.checkpoint(h)
        assert stored == merged[h]
        assert sorted(d for d, _ in stored.signatures) == sorted(intl_net.node_keys)
        for d, sig in stored.signatures:
            key = intl_net.node_keys[d].public
            assert intl_net.suite.verify(key, stored.checkpoint.signing_message(), sig)
    assert [d for d, _ in ledger.checkpoint(2).signatures] == ["market"]  # untouched
    assert ledger.add_checkpoints_signatures({}) == {} and store.commits == before + 1
