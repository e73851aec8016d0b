"""Following commits: re-matching enterprises when a policy or a fact changes, telling them in
their notification centre, and deciding grants without an application (免申即享) on-chain.

A block listener (on the node's committer thread, cheap: no I/O) notes which enterprises'
facts changed (``policies.attested`` / ``revoked``, registry events) and whether a policy was
published or withdrawn (then every enterprise is re-matched). ``refresh`` — run by the
follower thread after such a block, or called directly — re-matches those enterprises with
the contract's evaluator, posts a notice when an enterprise newly qualifies or nearly
qualifies (idempotent per policy, version and outcome), and signs ``grant`` for automatic
policies with the issuing department's key. The contract decides each grant again from the
committed facts: a fact revoked in between makes it refuse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from govchain.apps.policies.attributes import BY_NAME
from govchain.apps.policies.contract import assess, clauses_of, variables
from govchain.errors import GovchainError, NotFound
from govchain.ledger.chain import CommittedBlock

if TYPE_CHECKING:
    from govchain.apps.policies.service import PolicyDesk

log = logging.getLogger("govchain.policies")

CONTRACT = "policies"
"""Name the contract is committed under."""
ENGINE_ACTOR = "policy-engine"
"""Actor of the grants the engine decides (``<dept>/policy-engine``)."""
GRANT_BATCH = 200
"""Grants signed and committed together."""
WAKE_S = 5.0
"""Longest the follower sleeps without a block (then it looks whether the date changed)."""


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
        wanted: list[tuple[str, str, str]] = []  # (issuer, policy, uscc)
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
                    wanted.append((policy["issuer"], policy["id"], uscc))
        made, refused = self._grant(wanted)
        return {"enterprises": len(usccs), "notices": notices, "grants": made, "refused": refused}

    def _grant(self, wanted: list[tuple[str, str, str]]) -> tuple[int, int]:
        casedesk = self.desk.casedesk
        signed = []
        for issuer, pid, uscc in wanted:
            args = {"policy_id": pid, "uscc": uscc}
            try:
                tx = casedesk.sign(issuer, CONTRACT, "grant", args, f"{issuer}/{ENGINE_ACTOR}")
            except NotFound:
                continue  # another department's node decides its own grants
            signed.append((pid, uscc, tx))
        made = refused = 0
        for start in range(0, len(signed), GRANT_BATCH):
            batch = signed[start : start + GRANT_BATCH]
            outcomes = casedesk.commit([tx for _, _, tx in batch], self.desk.timeout_s)
            for (pid, uscc, _), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, GovchainError):
                    refused += 1  # the chain decides: a fact revoked meanwhile, a budget spent
                    continue
                made += 1
                self._notify_grant(uscc, pid, outcome)
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
                "zh": f"已自动核定 {yuan} 元，如不需要可以放弃。",
                "en": f"{yuan} yuan was granted automatically; you may decline it.",
            },
            link=f"/policies/mine#{policy_id}",
            source={"contract": CONTRACT, "policy": policy_id, "tx": decision.get("tx_id", "")},
            key=f"grant:{policy_id}",
        )
