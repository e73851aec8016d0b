"""Demo data of the certification matters, seeded by ``govchain demo`` (``APP.seed``).

``seed_demo`` fills a demo network as its departments and residents would have:

1. the records four departments hold about ``count`` synthetic residents (``synthetic``, seed
   2026), published through the sharing service by each owner department: residence permits
   (public security), personal social insurance (human resources), family homes (housing) and
   marriage registrations (civil affairs);
2. a citizen login for the first applicant of each matter (password ``DEMO_PASSWORD``, listed in
   ``<network>/LOGINS_FILE``, 0600), so that a person can log in and see their case and the
   access receipts of every attestation made about them;
3. applications to the four matters, submitted through the case desk as the applicants: the
   node's case worker answers the check steps from the departments' records; the people the
   records qualify are approved (automatically, or after the points review and the in-person
   examination), some of those who do not are refused by the approver naming the failing
   condition, and the rest wait with the department's advice on their blocked step.

The records of a person are filed under the id the person acts under on-chain (their login's
id, or ``citizen/<16 hex of H("govchain/demo/citizen/v1" ‖ chain ‖ resident id)>`` for people
without one): the case engine asks the departments about a citizen's case by that id. The seed
is idempotent: when the first record is on-chain it does nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.apps.certification.matters import (
    DEPARTMENTS,
    HOUSING_PURCHASE,
    MARRIAGE,
    MATTERS,
    POINTS_HOUSEHOLD,
    SCHOOL_ENROLMENT,
    failing_checks,
    parse_resources,
)
from govchain.apps.certification.synthetic import (
    AS_OF,
    SEED,
    PersonRecord,
    Resident,
    department_records,
    residents,
)
from govchain.errors import CallFailed, GovchainError
from govchain.identity.idnumbers import resident_check_char
from govchain.identity.users import UserDirectory
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.sharing import layout as sharing_layout
from govchain.sharing.requests import build_request

DEMO_PASSWORD = "Demo-2026-govchain"
"""Password of the demo citizens (the same as the other demo logins)."""
DEFAULT_COUNT = 200
"""Residents whose records are published."""
MIN_COUNT = 60
"""Fewest residents the demo cases are drawn from."""
PER_MATTER = 6
"""Applications filed per matter."""
LOGINS_FILE = "demo-logins-certification.txt"
"""File in the network directory listing the demo citizens."""
PUBLISHERS = 32
"""Records published at once (each publication waits for its block)."""
WORKER_WAIT_S = 30.0
"""How long the seed waits for the case worker to answer the checks."""
TIMEOUT_S = 60.0
"""Bound of each commit."""
PURPOSE = "演示数据 / demo data"
"""Purpose recorded with the seed's transactions."""
PSEUDONYM_DOMAIN = b"govchain/demo/citizen/v1"
"""Domain of the demo's pseudonyms of people without a login (as in the enterprise demo)."""


@dataclass(frozen=True, slots=True)
class Application:
    """One application the seed files."""

    service: str
    """Matter code."""
    person: Resident
    """Who applies."""
    form: Mapping[str, Any]
    """The application form."""
    failing: tuple[str, ...]
    """Check steps the applicant's records fail (empty: qualifies)."""


# --- choosing the applications --------------------------------------------------------------


def _age(born: dt.date) -> int:
    return AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))


def child_of(parent: Resident, n: int) -> tuple[str, str]:
    """A school-age child of ``parent`` (name, resident identity number with its check
    character), born in 2020 and registered where the parent is."""
    born = dt.date(2020, 1 + n % 12, 1 + n % 28)
    given = "子涵梓轩欣怡浩然雨桐宇轩诗涵一诺"
    name = parent.name[0] + given[(2 * n) % len(given)] + given[(2 * n + 1) % len(given)]
    first17 = f"{parent.resident_id[:6]}{born:%Y%m%d}{(n * 7) % 1000:03d}"
    return name, first17 + resident_check_char(first17)


def applications(
    people: Sequence[Resident],
    records: Sequence[PersonRecord],
    definitions: Mapping[str, Mapping[str, Any]],
    resources_specs: Sequence[Mapping[str, Any]],
    per_matter: int = PER_MATTER,
) -> list[Application]:
    """Choose ``per_matter`` applicants of each matter among ``people`` (migrants of working age
    for school places and household registration, adults for a home, unmarried adults for a
    marriage), each with the form they fill in and the conditions their records fail."""
    resources = parse_resources(resources_specs)
    held: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for r in records:
        held[r.resident_id].append((r.resource, r.data))
    wanted: dict[str, Callable[[Resident], bool]] = {
        SCHOOL_ENROLMENT: lambda p: p.migrant and 26 <= _age(p.birth_date) <= 45,
        POINTS_HOUSEHOLD: lambda p: p.migrant and 22 <= _age(p.birth_date) <= 50,
        HOUSING_PURCHASE: lambda p: _age(p.birth_date) >= 25,
        MARRIAGE: lambda p: 22 <= _age(p.birth_date) <= 40,
    }
    used: set[str] = set()
    out: list[Application] = []
    for code in MATTERS:
        chosen = 0
        for p in people:
            if chosen == per_matter or p.resident_id in used or not wanted[code](p):
                continue
            failing = failing_checks(definitions[code], resources, held[p.resident_id])
            if code == MARRIAGE and chosen % 2 == 0 and failing:
                continue  # most people who come to register a marriage are free to marry
            partner = next(
                (q for q in people if q.gender != p.gender and q.resident_id not in used), p
            )
            used.add(p.resident_id)
            out.append(
                Application(
                    code, p, _form(code, p, partner, chosen), tuple(f.step for f in failing)
                )
            )
            chosen += 1
    return out


def _form(code: str, p: Resident, partner: Resident, n: int) -> dict[str, Any]:
    consent = {"contact_phone": p.phone, "consent": True}
    if code == SCHOOL_ENROLMENT:
        name, number = child_of(p, n)
        relation = "父亲" if p.gender == "male" else "母亲"
        return {
            "child_name": name, "child_id": number, "relation": relation,
            "grade": "小学一年级", "district": p.district, **consent,
        }  # fmt: skip
    if code == POINTS_HOUSEHOLD:
        levels = ("高中或中专", "大专", "本科")
        return {
            "education": levels[n % 3], "skill_level": ("无", "中级工", "高级工")[n % 3],
            "district": p.district, "no_criminal_record": True, **consent,
        }  # fmt: skip
    if code == HOUSING_PURCHASE:
        household = "非本市户籍" if p.migrant else "本市户籍"
        return {"household": household, "district": p.district, **consent}
    day = AS_OF + dt.timedelta(days=7 + n)
    return {
        "partner_name": partner.name, "partner_id": partner.resident_id,
        "appointment_date": day.isoformat(), "registry": "杭州市西湖区婚姻登记处",
        "declaration": True, "consent": True,
    }  # fmt: skip


# --- the seed ---------------------------------------------------------------------------------


def seed_demo(
    node: Node, app_state: Any, network_dir: Path | str, count: int = DEFAULT_COUNT
) -> list[str]:
    """Seed the demo network (see the module); return lines saying what was made."""
    from govchain.sdk import find_app  # the app's own description: imported when seeding only

    have = {d.id for d in node.genesis.departments}
    missing = [d for d, _ in DEPARTMENTS if d not in have]
    if missing:
        return [f"certification demo: no department {', '.join(missing)} on this network; skipped"]
    count = max(count, MIN_COUNT)
    people = residents(count, SEED)
    records = department_records(people, SEED)
    if node.ledger.state.get_value(
        sharing_layout.record_key(records[0].resource, records[0].record)
    ):
        return [
            "certification demo: the departments' records are published already; nothing seeded"
        ]
    started = time.monotonic()
    app = find_app("certification")
    definitions = {d["code"]: d for d in app.definitions()}
    planned = applications(people, records, definitions, app.resources())
    net = NetworkDir(network_dir)
    users: UserDirectory = app_state.identity.users
    logins = _logins(users, planned, net.root / LOGINS_FILE)

    def pseudonym(number: str) -> str:
        if number in logins:
            return logins[number]
        chain = node.genesis.chain_id.encode()
        digest = node.suite.hash(PSEUDONYM_DOMAIN + b"\x00" + chain + b"\x00" + number.encode())
        return "citizen/" + digest.hex()[:16]

    publish_records(node, net, app_state.sharing, records, pseudonym)
    desk: CaseDesk = app_state.casedesk
    numbers = file_applications(desk, planned, pseudonym)
    answers = await_checks(desk, numbers, definitions)
    decided = finish(desk, numbers, planned, definitions)
    statuses = Counter(desk.case(n)["status"] for n in numbers)
    return [
        f"certification demo: {len(records)} records of {count} residents published "
        f"by {len({r.resource for r in records})} resources",
        f"certification demo: {len(numbers)} applications to {len(MATTERS)} matters; checks "
        f"{answers}; {decided}; cases {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}",
        f"certification demo: demo citizens in {net.root / LOGINS_FILE} "
        f"({time.monotonic() - started:.1f} s)",
    ]


def _logins(users: UserDirectory, planned: Sequence[Application], path: Path) -> dict[str, str]:
    """Make a login for the first applicant of each matter; write the list; return their ids
    by resident identity number."""
    firsts: dict[str, Application] = {}
    for a in planned:
        firsts.setdefault(a.service, a)
    ids: dict[str, str] = {}
    lines = [
        f"govchain certification demo citizens; every one has the password {DEMO_PASSWORD}",
        "",
    ]
    for code, a in firsts.items():
        p = a.person
        found = users.find_login(p.resident_id)
        user = found or users.create_citizen(p.resident_id, p.name, DEMO_PASSWORD)
        ids[p.resident_id] = user.id
        outcome = "qualifies" if not a.failing else f"fails {', '.join(a.failing)}"
        lines.append(f"citizen  {p.resident_id}  {p.name}  applies for {code} ({outcome})")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return ids


def publish_records(
    node: Node,
    net: NetworkDir,
    sharing: Any,
    records: Sequence[PersonRecord],
    subject_of: Callable[[str], str],
) -> None:
    """Publish ``records`` through the sharing service as signed requests of each owner's
    admin for its officer, each about the subject ``subject_of(resident id)``."""
    suite = node.suite
    keys = {
        owner: net.member_key(f"{owner}/admin").keypair.private
        for owner in {r.resource.split(".")[0] for r in records}
    }

    def publish(r: PersonRecord) -> None:
        owner = r.resource.split(".")[0]
        private = keys[owner]
        request = build_request(
            chain=node.genesis.chain_id,
            kind="publish",
            signer=f"{owner}/admin",
            actor=f"{owner}/officer",
            args={
                "resource": r.resource,
                "record": r.record,
                "subject": subject_of(r.resident_id),
                "data": r.data,
            },
            time_ms=node.clock_ms(),
            sign=lambda m: suite.sign(private, m),
            purpose=PURPOSE,
        )
        sharing.publish(request.envelope())

    with ThreadPoolExecutor(PUBLISHERS, thread_name_prefix="certification-publish") as pool:
        for _ in pool.map(publish, records):
            pass


def _commit(desk: CaseDesk, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
    """Commit ``txs``; ``CallFailed`` names the first refused."""
    out = []
    for tx, outcome in zip(txs, desk.commit(list(txs), TIMEOUT_S), strict=True):
        if isinstance(outcome, GovchainError):
            raise CallFailed(f"{tx.contract}.{tx.method}: {outcome.message}", tx_id=tx.tx_id.hex())
        out.append(outcome)
    return out


def file_applications(
    desk: CaseDesk, planned: Sequence[Application], subject_of: Callable[[str], str]
) -> list[str]:
    """Submit the applications as their applicants (consent given in the form); return the
    case numbers in order."""
    txs = []
    for a in planned:
        applicant = subject_of(a.person.resident_id)
        session = "demo-seed/" + applicant.split("/", 1)[1]
        txs.append(desk.submission(applicant, session, a.service, dict(a.form), {}, []))
    return [str(doc["number"]) for doc in _commit(desk, txs)]


def _check_steps(
    desk: CaseDesk, numbers: Sequence[str], definitions: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for number in numbers:
        case = desk.case(number)
        checks = {s["id"] for s in definitions[case["service"]]["steps"] if s["kind"] == "check"}
        out += [s for s in case["steps"] if s["id"] in checks]
    return out


def await_checks(
    desk: CaseDesk, numbers: Sequence[str], definitions: Mapping[str, Mapping[str, Any]]
) -> str:
    """Wait (a bounded time) for the case worker to answer every check; say how it did."""
    deadline = time.monotonic() + WORKER_WAIT_S
    while time.monotonic() < deadline:
        if not any(s["status"] == "open" for s in _check_steps(desk, numbers, definitions)):
            break
        time.sleep(0.1)
    answers = Counter(
        {"done": "yes", "blocked": "no"}.get(s["status"], s["status"])
        for s in _check_steps(desk, numbers, definitions)
    )
    return ", ".join(f"{k} {v}" for k, v in sorted(answers.items()))


def finish(
    desk: CaseDesk,
    numbers: Sequence[str],
    planned: Sequence[Application],
    definitions: Mapping[str, Mapping[str, Any]],
) -> str:
    """Do what staff do next: the points review and the in-person examination of the cases
    whose checks passed, then approve them (all but the last of each matter, left for the demo
    staff); refuse every other blocked case, naming the condition it fails."""
    # One list in signing order: each department key's nonces must reach the ledger rising.
    signed: list[Transaction] = []
    refused = 0
    to_approve: list[tuple[str, str]] = []
    last = {a.service: n for a, n in zip(planned, numbers, strict=True)}
    for a, number in zip(planned, numbers, strict=True):
        case = desk.case(number)
        defn = definitions[a.service]
        owner = defn["owner"]
        if case["status"] != "accepted":
            continue
        blocked = [s for s in case["steps"] if s["status"] == "blocked"]
        if blocked and number != last[a.service]:
            statements = {s["id"]: s["check"]["statement"] for s in defn["steps"] if "check" in s}
            reason = "不符合条件：" + "；".join(f"未能确认“{statements[s['id']]}”" for s in blocked)
            signed.append(
                desk.staff_step(owner, f"{owner}/approver", "approver", number, "decide",
                                {"outcome": "reject", "reason": reason})
            )  # fmt: skip
            refused += 1
            continue
        review = next((s for s in case["steps"] if s["status"] == "open"), None)
        if review is None or blocked or number == last[a.service]:
            continue
        note = "积分核定通过" if a.service == POINTS_HOUSEHOLD else "双方到场，声明属实"
        args = {"step": review["id"], "result": "pass", "note": note}
        signed.append(
            desk.staff_step(owner, f"{owner}/officer", "officer", number, "complete", args)
        )
        to_approve.append((owner, number))
    _commit(desk, signed)
    # The case desk checks a decision against the committed case: sign it after the review.
    approvals = [
        desk.staff_step(owner, f"{owner}/approver", "approver", number, "decide",
                        {"outcome": "approve"})
        for owner, number in to_approve
    ]  # fmt: skip
    _commit(desk, approvals)
    return f"{len(approvals)} approved after review, {refused} refused"
