"""The enterprise demo seed (``apps.enterprise.demo``) on a temporary demo network.

One eight-department network in a temporary directory, an in-memory embedded node with the API
application's services (identity, sharing, case desk, case worker, register feed), the services
deployed as ``govchain demo`` deploys them, then the seed with a small number of enterprises.
The tests read what it made through the node's views, the identity service and the case desk.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.apps.enterprise.demo import (
    DEMO_PASSWORD,
    LOGINS_FILE,
    MIN_COUNT,
    SERIAL_BASE,
    STAFF_ROLES,
    seed_demo,
)
from govchain.apps.enterprise.demo_cases import SIMPLIFIED
from govchain.apps.enterprise.demo_permits import PermitFiller
from govchain.apps.enterprise.demo_records import CLEARANCES, DEREGISTRATIONS, clearance_records
from govchain.apps.enterprise.permits import permits_for
from govchain.apps.enterprise.synthetic import citizens, enterprises
from govchain.cli.apps import deploy_in_process
from govchain.errors import SchemaViolation
from govchain.identity.service import Identity
from govchain.ledger.execution import NONCE_PREFIX
from govchain.ledger.genesis import Params
from govchain.node.casedesk import CaseDesk, check_form
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, DEMO_SERVICE_DEPARTMENTS, init_network
from govchain.node.node import Node
from govchain.procedures import layout
from govchain.procedures.uscc import issue_uscc
from govchain.sdk import find_app
from govchain.sharing.model import parse_resource
from govchain.sharing.predicates import parse_predicate

COUNT = 60
"""Enterprises the test seeds (the default is 1,000)."""
DEPARTMENTS = [*DEMO_DEPARTMENTS, *DEMO_SERVICE_DEPARTMENTS]
APP = find_app("enterprise")
DEFINITIONS = {d["code"]: d for d in APP.definitions()}
PEOPLE = citizens(200, 2026)
COMPANIES = enterprises(250, 2026, PEOPLE)
USCCS = [issue_uscc(e.division_code, SERIAL_BASE + e.serial) for e in COMPANIES]


# --- without a network ---------------------------------------------------------------------------


def test_each_planned_deregistration_meets_exactly_its_clearances() -> None:
    """Evaluate the simplified deregistration's own check predicates over each enterprise's
    records, as the departments' attestations do."""
    resources = {r["id"]: parse_resource(r, r["id"].split(".")[0], 0) for r in APP.resources()}
    checks = {s["id"]: s["check"] for s in DEFINITIONS[SIMPLIFIED]["steps"] if s["kind"] == "check"}
    assert tuple(checks) == CLEARANCES
    records = clearance_records(COMPANIES, USCCS, DEREGISTRATIONS)
    assert records == clearance_records(COMPANIES, USCCS, DEREGISTRATIONS)  # deterministic

    def failing(i: int) -> list[str]:
        mine = [r for r in records if r.subject == USCCS[i]]
        return [
            step
            for step, check in checks.items()
            if not parse_predicate(check["predicate"], resources[check["resource"]]).answer(
                r.data for r in mine if r.resource == check["resource"]
            )
        ]

    for i in (0, *DEREGISTRATIONS.clear, *DEREGISTRATIONS.ordinary):
        assert failing(i) == [], i
    for i, check in DEREGISTRATIONS.blocked:
        assert failing(i) == [check], i
    assert failing(DEREGISTRATIONS.withdrawn) == ["social_insurance"]
    # Across the others, every check fails for some and passes for most.
    rest = [failing(i) for i in range(19, len(COMPANIES))]
    counts = Counter(step for f in rest for step in f)
    assert 0 < sum(1 for f in rest if f) < len(rest) // 2
    assert counts["social_insurance"] > 0 and counts["tax_invoices"] > 0
    # Amounts are integer fen; ids are unique.
    assert all(type(v) is not float for r in records for v in r.data.values())
    assert len({(r.resource, r.record) for r in records}) == len(records)


def test_permit_forms_are_filled_so_that_they_validate() -> None:
    """For every permit some synthetic enterprise needs, the filler's form passes the
    definition's schema (the case desk checks it again when it is filed)."""
    done: set[str] = set()
    for i, e in enumerate(COMPANIES):
        rep = next(c for c in PEOPLE if c.resident_id == e.legal_representative_id)
        for need in permits_for(e.industry, e.business_scope):
            if need.code in done:
                continue
            filler = PermitFiller(e, USCCS[i], rep, PEOPLE[:5], dt.date(2026, 12, 7), i)
            form = filler.form(DEFINITIONS[need.code]["form"])
            check_form(DEFINITIONS[need.code]["form"], form)
            assert (form["uscc"], form["enterprise_name"]) == (USCCS[i], e.name)
            done.add(need.code)
    assert len(done) >= 8, sorted(done)


# --- on a seeded network -------------------------------------------------------------------------


@dataclass
class Seeded:
    """The seeded network."""

    root: Path
    node: Node
    state: Any
    lines: list[str]

    @property
    def desk(self) -> CaseDesk:
        desk: CaseDesk = self.state.casedesk
        return desk

    @property
    def identity(self) -> Identity:
        identity: Identity = self.state.identity
        return identity

    def scan(self, prefix: bytes) -> list[tuple[bytes, Any]]:
        return [
            (k, orjson.loads(v.value))
            for k, v in self.node.ledger.state.iter_range(prefix)
            if v.value is not None
        ]

    def cases(self) -> list[dict[str, Any]]:
        return [v for _, v in self.scan(layout.CASES + b"case/")]

    def enterprises(self) -> list[dict[str, Any]]:
        return [v for _, v in self.scan(layout.ENTERPRISES)]

    def enterprise(self, uscc: str) -> dict[str, Any]:
        found: dict[str, Any] = self.node.query("registry", "enterprise", {"uscc": uscc})
        return found

    def logins(self) -> dict[str, str]:
        """Login name -> kind, from the logins file."""
        out = {}
        for line in (self.root / LOGINS_FILE).read_text("utf-8").splitlines():
            kind, _, rest = line.partition(" ")
            if kind in ("citizen", "enterprise", "staff"):
                out[rest.split()[0]] = kind
        return out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("demo") / "net"
    init_network(
        root,
        chain_id="demo-test",
        suite_name="intl",
        departments=DEPARTMENTS,
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    try:
        app = create_app(node, ApiSettings(network_dir=root, wait_timeout_s=30.0))
        deploy_in_process(node, root)
        lines = seed_demo(node, app.state, root, COUNT)
        yield Seeded(root, node, app.state, lines)
    finally:
        node.close()


def test_the_registry_holds_the_imported_enterprises(seeded: Seeded) -> None:
    ents = seeded.enterprises()
    imported = [e for e in ents if e["case"] == ""]
    assert len(imported) == COUNT
    # Imported codes use serials above the registry's own counter; registered ones do not.
    assert all(int(e["uscc"][9:16]) > SERIAL_BASE for e in imported)
    assert all(int(e["uscc"][9:16]) < SERIAL_BASE for e in ents if e["case"])
    now = seeded.node.clock_ms()
    assert all(0 < e["established_ms"] < now and e["agents"] for e in imported)
    assert all(e["agents"][0].startswith("citizen/") for e in imported)
    assert len({e["name"] for e in ents}) == len(ents)
    assert f"enterprise demo: {COUNT} enterprises" in seeded.lines[0]


def test_cases_exist_in_every_state(seeded: Seeded) -> None:
    cases = seeded.cases()
    statuses = Counter(c["status"] for c in cases)
    for status in (
        "submitted",
        "accepted",
        "supplement_requested",
        "issued",
        "decided",
        "closed",
        "withdrawn",
    ):
        assert statuses[status] >= 3, (status, statuses)
    assert len(cases) >= 60
    # An approved registration registered its enterprise with a business licence.
    registered = [
        c for c in cases if c["outcome"] == "approved" and c["service"].endswith("DJ-0001")
    ]
    uscc = registered[0]["outputs"][0]["uscc"]
    ent = seeded.enterprise(uscc)
    assert ent["status"] == "active" and ent["agents"] == [registered[0]["applicant"]]
    assert [lic["type"] for lic in ent["licences"]] == ["business_licence"]
    # Rejections carry their reason; claimed steps name who claimed them.
    assert all(c["reason"] for c in cases if c["outcome"] == "rejected")
    claimed = [s for c in cases if c["status"] == "accepted" for s in c["steps"] if s["assignee"]]
    assert any(s["status"] == "open" for s in claimed)


def test_deregistrations_are_cleared_blocked_and_objected_to(seeded: Seeded) -> None:
    simplified = [c for c in seeded.cases() if c["service"] == SIMPLIFIED]
    running = [c for c in simplified if c["status"] == "accepted"]
    checks = [[s for s in c["steps"] if s["id"] != "notice"] for c in running]
    blocked = [
        c
        for c, steps in zip(running, checks, strict=True)
        if any(s["status"] == "blocked" for s in steps)
    ]
    cleared = [
        c
        for c, steps in zip(running, checks, strict=True)
        if all(s["status"] == "done" for s in steps)
    ]
    assert len(blocked) == 7 and len(cleared) == 7
    # Each blocked one is blocked by exactly one check, a different one each time.
    reasons = [next(s["id"] for s in c["steps"] if s["status"] == "blocked") for c in blocked]
    assert len(set(reasons)) == 7
    objected = [c for c in cleared if c["steps"][-1]["objections"]]
    assert len(objected) == 1 and objected[0]["steps"][-1]["status"] == "blocked"
    assert all(seeded.enterprise(c["subject"])["status"] == "deregistering" for c in running)
    withdrawn = [c for c in simplified if c["status"] == "withdrawn"]
    assert [seeded.enterprise(c["subject"])["status"] for c in withdrawn] == ["active"]


def test_granted_permits_are_in_the_licence_registry(seeded: Seeded) -> None:
    issued = [c for c in seeded.cases() if "-XK-" in c["service"] or "-BA-" in c["service"]]
    granted = [c for c in issued if c["status"] == "issued"]
    assert granted, "no permit was granted"
    for case in granted:
        (out,) = case["outputs"]
        lic = seeded.node.query("registry", "licence", {"number": out["licence"]})
        assert (lic["holder"], lic["status"], lic["case"]) == (
            case["subject"],
            "active",
            case["number"],
        )


def test_the_demo_logins_log_in(seeded: Seeded) -> None:
    path = seeded.root / LOGINS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    logins = seeded.logins()
    assert Counter(logins.values()) == {
        "citizen": 1,
        "enterprise": 1,
        "staff": len(DEPARTMENTS) * len(STAFF_ROLES),
    }
    assert {f"{d}/{r}" for d, _ in DEPARTMENTS for r in STAFF_ROLES} <= set(logins)
    for login, kind in logins.items():
        user = seeded.identity.login(login, DEMO_PASSWORD, "", {"ip": "test"})
        assert user.kind == kind
        if kind == "staff":
            assert (user.dept, user.role) == tuple(login.split("/"))


def test_the_demo_enterprise_and_citizen_act_for_their_enterprises(seeded: Seeded) -> None:
    users = seeded.identity.users
    logins = {kind: login for login, kind in seeded.logins().items()}
    citizen = users.find_login(logins["citizen"])
    company = users.find_login(logins["enterprise"])
    assert citizen is not None and company is not None
    ent = seeded.enterprise(company.login)
    assert {company.id, citizen.id} <= set(ent["agents"])
    assert ent["legal_rep_name"] == citizen.name == company.legal_rep
    about = seeded.node.query("cases", "cases_of", {"applicant": citizen.id})
    assert {c["status"] for c in about} >= {"submitted", "supplement_requested", "issued"}
    # The demo enterprise applies for a simplified deregistration, as it would in the portal.
    desk = seeded.desk
    materials = {
        mid: desk.upload(
            "market", company.id, f"{mid}.txt", "text/plain", f"{mid} {ent['name']}".encode()
        )["hash"]
        for mid in ("application", "commitment")
    }
    form = {"reason": "决议解散", "contact_phone": "13800571234", "no_debts": True}
    tx = desk.submission(company.id, "s-1", SIMPLIFIED, form, materials, [], ent["uscc"])
    seeded.node.submit([tx.encode()], wait=True)
    receipt = seeded.node.receipt_bundle(tx.tx_id)["entry"]["receipt"]
    assert receipt["status"] == "ok", receipt
    assert seeded.enterprise(ent["uscc"])["status"] == "deregistering"


def test_a_second_run_changes_nothing(seeded: Seeded) -> None:
    def snapshot() -> tuple[Any, ...]:
        # Background workers (case worker, register feed) sign as <dept>/sharing; everything
        # the seed signs is signed by a department admin.
        nonces = [
            seeded.node.ledger.state.get_value(NONCE_PREFIX + f"{d}/admin".encode())
            for d, _ in DEPARTMENTS
        ]
        users = sorted(u.id for u in seeded.identity.users.list())
        return nonces, users, len(seeded.enterprises()), (seeded.root / LOGINS_FILE).read_bytes()

    before = snapshot()
    lines = seed_demo(seeded.node, seeded.state, seeded.root, COUNT)
    assert snapshot() == before
    assert lines == [
        "enterprise demo: the registry already holds enterprises; nothing seeded "
        f"(demo logins in {seeded.root / LOGINS_FILE})"
    ]


def test_too_few_enterprises_are_refused(seeded: Seeded) -> None:
    with pytest.raises(SchemaViolation) as caught:
        seed_demo(seeded.node, seeded.state, seeded.root, MIN_COUNT - 1)
    assert caught.value.fields["field"] == "count"
