"""The demo seed on the test node: records published under the people's on-chain ids, one
login per matter, applications answered by the case worker and finished by staff as planned,
and a second run that does nothing."""

from __future__ import annotations

import stat
from collections import Counter
from types import SimpleNamespace

from govchain.apps.certification.app import APP
from govchain.apps.certification.demo import (
    LOGINS_FILE,
    MIN_COUNT,
    PER_MATTER,
    applications,
    seed_demo,
)
from govchain.apps.certification.matters import MATTERS
from govchain.apps.certification.synthetic import department_records, residents
from govchain.apps.certification.tests.nodes import World
from govchain.identity.idnumbers import validate_resident_id
from govchain.identity.service import Identity
from govchain.identity.tokens import TokenKey
from govchain.storage.memory import MemoryStore

DEFINITIONS = {d["code"]: d for d in APP.definitions()}


def test_the_planned_applications_cover_both_outcomes_of_every_matter() -> None:
    people = residents(MIN_COUNT)
    planned = applications(people, department_records(people), DEFINITIONS, APP.resources())
    assert Counter(a.service for a in planned) == dict.fromkeys(MATTERS, PER_MATTER)
    assert len({a.person.resident_id for a in planned}) == len(planned)
    for code in MATTERS:
        outcomes = {bool(a.failing) for a in planned if a.service == code}
        assert outcomes == {True, False}, code
    for a in planned:
        for key in ("child_id", "partner_id"):
            if key in a.form:
                validate_resident_id(a.form[key])


def test_the_seed_files_and_finishes_the_applications(world: World) -> None:
    identity = Identity(MemoryStore(), TokenKey.generate(), "http://127.0.0.1/test")
    state = SimpleNamespace(identity=identity, sharing=world.sharing, casedesk=world.desk)
    lines = seed_demo(world.node, state, world.net.root, MIN_COUNT)
    assert len(lines) == 3 and "applications to 4 matters" in lines[1], lines
    assert "checks no " in lines[1] and "yes " in lines[1] and "open" not in lines[1]
    logins = world.net.root / LOGINS_FILE
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    listed = [line.split()[1] for line in logins.read_text("utf-8").splitlines()[2:]]
    assert len(listed) == len(MATTERS)
    # A demo citizen logs in with the resident identity number and sees their own case.
    user = identity.users.find_login(listed[0])
    assert user is not None
    cases = world.node.query("cases", "cases_of", {"applicant": user.id})
    assert len(cases) == 1 and cases[0]["service"] == MATTERS[0]
    assert world.sharing.access_receipts(user.id)["attestations"]
    again = seed_demo(world.node, state, world.net.root, MIN_COUNT)
    assert again == [
        "certification demo: the departments' records are published already; nothing seeded"
    ]


def test_the_seed_skips_a_network_without_the_departments_it_needs() -> None:
    node = SimpleNamespace(
        genesis=SimpleNamespace(
            departments=[SimpleNamespace(id=d) for d in ("market", "hrss", "housing")]
        )
    )
    assert seed_demo(node, None, "unused") == [  # type: ignore[arg-type]
        "certification demo: no department public_security, civil_affairs, education on this "
        "network; skipped"
    ]
