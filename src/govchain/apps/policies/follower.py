"""Following commits: re-matching enterprises when a policy or a fact changes, telling them in
their notification centre, and deciding grants without an application (免申即享) on-chain.

A block listener (on the node's committer thread, cheap: no I/O) notes which enterprises'
facts changed (``policies.attested`` / ``revoked``, registry events) and whether a policy was
published or withdrawn (then every enterprise is re-matched). ``refresh`` — run by the
follower thread after such a block, or called directly — re-matches those enterprises with
the contract's evaluator, posts a notice when an enterprise newly qualifies or nearly
qualifies (idempotent per policy, version and outcome), and decides automatic policies'
grants as cases: the issuing department's node opens a grant case (``opened_by``
department; subject: the enterprise; form and particulars: the policy, the amount in fen and
the attestations relied on), signs ``grant`` on that case, then decides the case (approved, or
rejected with the contract's reason) and closes it. The contract decides each grant again from
the committed facts: a fact revoked in between makes it refuse.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govchain.apps.policies.app import APP
from govchain.apps.policies.attributes import BY_NAME
from govchain.apps.policies.contract import assess, benefit_expression, clauses_of, variables
from govchain.errors import GovchainError, NotFound, ReplayedNonce, Unavailable
from govchain.ledger.chain import CommittedBlock
from govchain.ledger.transactions import Transaction

if TYPE_CHECKING:
    from govchain.apps.policies.service import PolicyDesk

log = logging.getLogger("govchain.policies")

CONTRACT = "policies"
"""Name the contract is committed under."""
ENGINE_ACTOR = "policy-engine"
"""Actor of the grants the engine decides (``<dept>/policy-engine``)."""
GRANT_SERVICES: dict[str, str] = {
    str(d["owner"]): str(d["code"]) for d in APP.definitions() if d.get("opened_by") == "department"
}
"""The grant case's service (免申即享, opened by the issuer itself) of each issuing department."""
MAX_REASON = 500
"""Longest reason the case engine records."""
NONCE_RETRIES = 3
"""Times a call refused for a stale nonce is signed again and resubmitted."""
Signer = Callable[[], Transaction]
"""Signs one prepared call (when it is about to be committed)."""
GRANT_BATCH = 200
"""Grants signed and committed together."""
WAKE_S = 5.0
"""Longest the follower sleeps without a block (then it looks whether the date changed)."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """A grant the follower is about to decide."""

    record: Mapping[str, Any]
    """The policy's record (policy, version ...)."""
    uscc: str
    """The enterprise."""
    amount_fen: int
    """The benefit the committed facts give, in fen (the contract computes it again)."""


def workable(policy: Mapping[str, Any], clause: int) -> bool:
    """Whether a failing clause is one the enterprise can work on: it reads only attested
    facts (staff, revenue, R&D ...), not the register's industry, district or age, so a
    notice that it nearly qualifies is worth sending."""
    names = variables(clauses_of(policy["eligibility"])[clause], [])
    return all(BY_NAME[n].holder != "registry" for n in names)


class Follower:
    """Re-matches, notifies and grants after the blocks that change policies or facts."""

    def __init__(self, desk: PolicyDesk) -> None:
        self.desk = desk
        self._lock = threading.Lock()  # guards the dirty marks (committer thread vs refresh)
        self._refreshing = threading.Lock()  # one refresh at a time: the thread or a caller
        self._dirty: set[str] = set()
        self._everyone = True  # the first refresh matches every enterprise
        self._last: dict[tuple[str, str], str] = {}  # (uscc, policy) -> last outcome seen
        self._day = ""  # date of the last refresh
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        desk.node.listeners.append(self.on_block)

    def on_block(self, block: CommittedBlock) -> None:
        """Committer thread: note the enterprises and policies a block changed."""
        dirty: set[str] = set()
        everyone = changed = False
        for receipt in block.result.receipts:
            for event in receipt.events:
                kind = str(event.get("type", ""))
                raw = event.get("data")
                data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
                if kind in ("policies.attested", "policies.revoked"):
                    dirty.update(str(u) for u in data.get("usccs", []))
                elif kind in ("policies.published", "policies.withdrawn"):
                    everyone = True
                elif kind.startswith("registry.") and isinstance(data.get("uscc"), str):
                    dirty.add(data["uscc"])
                elif kind not in ("policies.granted", "policies.declined"):
                    continue
                changed = True
        if changed:
            with self._lock:
                self._dirty |= dirty
                self._everyone = self._everyone or everyone
            self.desk.changed()
            self._wake.set()

    def start(self) -> None:
        """Start the follower thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="policy-follower", daemon=True)
            self._thread.start()
            self._wake.set()

    def stop(self) -> None:
        """Stop the follower thread (waits a few seconds for a refresh under way)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=WAKE_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except GovchainError as exc:  # the node is stopping or busy: the next block retries
                log.warning("policy follower: %s", exc)
            except Exception:  # a bug must not stop the follower silently: say so, go on
                log.exception("policy follower: refresh failed")

    def refresh(self) -> dict[str, int]:
        """Re-match the enterprises whose facts changed (all of them after a policy change),
        post changed outcomes to their notification centres, and decide the grants of
        automatic policies they now qualify for. Return counts of what was done."""
        with self._refreshing:
            return self._refresh()

    def _refresh(self) -> dict[str, int]:
        desk = self.desk
        with self._lock:  # taken before reading: a block after this marks its changes again
            everyone, dirty = self._everyone, self._dirty
            self._everyone, self._dirty = False, set()
        snap = desk.snapshot()
        # A new day matches everyone again: policies come into force, enterprises age.
        everyone = everyone or snap.on != self._day
        self._day = snap.on
        usccs = list(snap.usccs) if everyone else [u for u in sorted(dirty) if u in snap.facts]
        if not usccs:
            return {"enterprises": 0, "notices": 0, "grants": 0, "refused": 0}
        granted = {(g["policy"], g["uscc"]) for g in desk.grants()}
        records = desk.policies_in_force(snap.on)
        notices = 0
        wanted: list[Wanted] = []
        for uscc in usccs:
            facts = snap.facts[uscc]
            for record in records:
                policy = record["policy"]
                outcome = assess(policy, facts)
                status = outcome["status"]
                key = (uscc, policy["id"])
                before = self._last.get(key, "not")
                self._last[key] = status
                if status != before and (
                    status == "qualifies"
                    or (status == "nearly" and workable(policy, outcome["failing"][0]))
                ):
                    notices += self._notify(uscc, record, status)
                if (
                    status == "qualifies"
                    and policy["mode"] == "automatic"
                    and (policy["id"], uscc) not in granted
                ):
                    wanted.append(Wanted(record, uscc, int(outcome["benefit_fen"])))
        made, refused = self._grant(wanted, snap.sources, snap.facts)
        return {"enterprises": len(usccs), "notices": notices, "grants": made, "refused": refused}

    def _grant(
        self,
        wanted: list[Wanted],
        sources: Mapping[str, Mapping[str, Mapping[str, str]]],
        facts: Mapping[str, Mapping[str, Any]],
    ) -> tuple[int, int]:
        """Open each grant's case (依职权, by the issuer's node), decide the grant on it in
        the policies contract, then decide and close the case as the contract decided: three
        rounds of batches, since each needs the one before committed."""
        made = refused = 0
        left: dict[str, int] = {}  # budget left per policy, after this round's grants
        # Signed a batch at a time, just before it is committed: a node keeps a window of
        # recent nonces per signer, and the grants of one batch must not push the cases of
        # the next out of it.
        for start in range(0, len(wanted), GRANT_BATCH):
            batch = wanted[start : start + GRANT_BATCH]
            opening = self._open_cases(batch, sources, facts, left)
            m, r = self._decide(opening)
            made, refused = made + m, refused + r
        return made, refused

    def _open_cases(
        self,
        batch: list[Wanted],
        sources: Mapping[str, Mapping[str, Mapping[str, str]]],
        facts: Mapping[str, Mapping[str, Any]],
        left: dict[str, int],
    ) -> list[tuple[Wanted, Signer]]:
        """Prepare the grant cases' submissions of a batch (by the issuers' nodes): checked,
        their forms kept, to be signed when they are committed."""
        desk = self.desk
        prepared: list[tuple[Wanted, str, dict[str, Any]]] = []
        for w in batch:
            policy = w.record["policy"]
            issuer, pid = policy["issuer"], policy["id"]
            service = GRANT_SERVICES.get(issuer)
            if service is None:
                continue  # no grant service of the issuer published with this version
            if policy["budget_fen"]:
                left.setdefault(pid, policy["budget_fen"] - desk.spent(pid))
                if w.amount_fen > left[pid]:
                    continue  # the budget is spent: no case is opened to be refused
                left[pid] -= w.amount_fen
            relied = variables(policy["eligibility"], [])
            variables(benefit_expression(policy["benefit"]), relied)
            src = sources[w.uscc]
            used = [
                {"attribute": a, "value": facts[w.uscc][a], **src[a]} for a in relied if a in src
            ]
            form = {
                "policy_id": pid,
                "policy_version": w.record["version"],
                "uscc": w.uscc,
                "amount_fen": w.amount_fen,
                "facts": used,
            }
            particulars = {
                "policy": pid,
                "version": w.record["version"],
                "amount_fen": w.amount_fen,
                "attestations": [f["attestation"] for f in used],
            }
            actor = f"{issuer}/{ENGINE_ACTOR}"
            try:
                args = desk.casedesk.department_case(
                    issuer, actor, service, w.uscc, form, particulars=particulars
                )
            except NotFound:
                continue  # another department's node decides its own grants
            prepared.append((w, actor, args))
        out: list[tuple[Wanted, Signer]] = []
        for w, actor, args in prepared:
            issuer = w.record["policy"]["issuer"]
            out.append(
                (w, functools.partial(desk.casedesk.sign_department_case, issuer, actor, args))
            )
        return out

    def _commit(self, signers: list[Signer]) -> list[GovchainError | dict[str, Any]]:
        """Sign the calls together, just before they are committed, and commit them; sign
        again and resubmit those the node refused for a stale nonce (another thread of the
        node signed for the same member meanwhile: a node accepts a signer's nonces only
        within a small window below the highest it used), a few times."""
        casedesk = self.desk.casedesk
        outcomes: list[GovchainError | dict[str, Any]] = [
            Unavailable("not submitted") for _ in signers
        ]
        todo = list(range(len(signers)))
        for _ in range(NONCE_RETRIES):
            if not todo:
                break
            signed = []
            for i in todo:
                try:
                    signed.append((i, signers[i]()))
                except NotFound as exc:  # this node does not hold the member's key
                    outcomes[i] = exc
            results = casedesk.commit([tx for _, tx in signed], self.desk.timeout_s)
            todo = []
            for (i, _), result in zip(signed, results, strict=True):
                outcomes[i] = result
                if isinstance(result, ReplayedNonce):
                    todo.append(i)
        return outcomes

    def _decide(self, opening: list[tuple[Wanted, Signer]]) -> tuple[int, int]:
        """Commit a batch's grant cases, then the grants on them, then each case's decision
        (as the contract decided), then its closing; return (granted, refused)."""
        casedesk = self.desk.casedesk
        made = refused = 0
        opened = self._commit([sign for _, sign in opening]) if opening else []
        granting: list[tuple[Wanted, str, Signer]] = []
        for (w, _), case in zip(opening, opened, strict=True):
            if isinstance(case, GovchainError):
                if not isinstance(case, NotFound):
                    refused += 1
                    log.warning("policy follower: a grant case was not opened: %s", case)
                continue
            policy = w.record["policy"]
            args = {"policy_id": policy["id"], "uscc": w.uscc, "case": case["number"]}
            actor = f"{policy['issuer']}/{ENGINE_ACTOR}"
            sign = functools.partial(
                casedesk.sign, policy["issuer"], CONTRACT, "grant", args, actor
            )
            granting.append((w, case["number"], sign))
        decided = self._commit([sign for _, _, sign in granting]) if granting else []
        deciding: list[Signer] = []
        closing: list[Signer] = []
        for (w, number, _), outcome in zip(granting, decided, strict=True):
            issuer = w.record["policy"]["issuer"]
            if isinstance(outcome, GovchainError):
                # The chain decides: a fact revoked meanwhile, a budget spent. The case says
                # so, with the contract's reason.
                refused += 1
                decision = {"outcome": "reject", "reason": str(outcome)[:MAX_REASON]}
            else:
                made += 1
                decision = {"outcome": "approve"}
                self._notify_grant(w.uscc, w.record["policy"]["id"], outcome)
            for calls, transition, args in (
                (deciding, "decide", decision),
                (closing, "close", {}),
            ):
                calls.append(
                    functools.partial(
                        casedesk.sign, issuer, "cases", transition,
                        {**args, "case": number, "role": "approver"},
                        f"{issuer}/{ENGINE_ACTOR}", case=number,
                    )
                )  # fmt: skip
        for calls in (deciding, closing):
            for outcome in self._commit(calls) if calls else []:
                if isinstance(outcome, GovchainError):
                    log.warning("policy follower: a grant case was not decided: %s", outcome)
        return made, refused

    def _notify(self, uscc: str, record: Mapping[str, Any], status: str) -> int:
        board = self.desk.board
        if board is None:
            return 0
        policy = record["policy"]
        zh = "符合条件" if status == "qualifies" else "差一项条件"
        en = "you qualify" if status == "qualifies" else "one condition is not met"
        board.post(
            "uscc:" + uscc,
            "policy.match",
            title={
                "zh": f"惠企政策：{policy['title']['zh']}（{zh}）",
                "en": f"Support policy: {policy['title']['en']} ({en})",
            },
            body={"zh": policy["summary"]["zh"], "en": policy["summary"]["en"]},
            link=f"/policies/mine#{policy['id']}",
            source={"contract": CONTRACT, "policy": policy["id"], "version": record["version"]},
            key=f"match:{policy['id']}:{record['version']}:{status}",
        )
        return 1

    def _notify_grant(self, uscc: str, policy_id: str, decision: Mapping[str, Any]) -> None:
        board = self.desk.board
        if board is None:
            return
        title = self.desk.policy(policy_id)["policy"]["title"]
        fen = int(decision["amount_fen"])
        yuan = f"{fen // 100:,}.{fen % 100:02d}"
        board.post(
            "uscc:" + uscc,
            "policy.grant",
            title={
                "zh": f"免申即享：{title['zh']}",
                "en": f"Granted without applying: {title['en']}",
            },
            body={
                "zh": f"已自动核定 {yuan} 元（办件 {decision['case']}），如不需要可以放弃。",
                "en": f"{yuan} yuan was granted automatically (case {decision['case']}); "
                "you may decline it.",
            },
            link=f"/cases/{decision['case']}",
            source={
                "contract": CONTRACT,
                "policy": policy_id,
                "tx": decision.get("tx_id", ""),
                "case": decision["case"],
            },
            key=f"grant:{policy_id}",
        )
