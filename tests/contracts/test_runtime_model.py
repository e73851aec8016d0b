"""Stateful property: a sandboxed contract on a ledger behaves like a plain Python model of the
same rules, over random blocks of calls (good, failing, badly typed), and replays identically."""

from __future__ import annotations

from typing import Any

from deploy import deploy, reset_nonces
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from ledger_net import make_net

from govchain.ledger.audit import verify_chain

ACCOUNTS = """
from __future__ import annotations

from govchain.sdk import Contract, Failed, entry, view


class Accounts(Contract):
    @entry
    def deposit(self, account: str, amount: int) -> int:
        if amount <= 0:
            raise Failed("not_positive", "amount must be positive")
        balance = (self.ctx.get("a/" + account) or 0) + amount
        self.ctx.put("a/" + account, balance)
        return balance

    @entry
    def transfer(self, source: str, target: str, amount: int) -> int:
        if amount <= 0:
            raise Failed("not_positive", "amount must be positive")
        have = self.ctx.get("a/" + source) or 0
        self.ctx.put("a/" + source, have - amount)  # written before the check: must roll back
        if have < amount:
            raise Failed("insufficient", "balance too low")
        self.ctx.put("a/" + target, (self.ctx.get("a/" + target) or 0) + amount)
        return have - amount

    @view
    def balances(self) -> dict[str, int]:
        out = {}
        for key, value in self.ctx.scan("a/", 1000):
            out[key[2:]] = value
        return out
"""

names = st.sampled_from(["ann", "bo", "cy"])
calls = st.one_of(
    st.tuples(
        st.just("deposit"), st.fixed_dictionaries({"account": names, "amount": st.integers(-3, 50)})
    ),
    st.tuples(
        st.just("transfer"),
        st.fixed_dictionaries({"source": names, "target": names, "amount": st.integers(-3, 60)}),
    ),
    st.tuples(
        st.just("deposit"), st.fixed_dictionaries({"account": names, "amount": st.text(max_size=2)})
    ),
)


def model_apply(model: dict[str, int], method: str, args: dict[str, Any]) -> str:
    """The reference: plain Python, the same rules, returns the expected receipt status."""
    amount = args["amount"]
    if type(amount) is not int:
        return "failed"
    if method == "deposit":
        if amount <= 0:
            return "failed"
        model[args["account"]] = model.get(args["account"], 0) + amount
        return "ok"
    have = model.get(args["source"], 0)
    if amount <= 0 or have < amount:
        return "failed"
    model[args["source"]] = have - amount
    model[args["target"]] = model.get(args["target"], 0) + amount
    return "ok"


class ContractVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.net = make_net("intl")
        self.ledger = self.net.ledger()
        reset_nonces(1)
        deploy(self.net, self.ledger, "accounts", ACCOUNTS)
        self.model: dict[str, int] = {}
        self.nonce = 1_000

    @rule(block=st.lists(calls, min_size=1, max_size=6))
    def commit_block(self, block: list[tuple[str, dict[str, Any]]]) -> None:
        txs = []
        expected = []
        for method, args in block:
            self.nonce += 1
            txs.append(self.net.tx(self.nonce, contract="accounts", method=method, args=args))
            expected.append(model_apply(self.model, method, args))
        receipts = self.net.commit(self.ledger, txs).result.receipts
        assert [r.status for r in receipts] == expected

    @invariant()
    def balances_match(self) -> None:
        stored = {
            k.decode()[len("c/accounts/a/") :]: int(v.value)
            for k, v in self.ledger.state.iter_range(b"c/accounts/a/")
            if v.value is not None
        }
        assert stored == {k: v for k, v in self.model.items()}

    def teardown(self) -> None:
        report = verify_chain(self.ledger, self.net.ledger())
        assert report.ok, report.error


ContractVsModel.TestCase.settings = settings(max_examples=15, stateful_step_count=8, deadline=None)
test_contract_matches_model = ContractVsModel.TestCase
