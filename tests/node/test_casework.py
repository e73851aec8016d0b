"""The node's case worker (``node.casework``) on a real embedded node with its API app.

A five-department network (the demo four and housing, for registration's held material), an
in-memory node with a settable clock, and the API app ``create_app`` builds (which starts the
worker). The enterprise app's resources and definitions are published as a network would; the
cases then run as applicants and staff would move them, through signed transactions posted to
the API, while the worker answers the checks and ends the notice periods by itself.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.enterprise.synthetic import citizens, enterprises
from govchain.cli.apps import publish_definitions
from govchain.contracts.registry import builtin_registry
from govchain.crypto import get_suite
from govchain.ledger.genesis import Params
from govchain.ledger.transactions import build_transaction
from govchain.node.casework import CaseWorker, start_casework
from govchain.node.network import DEMO_DEPARTMENTS, NetworkDir, init_network
from govchain.node.node import Node, NodeIdentity
from govchain.ordering.solo import SoloOrderer
from govchain.procedures.uscc import issue_uscc
from govchain.sdk import find_app
from govchain.sharing.requests import build_request
from govchain.sharing.service import SharingService
from govchain.storage.memory import MemoryStore

CHAIN = "casework-test"
START_MS = 1_800_000_000_000
"""The test clock starts here (2027-01-15)."""
DAY_MS = 86_400_000
SIMPLIFIED = "330100-ZX-0001"
ORDINARY = "330100-ZX-0002"
REGISTRATION = "330100-DJ-0001"
CHECKS = (
    "tax_arrears",
    "tax_invoices",
    "social_insurance",
    "insurance_arrears",
    "customs",
    "penalties",
    "abnormal_list",
)
WAIT_S = 10.0
"""Bound of every wait for the worker (it normally acts within a second)."""
T = TypeVar("T")


class Clock:
    """A settable clock in milliseconds: the node's block times and the worker's deadlines."""

    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def wait_for(what: Callable[[], T], timeout: float = WAIT_S) -> T:
    """Return ``what()`` once it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what}")
        time.sleep(0.02)


class Http:
    """A synchronous client of the ASGI app (httpx over an anyio portal; no sockets)."""

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._client.post, url, **kwargs))

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)


class Desk:
    """The running node, its API, and the people who act on cases."""

    def __init__(self, root: Path) -> None:
        init_network(
            root,
            chain_id=CHAIN,
            suite_name="intl",
            departments=[*DEMO_DEPARTMENTS, ("housing", "住房和城乡建设局")],
            params=Params(state_buckets=256, block_max_ms=2),
        )
        self.net = NetworkDir(root)
        self.genesis = self.net.genesis()
        self.suite = get_suite(self.genesis.suite)
        self.clock = Clock()
        keys = self.net.local_node_keys()
        params = self.genesis.params
        self.node = Node(
            store=MemoryStore(),
            genesis=self.genesis,
            suite=self.suite,
            host=builtin_registry(self.genesis, self.suite.hash),
            orderer=SoloOrderer(params.block_max_txs, params.block_max_ms),
            identity=NodeIdentity(
                proposer=keys[0].id,
                proposer_key=keys[0].keypair.private,
                checkpoint_keys=tuple((k.id, k.keypair.private) for k in keys),
            ),
            clock_ms=self.clock,
        )
        self.node.start()
        self.app = create_app(self.node, ApiSettings(network_dir=root, wait_timeout_s=20.0))
        self.http = Http(self.app)
        self.sharing: SharingService = self.app.state.sharing
        self.worker: CaseWorker = self.app.state.casework
        self._nonce = 0
        self._people = iter(enterprises(20, 7, citizens(20, 7)))
        self._serial = itertools.count(1)

    def close(self) -> None:
        self.http.close()
        self.node.close()

    # --- transactions and views through the API ---------------------------------------------

    def call(
        self, member: str, contract: str, method: str, args: dict[str, Any], actor: str = ""
    ) -> dict[str, Any]:
        """Post one signed transaction, wait for its block; return its receipt."""
        private = self.net.member_key(member).keypair.private
        tx = build_transaction(
            chain=CHAIN,
            signer=member,
            nonce=self._next_nonce(),
            contract=contract,
            method=method,
            args=args,
            actor=actor or member,
            case=str(args.get("case", "")),
            sign=lambda m: self.suite.sign(private, m),
            hash_fn=self.suite.hash,
        )
        r = self.http.post(
            "/v1/transactions?wait=true",
            content=tx.encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200, r.text
        receipt: dict[str, Any] = r.json()["receipt"]
        return receipt

    def _next_nonce(self) -> int:
        # Microseconds, like the CLI's signer that published the definitions with these keys.
        self._nonce = max(self._nonce + 1, time.time_ns() // 1000)
        return self._nonce

    def ok(
        self, member: str, contract: str, method: str, args: dict[str, Any], actor: str = ""
    ) -> Any:
        receipt = self.call(member, contract, method, args, actor)
        assert receipt["status"] == "ok", receipt
        return receipt["result"]

    def view(self, contract: str, method: str, args: dict[str, Any]) -> Any:
        r = self.http.post(f"/v1/contracts/{contract}/views/{method}", json=args)
        assert r.status_code == 200, r.text
        return r.json()["result"]

    def case(self, number: str) -> dict[str, Any]:
        found: dict[str, Any] = self.view("cases", "case", {"case": number})
        return found

    def step(self, number: str, step: str) -> dict[str, Any]:
        return next(s for s in self.case(number)["steps"] if s["id"] == step)

    def enterprise(self, uscc: str) -> dict[str, Any]:
        found: dict[str, Any] = self.view("registry", "enterprise", {"uscc": uscc})
        return found

    # --- set-up as a network does it ----------------------------------------------------------

    def publish_catalogue(self) -> None:
        """Register the enterprise app's resources and publish its definitions."""
        folder = resources.files("govchain.apps.enterprise").joinpath("data/resources")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            spec = json.loads(entry.read_text("utf-8"))
            owner = spec["id"].split(".")[0]
            if owner not in {d.id for d in self.genesis.departments}:
                continue
            self.ok(f"{owner}/admin", "sharing.catalogue", "register", spec)
        # Only the services these tests run (the app's other definitions need departments and
        # resources this network does not have).
        codes = (REGISTRATION, SIMPLIFIED, ORDINARY)
        wanted = [d for d in find_app("enterprise").definitions() if d["code"] in codes]
        lines = publish_definitions(self.node, self.net.root, wanted)
        assert {f"{c}: published" for c in codes} <= set(lines)

    def import_enterprise(self, agent: str) -> str:
        """Bring a synthetic enterprise into the registry, ``agent`` acting for it."""
        e = next(self._people)
        uscc = issue_uscc(e.division_code, 900 + next(self._serial))
        self.ok(
            "market/admin",
            "registry",
            "import_enterprise",
            {
                "enterprise": {
                    "uscc": uscc,
                    "name": e.name,
                    "division": e.division_code,
                    "legal_rep_name": e.legal_representative,
                    "legal_rep_ref": hashlib.sha256(e.legal_representative_id.encode()).hexdigest(),
                    "industry": e.industry,
                    "capital_fen": e.registered_capital_fen,
                    "address": e.address,
                    "scope": e.business_scope,
                    "agents": [agent],
                }
            },
        )
        return uscc

    def register_enterprise(self, founder: str, agent: str) -> tuple[str, str]:
        """Register a new enterprise through the registration service (staff review each
        step, the approver decides); let ``agent`` act for it. Return its USCC and licence."""
        particulars = {
            "name": "杭州恒瑞餐饮管理有限公司",
            "division": "330106",
            "legal_rep_name": "王伟",
            "legal_rep_ref": "ab" * 32,
            "industry": "6210",
            "capital_fen": 100_000_000,
            "address": "杭州市西湖区文三路1号",
            "scope": "餐饮服务；食品销售",
        }
        materials = dict.fromkeys(
            ("application", "articles", "shareholders", "appointments", "premises"), "b" * 64
        )
        n = self.ok(
            "market/admin",
            "cases",
            "submit",
            {
                "service": REGISTRATION,
                "form_hash": "a" * 64,
                "materials": materials,
                "session": "s-founder",
                "particulars": particulars,
            },
            actor=founder,
        )["number"]
        self.ok("market/admin", "cases", "accept", {"case": n, "role": "officer"}, "market/li")
        for dept, step in (
            ("market", "review"),
            ("tax", "tax_setup"),
            ("hrss", "social_insurance"),
        ):
            args = {"case": n, "role": "officer", "step": step, "result": "pass"}
            self.ok(f"{dept}/admin", "cases", "complete", args, f"{dept}/li")
        decided = self.ok(
            "market/admin",
            "cases",
            "decide",
            {"case": n, "role": "approver", "outcome": "approve"},
            "market/wang",
        )
        uscc, licence = decided["outputs"][0]["uscc"], decided["outputs"][1]["licence"]
        self.ok("market/admin", "registry", "add_agent", {"uscc": uscc, "agent": agent}, founder)
        return uscc, licence

    def publish_record(
        self, resource: str, record: str, subject: str, data: dict[str, Any]
    ) -> None:
        """The owner department publishes a record about ``subject`` (its officer's request)."""
        owner = resource.split(".")[0]
        args = {"resource": resource, "record": record, "subject": subject, "data": data}
        self.sharing.publish(self._request(f"{owner}/admin", "publish", args))

    def erase_record(self, resource: str, record: str) -> None:
        owner = resource.split(".")[0]
        args = {"resource": resource, "record": record, "reason": "欠税已缴清 / arrears paid"}
        self.sharing.erase(self._request(f"{owner}/admin", "erase", args))

    def _request(self, member: str, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        private = self.net.member_key(member).keypair.private
        return build_request(
            chain=CHAIN,
            kind=kind,
            signer=member,
            actor=f"{member.split('/')[0]}/officer-1",
            args=args,
            time_ms=self.clock.now,
            sign=lambda m: self.suite.sign(private, m),
        ).envelope()

    def deregister(self, uscc: str, agent: str, service: str = SIMPLIFIED) -> str:
        """Apply for deregistration as the enterprise's agent; return the case number."""
        materials = {"application": "c" * 64, "commitment": "d" * 64}
        if service == ORDINARY:
            materials = dict.fromkeys(
                ("application", "resolution", "liquidation_report", "creditor_notice"), "e" * 64
            )
        args = {
            "service": service,
            "subject": uscc,
            "form_hash": "f" * 64,
            "materials": materials,
            "session": "s-agent",
        }
        number: str = self.ok("market/admin", "cases", "submit", args, actor=agent)["number"]
        return number

    def checks_answered(self, number: str) -> dict[str, dict[str, Any]] | None:
        """The check steps once none is open any more (answered yes or no), else ``None``."""
        steps = {s["id"]: s for s in self.case(number)["steps"] if s["id"] in CHECKS}
        return None if any(s["status"] == "open" for s in steps.values()) else steps


def events(case: dict[str, Any], step: str, name: str) -> int:
    """How often ``name`` happened to ``step`` in the case's timeline."""
    return sum(1 for h in case["history"] if h["step"] == step and h["event"] == name)


ARREARS = {"tax_type": "增值税", "amount_fen": 1_250_000, "due_date": "2026-12-15"}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path / "net")
    try:
        d.publish_catalogue()
        yield d
    finally:
        d.close()


def test_simplified_deregistration_without_a_visit(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="govchain.casework")
    founder, agent = "citizen/c1", "enterprise/e1"
    uscc, licence = desk.register_enterprise(founder, agent)
    desk.publish_record("tax.arrears", "arrears-1", uscc, {**ARREARS, "settled": False})
    number = desk.deregister(uscc, agent)

    # Every department answers its checks from its own data; tax says no, with the advice.
    steps = wait_for(lambda: desk.checks_answered(number))
    blocked = steps["tax_arrears"]
    assert blocked["status"] == "blocked"
    assert "缴清后本项自动重新核查" in blocked["note"] and "tax bureau" in blocked["note"]
    assert all(steps[s]["status"] == "done" and steps[s]["result"] == "pass" for s in CHECKS[1:])
    case = desk.case(number)
    assert case["status"] == "accepted"
    assert all(events(case, s, "check_yes") == 1 for s in CHECKS[1:])  # answered once each
    assert desk.enterprise(uscc)["status"] == "deregistering"
    att = desk.sharing.attestation(blocked["attestation"], uscc)
    assert (att["issuer"], att["case"], att["answer"]) == ("tax", number, False)
    assert att["requester"] == "tax/sharing"

    # A settled record is published: the check runs again, still no (the old one is unpaid).
    desk.publish_record("tax.arrears", "arrears-2", uscc, {**ARREARS, "settled": True})
    wait_for(lambda: events(desk.case(number), "tax_arrears", "check_no") == 2)
    assert desk.step(number, "tax_arrears")["status"] == "blocked"
    # The unpaid record is erased (paid): the check runs again and passes.
    desk.erase_record("tax.arrears", "arrears-1")
    wait_for(lambda: desk.step(number, "tax_arrears")["status"] == "done")
    assert desk.step(number, "tax_arrears")["result"] == "pass"

    # The notice runs 20 calendar days; at its end the case is decided without anyone.
    notice = desk.step(number, "notice")
    assert notice["status"] == "open"
    assert notice["deadline_ms"] == desk.case(number)["submitted_ms"] + 20 * DAY_MS
    desk.clock.now = notice["deadline_ms"] - 60_000
    time.sleep(1.2)  # the worker wakes and finds the notice still running
    assert desk.step(number, "notice")["status"] == "open"
    desk.clock.now = notice["deadline_ms"]
    moved = time.monotonic()
    case = wait_for(lambda: (c := desk.case(number))["status"] == "issued" and c)
    elapsed = time.monotonic() - moved
    print(f"\nnotice end to automatic decision: {elapsed * 1000:.0f} ms")
    assert case["outcome"] == "approved"
    assert [h["event"] for h in case["history"][-2:]] == ["notice_ended", "approved"]
    assert case["outputs"] == [
        {"kind": "enterprise.deregister", "uscc": uscc, "licences_revoked": [licence]}
    ]
    ent = desk.enterprise(uscc)
    assert ent["status"] == "deregistered"
    assert [lic["status"] for lic in ent["licences"]] == ["revoked"]
    # The logs name cases and steps, never whom they are about.
    assert number in caplog.text
    assert uscc not in caplog.text and agent not in caplog.text and founder not in caplog.text


def test_an_objection_stops_the_automatic_decision(desk: Desk) -> None:
    agent = "enterprise/e2"
    uscc = desk.import_enterprise(agent)
    number = desk.deregister(uscc, agent)
    steps = wait_for(lambda: desk.checks_answered(number))
    assert all(s["status"] == "done" for s in steps.values())
    objection = {"case": number, "step": "notice", "text": "本人系债权人，尚有货款120万元未结清。"}
    desk.ok("tax/admin", "cases", "object", objection, actor="citizen/creditor-9")
    assert desk.step(number, "notice")["status"] == "blocked"

    desk.clock.now += 21 * DAY_MS
    time.sleep(2.5)  # over two of the worker's wake-ups past the deadline: it must not act
    case = desk.case(number)
    assert case["status"] == "accepted"
    assert desk.step(number, "notice")["status"] == "blocked"
    assert desk.enterprise(uscc)["status"] == "deregistering"

    # The registration authority dismisses the objection: the notice is over, so it ends now.
    dismiss = {
        "case": number,
        "role": "officer",
        "step": "notice",
        "index": 0,
        "upheld": False,
        "note": "经核实，该债务已于公示前清偿。",
    }
    desk.ok("market/admin", "cases", "resolve_objection", dismiss, actor="market/li")
    case = wait_for(lambda: (c := desk.case(number))["status"] == "issued" and c)
    assert case["outcome"] == "approved"
    assert desk.enterprise(uscc)["status"] == "deregistered"


def test_a_restarted_worker_finishes_what_was_pending(desk: Desk) -> None:
    first, second = "enterprise/e3", "enterprise/e4"
    blocked_uscc = desk.import_enterprise(first)
    desk.publish_record("tax.arrears", "arrears-9", blocked_uscc, {**ARREARS, "settled": False})
    blocked = desk.deregister(blocked_uscc, first)
    wait_for(lambda: desk.checks_answered(blocked))
    assert desk.step(blocked, "tax_arrears")["status"] == "blocked"

    desk.worker.close()
    # While no worker runs: the arrears are paid, and another enterprise applies.
    desk.erase_record("tax.arrears", "arrears-9")
    open_uscc = desk.import_enterprise(second)
    pending = desk.deregister(open_uscc, second)
    time.sleep(0.3)
    assert all(desk.step(pending, s)["status"] == "open" for s in CHECKS)
    assert desk.step(blocked, "tax_arrears")["status"] == "blocked"

    worker = start_casework(desk.node, desk.sharing, desk.net.root)
    try:
        steps = wait_for(lambda: desk.checks_answered(pending))
        assert all(s["status"] == "done" for s in steps.values())
        wait_for(lambda: desk.step(blocked, "tax_arrears")["status"] == "done")
        case = desk.case(blocked)
        assert events(case, "tax_arrears", "check_no") == 1
        assert events(case, "tax_arrears", "check_yes") == 1
        # Steps answered before the restart are not answered again.
        assert all(events(case, s, "check_yes") == 1 for s in CHECKS[1:])
        assert worker.stats.answered_yes == len(CHECKS) + 1
    finally:
        worker.close()


def test_the_ordinary_procedure_waits_for_acceptance(desk: Desk) -> None:
    agent = "enterprise/e5"
    uscc = desk.import_enterprise(agent)
    number = desk.deregister(uscc, agent, ORDINARY)
    time.sleep(0.3)
    case = desk.case(number)
    assert case["status"] == "submitted"
    assert all(s["status"] == "waiting" for s in case["steps"])

    desk.ok("market/admin", "cases", "accept", {"case": number, "role": "officer"}, "market/li")
    steps = wait_for(lambda: desk.checks_answered(number))
    assert all(s["status"] == "done" for s in steps.values())
    creditors = desk.step(number, "creditors")
    assert creditors["deadline_ms"] == desk.case(number)["accepted_ms"] + 45 * DAY_MS
    desk.clock.now = creditors["deadline_ms"]
    wait_for(lambda: desk.step(number, "creditors")["status"] == "done")
    # The liquidation report is reviewed by a person: no automatic decision.
    case = desk.case(number)
    assert case["status"] == "accepted"
    assert desk.step(number, "liquidation_review")["status"] == "open"
