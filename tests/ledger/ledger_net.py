"""Helpers of the ledger-core tests: an in-memory network of four departments per suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.ledger.chain import CommittedBlock, Ledger
from govchain.ledger.genesis import Genesis, Member, Params, make_genesis
from govchain.ledger.transactions import Transaction, build_transaction
from govchain.storage.memory import MemoryStore

DEPTS = ["market", "tax", "hrss", "customs"]


@dataclass
class Net:
    """A test network: genesis plus every private key."""

    suite: CryptoSuite
    genesis: Genesis
    node_keys: dict[str, KeyPair]
    member_keys: dict[str, KeyPair]

    def tx(
        self,
        nonce: int,
        *,
        signer: str = "tax/admin",
        chain: str | None = None,
        contract: str = "kv",
        method: str = "put",
        args: dict[str, Any] | None = None,
        case: str = "",
        purpose: str = "",
    ) -> Transaction:
        key = self.member_keys[signer]
        return build_transaction(
            chain=chain or self.genesis.chain_id,
            signer=signer,
            nonce=nonce,
            contract=contract,
            method=method,
            args={"key": f"k{nonce}", "value": nonce} if args is None else args,
            actor=f"{signer}#person",
            case=case,
            purpose=purpose,
            sign=lambda m: self.suite.sign(key.private, m),
            hash_fn=self.suite.hash,
        )

    def ledger(self, store: MemoryStore | None = None) -> Ledger:
        return Ledger(
            store or MemoryStore(),
            self.genesis,
            self.suite,
            builtin_registry(self.genesis, self.suite.hash),
        )

    def commit(self, ledger: Ledger, txs: list[Transaction], ts: int = 1_000) -> CommittedBlock:
        proposer = self.node_keys["market"]
        return ledger.commit_block(
            txs,
            timestamp_ms=ts,
            proposer="market",
            sign_header=lambda m: self.suite.sign(proposer.private, m),
            checkpoint_keys=[(d, k.private) for d, k in self.node_keys.items()],
        )


def make_net(suite_name: str, buckets: int = 16) -> Net:
    suite = get_suite(suite_name)
    node_keys = {d: suite.generate_keypair() for d in DEPTS}
    member_keys = {f"{d}/admin": suite.generate_keypair() for d in DEPTS}
    genesis = make_genesis(
        chain_id="testnet",
        suite=suite_name,
        created_ms=0,
        departments=[(d, d.upper(), node_keys[d].public) for d in DEPTS],
        members=[Member(m, m.split("/")[0], "admin", k.public) for m, k in member_keys.items()],
        params=Params(state_buckets=buckets),
    )
    return Net(suite, genesis, node_keys, member_keys)


NetFactory = Callable[[str], Net]
