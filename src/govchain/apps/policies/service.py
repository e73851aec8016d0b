"""Service functions of enterprise policies, below the HTTP layer: what the node has committed
(policies, attested facts, the registry), matching with its trace, the calls a node signs for
staff (propose, approve, attest, revoke) and for enterprises (decline, apply on the case
engine). Every write is checked with the contract's own functions before it is signed.

What follows commits (re-matching, notices, grants without an application) is
``follower.Follower``, which each desk has.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.apps.policies.app import APP
from govchain.apps.policies.contract import (
    MAX_FACTS,
    assess,
    benefit_expression,
    civil_date,
    fact_problem,
    registry_facts,
    variables,
)
from govchain.apps.policies.follower import Follower
from govchain.apps.policies.matcher import STATUS_CODES, Columns, columns_of, match_policy
from govchain.apps.policies.rules import check_policy, explain
from govchain.errors import Conflict, Forbidden, NotFound, SchemaViolation
from govchain.node.casedesk import CaseDesk
from govchain.node.node import Node
from govchain.procedures import layout

CONTRACT = "policies"
"""Name the contract is committed under."""
PREFIX = b"c/policies/"
"""State prefix of the contract."""
DEFAULT_TIMEOUT_S = 30.0
"""How long a write waits for its block."""
APPLICANT_FIELDS = (
    "bank_account_name", "bank_name", "bank_account", "contact_name", "contact_phone",
    "truthfulness_pledge",
)  # fmt: skip
"""Fields of a policy support application the applicant fills in (the rest is pre-filled)."""
APPLICATION_SERVICES: dict[str, str] = {
    str(d["code"]): str(d["owner"])
    for d in APP.definitions()
    if d.get("opened_by", "applicant") == "applicant"
}
"""Policy support applications (one per issuing department): code -> owner."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every enterprise's facts as committed at one height."""

    height: int
    """Ledger height read."""
    on: str
    """Date the facts were taken on (Beijing time)."""
    usccs: tuple[str, ...]
    """Active enterprises, in code order."""
    facts: Mapping[str, dict[str, Any]]
    """USCC -> attribute -> value."""
    sources: Mapping[str, dict[str, dict[str, str]]]
    """USCC -> attribute -> ``{dept, attestation}``."""
    names: Mapping[str, str]
    """USCC -> enterprise name."""
    columns: Columns
    """The facts as matcher columns."""


def in_force(policy: Mapping[str, Any], on: str) -> bool:
    """Whether a policy's validity period covers date ``on``."""
    return bool(policy["valid_from"] <= on <= policy["valid_until"])


class PolicyDesk:
    """Reads policies and facts, matches enterprises, and signs policy calls."""

    def __init__(
        self,
        node: Node,
        casedesk: CaseDesk,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        board: Any = None,
    ) -> None:
        self.node = node
        self.casedesk = casedesk
        self.timeout_s = timeout_s
        self.board = board
        self._lock = threading.Lock()
        self._revision = 0
        self._snapshot: tuple[int, Snapshot] | None = None
        self.follower = Follower(self)
        """Re-matches, notifies and grants after each relevant block."""

    # --- following commits --------------------------------------------------------------------

    def changed(self) -> None:
        """Note that committed policies, facts or the registry changed (the follower calls it
        from the committer thread): the next read takes a new snapshot."""
        self._revision += 1

    def start(self) -> None:
        """Start the follower thread (re-matching after each relevant block)."""
        self.follower.start()

    def stop(self) -> None:
        """Stop the follower thread."""
        self.follower.stop()

    def refresh(self) -> dict[str, int]:
        """Re-match, notify and grant now (see ``follower.Follower.refresh``)."""
        return self.follower.refresh()

    # --- reads --------------------------------------------------------------------------------

    def _scan(self, prefix: bytes) -> list[tuple[bytes, Any]]:
        return [
            (k, orjson.loads(vv.value))
            for k, vv in self.node.ledger.state.iter_range(prefix)
            if vv.value is not None
        ]

    def policies(self, status: str = "") -> list[dict[str, Any]]:
        """Every policy record (of one status if given), in id order."""
        return [v for _, v in self._scan(PREFIX + b"p/") if not status or v["status"] == status]

    def policy(self, policy_id: str) -> dict[str, Any]:
        """One policy record (``NotFound`` if there is none)."""
        raw = self.node.ledger.state.get_value(PREFIX + b"p/" + policy_id.encode())
        if raw is None:
            raise NotFound(f"there is no policy {policy_id}", policy=policy_id)
        found: dict[str, Any] = orjson.loads(raw)
        return found

    def today(self) -> str:
        """The node's date (Beijing time)."""
        return civil_date(self.node.clock_ms())

    def snapshot(self) -> Snapshot:
        """Every active enterprise's facts (read again only after a relevant block)."""
        with self._lock:
            revision = self._revision
            now = self.node.clock_ms()
            on = civil_date(now)
            # Read again after a relevant block, or on a new day (years in business, validity).
            cached = self._snapshot
            if cached is not None and cached[0] == revision and cached[1].on == on:
                return cached[1]
            facts: dict[str, dict[str, Any]] = {}
            sources: dict[str, dict[str, dict[str, str]]] = {}
            names: dict[str, str] = {}
            for _, ent in self._scan(layout.ENTERPRISES):
                if ent.get("status") != "active":
                    continue
                uscc = ent["uscc"]
                names[uscc] = ent.get("name", "")
                facts[uscc] = registry_facts(ent, on)
                src = {"dept": "market", "attestation": "registry:" + uscc}
                sources[uscc] = {k: src for k in facts[uscc]}
            for _, att in self._scan(PREFIX + b"f/"):
                uscc = att["uscc"]
                if uscc in facts and not att["revoked"] and att["expires_ms"] > now:
                    facts[uscc][att["attribute"]] = att["value"]
                    sources[uscc][att["attribute"]] = {
                        "dept": att["dept"],
                        "attestation": att["id"],
                    }
            usccs = tuple(sorted(facts))
            snap = Snapshot(
                self.node.ledger.height,
                on,
                usccs,
                facts,
                sources,
                names,
                columns_of(usccs, [facts[u] for u in usccs]),
            )
            self._snapshot = (revision, snap)
            return snap

    def policies_in_force(self, on: str) -> list[dict[str, Any]]:
        """Published policies whose validity covers date ``on``."""
        return [r for r in self.policies("published") if in_force(r["policy"], on)]

    def match(self, uscc: str, *, everything: bool = False) -> dict[str, Any]:
        """The policies in force an enterprise qualifies for and nearly qualifies for (all of
        them with ``everything``), each with its trace and expected benefit, best first."""
        snap = self.snapshot()
        if uscc not in snap.facts:
            raise NotFound(f"{uscc} is not an active enterprise in the registry", uscc=uscc)
        facts, sources = snap.facts[uscc], snap.sources[uscc]
        out = []
        for record in self.policies_in_force(snap.on):
            policy = record["policy"]
            result = explain(policy, facts, sources)
            if everything or result["status"] != "not":
                out.append(self._described(record, result))
        rank = {"qualifies": 0, "nearly": 1, "not": 2}
        out.sort(key=lambda m: (rank[m["status"]], -m["benefit_fen"], m["policy"]))
        grants = {g["policy"]: g for g in self.grants(uscc)}
        for m in out:
            m["grant"] = grants.get(m["policy"])
        return {
            "uscc": uscc,
            "name": snap.names.get(uscc, ""),
            "on": snap.on,
            "height": snap.height,
            "matches": out,
        }

    @staticmethod
    def _described(record: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        policy = record["policy"]
        return {
            **result,
            "title": policy["title"],
            "issuer": policy["issuer"],
            "mode": policy["mode"],
            "document": policy["document"],
            "version": record["version"],
        }

    def match_all(self) -> dict[str, Any]:
        """Every policy in force against every enterprise (the bulk matcher): per policy, how
        many qualify and nearly qualify and the expected total benefit."""
        snap = self.snapshot()
        rows = []
        for record in self.policies_in_force(snap.on):
            m = match_policy(record["policy"], snap.columns)
            qualifies = m.status == 2
            rows.append(
                {
                    "policy": record["policy"]["id"],
                    "title": record["policy"]["title"],
                    "mode": record["policy"]["mode"],
                    "qualifies": int(qualifies.sum()),
                    "nearly": int((m.status == 1).sum()),
                    "benefit_fen": int(m.benefit_fen[qualifies].sum()),
                }
            )
        return {
            "on": snap.on,
            "height": snap.height,
            "enterprises": len(snap.usccs),
            "policies": rows,
        }

    def test_policy(self, policy: Any, limit: int = 20) -> dict[str, Any]:
        """Lint a draft policy and run it against the registry's enterprises: counts of each
        outcome, the expected total benefit, and sample enterprises with their traces."""
        checked = check_policy(policy)
        snap = self.snapshot()
        m = match_policy(checked, snap.columns)
        samples: list[dict[str, Any]] = []
        for code in (2, 1, 0):
            rows = [i for i in range(len(snap.usccs)) if m.status[i] == code][: max(limit // 3, 1)]
            for i in rows:
                u = snap.usccs[i]
                samples.append(
                    {"uscc": u, "name": snap.names.get(u, ""), "title": checked["title"]}
                    | explain(checked, snap.facts[u], snap.sources[u])
                )
        counts = {STATUS_CODES[c]: int((m.status == c).sum()) for c in (2, 1, 0)}
        return {
            "policy": checked["id"],
            "lint": [],
            "enterprises": len(snap.usccs),
            "counts": counts,
            "benefit_fen": int(m.benefit_fen[m.status == 2].sum()),
            "samples": samples,
        }

    def facts(self, uscc: str) -> dict[str, Any]:
        """An enterprise's facts now, each with the department and attestation it came from."""
        snap = self.snapshot()
        if uscc not in snap.facts:
            raise NotFound(f"{uscc} is not an active enterprise in the registry", uscc=uscc)
        return {
            "uscc": uscc,
            "facts": [
                {"attribute": k, "value": v, **snap.sources[uscc][k]}
                for k, v in sorted(snap.facts[uscc].items())
            ],
        }

    def grants(self, uscc: str = "") -> list[dict[str, Any]]:
        """Grant decisions (of one enterprise if given), by policy."""
        out = [v for _, v in self._scan(PREFIX + b"g/")]
        return [g for g in out if not uscc or g["uscc"] == uscc]

    def spent(self, policy_id: str) -> int:
        """Fen granted so far under a policy (declined grants released), as committed."""
        raw = self.node.ledger.state.get_value(PREFIX + b"b/" + policy_id.encode())
        return 0 if raw is None else int(orjson.loads(raw))

    def attestation(self, att_id: str) -> dict[str, Any]:
        """One attestation (``NotFound`` if there is none)."""
        raw = self.node.ledger.state.get_value(PREFIX + b"a/" + att_id.encode())
        if raw is None:
            raise NotFound(f"there is no attestation {att_id}", attestation=att_id)
        found: dict[str, Any] = orjson.loads(raw)
        return found

    # --- writes -------------------------------------------------------------------------------

    def _commit(
        self, dept: str, method: str, args: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        tx = self.casedesk.sign(dept, CONTRACT, method, args, actor)
        result = self.casedesk.commit_one(tx, self.timeout_s)
        height = self.node.ledger.locate(tx.tx_id).height
        return {"tx_id": tx.tx_id.hex(), "height": height, "result": result}

    def propose(self, dept: str, actor: str, policy: Any) -> dict[str, Any]:
        """Propose a policy for ``dept`` (its issuer) after the lint."""
        checked = check_policy(policy)
        if checked["issuer"] != dept:
            raise Forbidden(f"{dept} does not issue {checked['issuer']}'s policies", field="issuer")
        return self._commit(dept, "propose", {"policy": checked}, actor)

    def approve(self, dept: str, actor: str, policy_id: str, version: int) -> dict[str, Any]:
        """Approve (and so publish) the proposed version of a policy."""
        record = self.policy(policy_id)
        policy = record["policy"]
        if record["status"] != "proposed" or record["version"] != version:
            raise Conflict(f"{policy_id} version {version} is not the proposal", policy=policy_id)
        if dept != policy["issuer"] and dept not in policy["approvers"]:
            raise Forbidden(f"{dept} may not approve {policy_id}", policy=policy_id)
        if actor == record["proposed_by"]:
            raise Forbidden("the proposer does not approve their own policy", policy=policy_id)
        return self._commit(dept, "approve", {"policy_id": policy_id, "version": version}, actor)

    def withdraw(self, dept: str, actor: str, policy_id: str, reason: str) -> dict[str, Any]:
        """Withdraw a policy (its issuing department)."""
        record = self.policy(policy_id)
        if record["policy"]["issuer"] != dept:
            raise Forbidden(f"only {record['policy']['issuer']} withdraws {policy_id}")
        return self._commit(dept, "withdraw", {"policy_id": policy_id, "reason": reason}, actor)

    def attest(
        self, dept: str, actor: str, facts: Sequence[Mapping[str, Any]], valid_days: int = 366
    ) -> list[dict[str, Any]]:
        """Attest facts the department holds, in transactions of up to 500."""
        for i, f in enumerate(facts):
            bad = fact_problem(f.get("attribute"), f.get("value"))
            if bad:
                raise SchemaViolation(f"facts[{i}]: {bad}", field=f"facts[{i}]")
        out = []
        for start in range(0, len(facts), MAX_FACTS):
            chunk = [dict(f) for f in facts[start : start + MAX_FACTS]]
            out.append(
                self._commit(dept, "attest", {"facts": chunk, "valid_days": valid_days}, actor)
            )
        return out

    def revoke(self, dept: str, actor: str, att_id: str, reason: str) -> dict[str, Any]:
        """Revoke an attestation of the department."""
        att = self.attestation(att_id)
        if att["dept"] != dept:
            raise Forbidden(f"only {att['dept']} revokes {att_id}", attestation=att_id)
        return self._commit(dept, "revoke", {"attestation": att_id, "reason": reason}, actor)

    def decline(self, uscc: str, actor: str, policy_id: str, reason: str) -> dict[str, Any]:
        """Decline a grant for an enterprise (``actor``: its legal representative or agent);
        signed with the issuing department's key, the contract checks the actor acts for it."""
        raw = self.node.ledger.state.get_value(PREFIX + f"g/{policy_id}/{uscc}".encode())
        if raw is None:
            raise NotFound(f"{uscc} has no grant under {policy_id}", policy=policy_id)
        issuer = self.policy(policy_id)["policy"]["issuer"]
        return self._commit(
            issuer, "decline", {"policy_id": policy_id, "uscc": uscc, "reason": reason}, actor
        )

    # --- applications on the case engine -----------------------------------------------------

    def application_service(self, policy_id: str) -> str:
        """Code of the policy support application of the policy's issuing department."""
        issuer = self.policy(policy_id)["policy"]["issuer"]
        for code, owner in APPLICATION_SERVICES.items():
            if owner == issuer:
                return code
        raise NotFound(f"no policy support application of {issuer}", policy=policy_id)

    def application_form(self, uscc: str, policy_id: str) -> dict[str, Any]:
        """The pre-filled part of a policy support application: the policy, the enterprise,
        every fact the policy reads with its department and attestation, and the expected
        benefit. Only for a published policy granted on application that the enterprise
        qualifies for now."""
        record = self.policy(policy_id)
        policy = record["policy"]
        if record["status"] != "published" or policy["mode"] != "application":
            raise Conflict(f"{policy_id} is not a published policy granted on application")
        snap = self.snapshot()
        if uscc not in snap.facts:
            raise NotFound(f"{uscc} is not an active enterprise in the registry", uscc=uscc)
        facts, sources = snap.facts[uscc], snap.sources[uscc]
        outcome = assess(policy, facts)
        if outcome["status"] != "qualifies":
            raise Conflict(f"{uscc} does not qualify for {policy_id} now", policy=policy_id)
        names = variables(policy["eligibility"], [])
        variables(benefit_expression(policy["benefit"]), names)
        return {
            "policy_id": policy_id,
            "uscc": uscc,
            "enterprise_name": snap.names.get(uscc, ""),
            "matched_facts": [
                {"attribute": n, "value": facts[n], **sources[n]} for n in names if n in facts
            ],
            "expected_benefit_fen": outcome["benefit_fen"],
        }

    def apply(
        self,
        uscc: str,
        applicant: str,
        session: str,
        policy_id: str,
        answers: Mapping[str, Any],
    ) -> dict[str, Any]:
        """File a policy support application on the case engine for an enterprise the
        applicant acts for: the matched facts pre-filled (not the applicant's to change),
        the account and contact from ``answers``. Return the case number and transaction."""
        code = self.application_service(policy_id)
        own = {k: v for k, v in answers.items() if k in APPLICANT_FIELDS}
        form = {**own, **self.application_form(uscc, policy_id)}
        tx = self.casedesk.submission(applicant, session, code, form, {}, [], subject=uscc)
        result = self.casedesk.commit_one(tx, self.timeout_s)
        height = self.node.ledger.locate(tx.tx_id).height
        return {
            "service": code,
            "number": result["number"],
            "tx_id": tx.tx_id.hex(),
            "height": height,
        }


_DESK_LOCK = threading.Lock()


def desk_for(app_state: Any) -> PolicyDesk:
    """Return the policy desk of an API application's state (made on first use and kept there
    as ``policies``; its follower thread started, posting to the notification centre)."""
    desk: PolicyDesk | None = getattr(app_state, "policies", None)
    if desk is None:
        with _DESK_LOCK:
            desk = getattr(app_state, "policies", None)
            if desk is None:
                from govchain.node.notifications import board_for

                settings = getattr(app_state, "settings", None)
                timeout = float(getattr(settings, "wait_timeout_s", DEFAULT_TIMEOUT_S))
                desk = PolicyDesk(app_state.node, app_state.casedesk, timeout, board_for(app_state))
                desk.start()
                app_state.node.on_close.append(desk.stop)
                app_state.policies = desk
    return desk
