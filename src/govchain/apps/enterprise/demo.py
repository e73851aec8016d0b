"""Demo data of the enterprise life cycle, seeded by ``govchain demo`` (``APP.seed``).

``seed_demo`` fills a fresh demo network as its departments would have filled it:

1. the data-catalogue resources of ``data/resources/*.json``, each registered by its owner;
2. demo logins in the node's identity store, all with the password ``DEMO_PASSWORD``, listed
   in ``<network>/demo-logins.txt`` (0600): a citizen, an enterprise (acting through that
   citizen, its legal representative), and an ``officer``, ``inspector`` and ``approver`` of
   every department (``market/officer`` ...; ``<dept>/admin`` is made by ``init``);
3. ``count`` synthetic enterprises (``synthetic.enterprises``, seed 2026) imported into the
   registry by the registration authority, established on their synthetic dates;
4. the records the deregistration clearances read (tax arrears, invoices, social insurance
   accounts, customs declarations, penalties, abnormal-list entries) for a realistic share of
   them, published through the sharing service as the owner departments;
5. cases in every state, moved by signed transactions as applicants and staff move them:
   registrations (submitted, accepted with steps open or claimed, supplement requested,
   approved with the business licence issued, rejected, closed, withdrawn) and deregistrations
   (simplified ones cleared, blocked by a clearance or objected to; ordinary ones).

Identifiers (deterministic, so that a seeded network can be reasoned about):

- Imported enterprises get the USCC ``issue_uscc(division, SERIAL_BASE + n)`` with ``n`` their
  synthetic serial in the district; the registry's own counter starts at 1 per division, so
  codes it issues to newly registered enterprises never meet these.
- A person who is not a registered user acts on-chain under the pseudonym
  ``citizen/<first 16 hex of H("govchain/demo/citizen/v1" ‖ chain ‖ resident id)>``; the
  demo citizen and the demo enterprise act under the ids the identity store gave them.
- ``legal_rep_ref`` is the legal representative's sharing subject reference
  (``sharing.layout.subject_ref`` of the resident identity number), as the case desk makes it
  for a registration.

Every ledger transaction is signed through the node's case desk (one nonce sequence per
process); sharing requests carry their own random nonces. Steps left open become overdue as
the node's clock passes their deadlines (most are one working day). The seed is idempotent: on
a registry that already holds enterprises it does nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from govchain.apps.enterprise.permits import permits_for
from govchain.apps.enterprise.synthetic import (
    Citizen,
    SyntheticEnterprise,
    citizens,
    enterprises,
    log_uniform,
)
from govchain.errors import CallFailed, GovchainError, NotFound, SchemaViolation
from govchain.identity.users import User, UserDirectory
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk, FormInvalid, check_form
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.procedures.calendar import DAY_MS, local_date, parse_calendar
from govchain.procedures.uscc import issue_uscc
from govchain.sharing.layout import subject_ref
from govchain.sharing.requests import build_request

DEMO_PASSWORD = "Demo-2026-govchain"
"""Password of every demo login (written to ``demo-logins.txt``)."""
SEED = 2026
"""Seed of the synthetic people, enterprises and records."""
DEFAULT_COUNT = 1000
"""Enterprises imported by default."""
MIN_COUNT = 20
"""Fewest enterprises the seeded cases need."""
SERIAL_BASE = 5_000_000
"""Imported enterprises' USCC serials start above this (see the module docstring)."""
LOGINS_FILE = "demo-logins.txt"
"""File in the network directory listing the demo logins."""
STAFF_ROLES = {"officer": "经办人", "inspector": "核查员", "approver": "审批人"}
"""Staff roles given a demo login in every department, with their titles."""
REGISTRATION, SIMPLIFIED, ORDINARY = "330100-DJ-0001", "330100-ZX-0001", "330100-ZX-0002"
"""The enterprise app's services the cases are of."""
BATCH = 500
"""Transactions submitted per call (one block or a few)."""
PUBLISHERS = 32
"""Sharing records published at once (each publication waits for its block)."""
WORKER_WAIT_S = 30.0
"""How long the seed waits for the case worker to answer the deregistration checks."""
MEDIA = "text/plain; charset=utf-8"
"""Media type of the generated materials."""
PURPOSE = "演示数据 / demo data"
"""Purpose recorded with the seed's transactions."""
STATUS_ORDER = (
    "submitted",
    "accepted",
    "supplement_requested",
    "decided",
    "issued",
    "closed",
    "withdrawn",
)

JsonObject = dict[str, Any]
"""A JSON object."""


@dataclass(frozen=True, slots=True)
class Action:
    """One transition of a seeded case after its submission."""

    transition: str
    """Engine transition: a staff one (``accept``, ``complete`` ...), ``resubmit``,
    ``withdraw`` (the applicant) or ``object`` (a member of the public)."""
    dept: str = ""
    """Department of the staff member acting ('' for the applicant and the public)."""
    role: str = ""
    """Their role (their login is ``<dept>/<role>``)."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """Arguments of the transition (``resubmit``: the ``material`` corrected; ``object``: the
    objecting ``person``, ``step`` and ``text``)."""


@dataclass(frozen=True, slots=True)
class Application:
    """A case the seed files as its applicant would, and the transitions that follow it."""

    service: str
    """Service code."""
    applicant: str
    """Pseudonymous id of the applicant (for an enterprise: the person acting for it)."""
    subject: str
    """USCC of the enterprise the case is about ('' for a registration)."""
    form: JsonObject
    """Application form."""
    particulars: JsonObject | None
    """Public particulars (registrations)."""
    materials: Mapping[str, tuple[str, str]]
    """Material id -> (file name, text) uploaded before submitting."""
    script: tuple[Action, ...]
    """Transitions after the submission, in order."""
    consents: tuple[str, ...] = ()
    """Materials another department holds, which the applicant lets it vouch for."""

    @property
    def session(self) -> str:
        """The seed's stand-in for the applicant's login session."""
        return "demo-seed/" + self.applicant.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class Record:
    """A record a department publishes to the data catalogue."""

    resource: str
    """Resource id (its owner is the part before the dot)."""
    record: str
    """Record id."""
    subject: str
    """USCC of the enterprise it is about."""
    data: JsonObject
    """The record."""


@dataclass(frozen=True, slots=True)
class People:
    """Who acts in the demo."""

    pseudonym: Callable[[str], str]
    """Resident identity number -> the id that person acts under on-chain."""
    ref: Callable[[str], str]
    """Resident identity number -> ``legal_rep_ref``."""
    by_id: Mapping[str, Citizen]
    """Synthetic citizens by resident identity number."""
    demo: Citizen
    """The synthetic citizen the demo citizen is."""
    citizen: User
    """The demo citizen's login."""
    enterprise: User
    """The demo enterprise."""
    staff: tuple[User, ...]
    """The demo staff."""


# --- the seed ---------------------------------------------------------------------------------


def seed_demo(
    node: Node, app_state: Any, network_dir: Path | str, count: int = DEFAULT_COUNT
) -> list[str]:
    """Seed the demo network (see the module); return lines saying what was made. Does
    nothing if the registry already holds enterprises."""
    if count < MIN_COUNT:
        raise SchemaViolation(f"the demo needs at least {MIN_COUNT} enterprises", field="count")
    net = NetworkDir(network_dir)
    logins = net.root / LOGINS_FILE
    if node.query("registry", "enterprises", {"limit": 1}):
        return [
            f"enterprise demo: the registry already holds enterprises; nothing seeded "
            f"(demo logins in {logins})"
        ]
    started = time.monotonic()
    desk: CaseDesk = app_state.casedesk
    registered = _register_resources(node, desk, app_state.sharing)
    people = citizens(max(MIN_COUNT, count * 4 // 5), SEED)
    companies = enterprises(count + len(REGISTRATION_PLANS), SEED, people)
    imported, founding = companies[:count], companies[count:]
    who = _logins(node, app_state.identity.users, people, imported[0], logins)
    usccs = [issue_uscc(e.division_code, SERIAL_BASE + e.serial) for e in imported]
    _import(node, desk, imported, usccs, who)
    # The register itself reaches the catalogue through the authority node's register feed.
    records = clearance_records(imported, usccs, DEREGISTRATIONS)
    _publish(node, net, app_state.sharing, records)
    definitions = {d["code"]: d for d in node.query("services", "definitions", {}) if d}
    cal = parse_calendar(node.query("services", "calendar", {}))
    permits = permit_applications(
        list(definitions.values()),
        imported,
        usccs,
        who,
        people,
        local_date(node.clock_ms(), cal),
    )
    apps = [
        *registrations(founding, who),
        *deregistrations(imported, usccs, DEREGISTRATIONS, who, people[-1]),
        *(a for a, _ in permits),
    ]
    numbers = _file(node, desk, apps)
    filed = list(zip(numbers, (definitions[a.service] for a in apps), strict=True))
    answered = _await_checks(desk, filed)
    permit_numbers = numbers[len(apps) - len(permits) :]
    decided = _decide(
        node,
        desk,
        [
            (n, definitions[a.service])
            for (a, granted), n in zip(permits, permit_numbers, strict=True)
            if granted
        ],
    )
    statuses = Counter(desk.case(n)["status"] for n in numbers)
    kinds = Counter(definitions[a.service].get("category", "") for a in apps)
    by_resource = Counter(r.resource for r in records)
    seconds = time.monotonic() - started
    return [
        f"enterprise demo: {len(imported)} enterprises, {len(numbers)} cases ("
        + ", ".join(f"{s} {statuses[s]}" for s in STATUS_ORDER if statuses[s])
        + f"), {2 + len(who.staff)} logins (password in {logins})",
        "enterprise demo: cases by category: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f"; {decided} permits approved by their departments",
        f"enterprise demo: {registered} catalogue resources registered, {len(records)} "
        "records published ("
        + ", ".join(f"{r} {n}" for r, n in sorted(by_resource.items()))
        + f"); checks answered by the case worker: {answered}; {seconds:.1f} s",
        "enterprise demo: open steps become overdue as the clock passes their deadlines; "
        "simplified deregistrations end by themselves after their 20-day notice",
    ]


def _commit(node: Node, txs: Sequence[Transaction]) -> list[Any]:
    """Submit transactions (``BATCH`` per call), wait for them; return their results in
    order. ``CallFailed`` names the first that was refused or failed."""
    results: list[Any] = []
    for i in range(0, len(txs), BATCH):
        chunk = txs[i : i + BATCH]
        for tx, outcome in zip(
            chunk, node.submit([t.encode() for t in chunk], wait=True), strict=True
        ):
            if isinstance(outcome, GovchainError):
                raise CallFailed(
                    f"{tx.contract}.{tx.method}: {outcome.message}",
                    tx_id=tx.tx_id.hex(),
                    receipt_code=outcome.code,
                )
        for tx in chunk:
            receipt = node.receipt_bundle(tx.tx_id)["entry"]["receipt"]
            if receipt["status"] != "ok":
                error = receipt["error"] or {}
                raise CallFailed(
                    f"{tx.contract}.{tx.method}: {error.get('message', receipt['status'])}",
                    tx_id=tx.tx_id.hex(),
                    receipt_code=error.get("code"),
                )
            results.append(receipt["result"])
    return results


def _register_resources(node: Node, desk: CaseDesk, sharing: Any) -> int:
    """Register the app's catalogue resources not registered yet, each by its owner."""
    departments = {d.id for d in node.genesis.departments}
    folder = resources.files("govchain.apps.enterprise").joinpath("data/resources")
    txs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        spec = json.loads(entry.read_text("utf-8"))
        owner = spec["id"].split(".")[0]
        if owner not in departments:
            continue
        try:
            sharing.resource(spec["id"])
            continue
        except NotFound:
            pass
        txs.append(
            desk.sign(
                owner, "sharing.catalogue", "register", spec, f"{owner}/admin", purpose=PURPOSE
            )
        )
    _commit(node, txs)
    return len(txs)


# --- people -----------------------------------------------------------------------------------


def _hashed(node: Node, domain: bytes, number: str) -> str:
    chain = node.genesis.chain_id.encode()
    return node.suite.hash(domain + b"\x00" + chain + b"\x00" + number.encode()).hex()


def _user(users: UserDirectory, login: str, create: Callable[[], User]) -> User:
    """The user with this login, created if there is none (a seed interrupted earlier)."""
    found = users.find_login(login)
    return found if found is not None else create()


def _staff_user(users: UserDirectory, dept: str, dept_name: str, role: str, title: str) -> User:
    login = f"{dept}/{role}"
    return _user(
        users,
        login,
        lambda: users.create_staff(login, dept_name + title, dept, role, DEMO_PASSWORD),
    )


def _logins(
    node: Node,
    users: UserDirectory,
    people: Sequence[Citizen],
    company: SyntheticEnterprise,
    path: Path,
) -> People:
    """Create the demo logins and write the list; ``company`` is the demo enterprise, its
    legal representative the demo citizen."""
    by_id = {c.resident_id: c for c in people}
    rep = by_id[company.legal_representative_id]
    uscc = issue_uscc(company.division_code, SERIAL_BASE + company.serial)
    citizen = _user(
        users,
        rep.resident_id,
        lambda: users.create_citizen(rep.resident_id, rep.name, DEMO_PASSWORD),
    )
    enterprise = _user(
        users,
        uscc,
        lambda: users.create_enterprise(
            uscc, company.name, rep.name, rep.resident_id, DEMO_PASSWORD
        ),
    )
    staff = [
        _staff_user(users, dept.id, dept.name, role, title)
        for dept in node.genesis.departments
        for role, title in STAFF_ROLES.items()
    ]
    lines = [
        f"govchain demo logins; every one has the password {DEMO_PASSWORD}",
        "(<dept>/admin: the password in departments/<dept>/admin.password)",
        "",
        f"citizen     {rep.resident_id}  {rep.name}, legal representative of {company.name}",
        f"enterprise  {uscc}  {company.name} (legal representative {rep.name})",
        *(f"staff       {u.login:<20} {u.name} ({u.role})" for u in staff),
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    def pseudonym(number: str) -> str:
        if number == rep.resident_id:
            return citizen.id
        return "citizen/" + _hashed(node, b"govchain/demo/citizen/v1", number)[:16]

    return People(
        pseudonym=pseudonym,
        ref=lambda number: subject_ref(node.suite, node.genesis.chain_id, number),
        by_id=by_id,
        demo=rep,
        citizen=citizen,
        enterprise=enterprise,
        staff=tuple(staff),
    )


# --- the registry -----------------------------------------------------------------------------


def _day_ms(day: dt.date, offset_minutes: int) -> int:
    """Local midnight of ``day`` in a time zone ``offset_minutes`` east of UTC, in Unix ms."""
    return (day - dt.date(1970, 1, 1)).days * DAY_MS - offset_minutes * 60_000


def particulars(e: SyntheticEnterprise, ref: str) -> JsonObject:
    """The public registration particulars of a synthetic enterprise."""
    return {
        "name": e.name,
        "division": e.division_code,
        "legal_rep_name": e.legal_representative,
        "legal_rep_ref": ref,
        "industry": e.industry,
        "capital_fen": e.registered_capital_fen,
        "address": e.address,
        "scope": e.business_scope,
        "employees": e.employees,
    }


def _import(
    node: Node,
    desk: CaseDesk,
    companies: Sequence[SyntheticEnterprise],
    usccs: Sequence[str],
    who: People,
) -> None:
    """Import the enterprises as the registration authority; the demo enterprise acts for
    the first, the demo citizen for the second too (an authorised agent)."""
    now = node.clock_ms()
    offset = parse_calendar(node.query("services", "calendar", {})).offset_minutes
    txs = []
    for i, (e, uscc) in enumerate(zip(companies, usccs, strict=True)):
        agents = [who.pseudonym(e.legal_representative_id)]
        if i == 0:
            agents.append(who.enterprise.id)
        if i == 1 and who.citizen.id not in agents:
            agents.append(who.citizen.id)
        enterprise = {
            **particulars(e, who.ref(e.legal_representative_id)),
            "uscc": uscc,
            "established_ms": min(_day_ms(e.established, offset), now - DAY_MS),
            "agents": agents,
        }
        txs.append(
            desk.sign(
                "market",
                "registry",
                "import_enterprise",
                {"enterprise": enterprise},
                "market/admin",
                purpose="存量企业登记信息导入 / import of the register",
            )
        )
    _commit(node, txs)


# --- clearance records ------------------------------------------------------------------------

CLEARANCES = (
    "tax_arrears",
    "tax_invoices",
    "social_insurance",
    "insurance_arrears",
    "customs",
    "penalties",
    "abnormal_list",
)
"""The deregistration checks, each blocked by one kind of record."""
TAX_TYPES = ("增值税", "企业所得税", "城市维护建设税", "个人所得税", "印花税", "房产税")
INSURANCES = ("企业职工基本养老保险", "职工基本医疗保险", "工伤保险")
MONTHLY_FEN = {"企业职工基本养老保险": 72_000, "职工基本医疗保险": 45_000, "工伤保险": 1_800}
"""Employer contribution per insured person and month (16 %, 10 % and 0.4 % of a 4,500-yuan
base)."""
ABNORMAL_REASONS = (
    "未按照规定期限公示年度报告",
    "通过登记的住所或者经营场所无法联系",
    "未在责令的期限内公示有关企业信息",
    "公示企业信息隐瞒真实情况、弄虚作假",
)
TRADING = ("51", "5292", "18", "39", "34")
"""Industries that import and export."""


@dataclass(frozen=True, slots=True)
class DeregistrationPlan:
    """Which imported enterprises apply for deregistration, and how it goes."""

    clear: tuple[int, ...]
    """Indexes of enterprises whose checks all pass (simplified procedure)."""
    blocked: tuple[tuple[int, str], ...]
    """(index, check) of enterprises one check blocks (simplified procedure)."""
    withdrawn: int
    """Index of an enterprise that applies, is blocked and withdraws."""
    ordinary: tuple[int, ...]
    """Indexes of enterprises using the ordinary procedure (clear)."""


DEREGISTRATIONS = DeregistrationPlan(
    clear=tuple(range(2, 9)),
    blocked=((1, "tax_arrears"), *((9 + k, c) for k, c in enumerate(CLEARANCES[1:]))),
    withdrawn=15,
    ordinary=(16, 17, 18),
)
"""Imported enterprises 1-18 apply for deregistration; the first (the demo citizen's second
enterprise) is blocked by its unpaid tax. Enterprise 0 is the demo enterprise: clear, no case."""


def _past_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    first = min(first, last)
    return dt.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


class _Records:
    """Makes one enterprise's records, blocking a check or not."""

    def __init__(self, rng: random.Random, e: SyntheticEnterprise, uscc: str) -> None:
        self.rng = rng
        self.e = e
        self.uscc = uscc
        self.out: list[Record] = []
        self.since = max(e.established, dt.date(2023, 1, 1))

    def add(self, resource: str, data: JsonObject) -> None:
        n = sum(1 for r in self.out if r.resource == resource) + 1
        rid = f"{resource.split('.')[1]}-{self.uscc}-{n}"
        self.out.append(Record(resource, rid, self.uscc, data))

    def arrears(self, settled: bool) -> None:
        rng = self.rng
        hi = max(50_000, min(self.e.tax_paid_fen // 6, 80_000_000))
        due = _past_day(rng, self.since, dt.date(2026, 10, 31)).replace(day=15)
        self.add(
            "tax.arrears",
            {
                "tax_type": rng.choice(TAX_TYPES),
                "amount_fen": log_uniform(rng, 20_000, hi),
                "due_date": due.isoformat(),
                "settled": settled,
            },
        )

    def invoices(self, status: str) -> None:
        year = _past_day(self.rng, self.since, dt.date(2026, 11, 30)).year
        batch = f"{self.e.division_code}{year}{self.rng.randrange(10**6):06d}"
        count = self.rng.choice((25, 50, 100, 250))
        self.add("tax.invoices", {"batch": batch, "count": count, "status": status})

    def insurance(self, status: str, months_owed: int) -> None:
        for kind in INSURANCES:
            owed = self.e.employees * MONTHLY_FEN[kind] * months_owed
            self.add(
                "hrss.insurance_accounts",
                {
                    "insurance": kind,
                    "status": status,
                    "insured": self.e.employees,
                    "arrears_fen": owed,
                },
            )

    def customs(self, closed: bool) -> None:
        rng = self.rng
        year = _past_day(rng, self.since, dt.date(2026, 11, 30)).year
        number = f"2901{year}{rng.randrange(2)}{rng.randrange(10**9):09d}"  # 杭州关区, I/E flag
        self.add(
            "customs.declarations",
            {
                "declaration": number,
                "duty_fen": log_uniform(rng, 50_000, 50_000_000),
                "closed": closed,
            },
        )

    def penalty(self, closed: bool) -> None:
        rng = self.rng
        year = _past_day(rng, self.since, dt.date(2026, 11, 30)).year
        self.add(
            "market.penalties",
            {
                "decision": f"杭市监处罚〔{year}〕{rng.randint(1, 2999)}号",
                "fine_fen": log_uniform(rng, 200_000, 20_000_000),
                "closed": closed,
            },
        )

    def abnormal(self, removed: bool) -> None:
        listed = _past_day(self.rng, self.since, dt.date(2026, 9, 30))
        self.add(
            "market.abnormal_list",
            {
                "reason": self.rng.choice(ABNORMAL_REASONS),
                "listed_date": listed.isoformat(),
                "removed": removed,
            },
        )

    def block(self, check: str) -> None:
        """Add a record that makes ``check`` answer no."""
        {
            "tax_arrears": lambda: self.arrears(False),
            "tax_invoices": lambda: self.invoices("unused"),
            "social_insurance": lambda: self.insurance("open", 0),
            "insurance_arrears": lambda: self.insurance("closed", self.rng.randint(1, 4)),
            "customs": lambda: self.customs(False),
            "penalties": lambda: self.penalty(False),
            "abnormal_list": lambda: self.abnormal(False),
        }[check]()

    def clear_history(self) -> None:
        """Records of an enterprise that wound down properly: nothing blocks a check."""
        self.invoices("cancelled")
        self.insurance("closed", 0)
        if self.rng.randrange(3) == 0:
            self.arrears(True)

    def ordinary(self) -> None:
        """Records of an operating enterprise (about the shares of Hangzhou's register)."""
        rng, e = self.rng, self.e
        if rng.randrange(100) < 6:
            for _ in range(rng.randint(1, 2)):
                self.arrears(rng.randrange(100) < 55)
        if rng.randrange(100) < 30:
            for _ in range(rng.randint(1, 2)):
                self.invoices(rng.choices(("used", "cancelled", "unused"), (6, 2, 2))[0])
        if rng.randrange(100) < 20:
            closed = rng.randrange(100) < 12
            owed = 0 if closed or rng.randrange(100) >= 6 else rng.randint(1, 6)
            self.insurance("closed" if closed else "open", owed)
        trading = e.industry.startswith(TRADING)
        if rng.randrange(100) < (15 if trading else 1):
            for _ in range(rng.randint(1, 3)):
                self.customs(rng.randrange(100) < 80)
        if rng.randrange(100) < 3:
            self.penalty(rng.randrange(100) < 70)
        if rng.randrange(100) < 5:
            self.abnormal(rng.randrange(100) < 40)


def clearance_records(
    companies: Sequence[SyntheticEnterprise], usccs: Sequence[str], plan: DeregistrationPlan
) -> list[Record]:
    """The departments' records about the enterprises (deterministic): ordinary shares for
    most; none that blocks for the demo enterprise and those the plan clears; exactly the
    planned blocking record (and a tidy history) for those the plan blocks."""
    rng = random.Random(SEED * 31 + 7)
    blocked = {i: c for i, c in plan.blocked}
    blocked[plan.withdrawn] = "social_insurance"
    clear = {0, *plan.clear, *plan.ordinary}
    out: list[Record] = []
    for i, (e, uscc) in enumerate(zip(companies, usccs, strict=True)):
        made = _Records(rng, e, uscc)
        if i in blocked:
            made.clear_history()
            if blocked[i] in ("social_insurance", "insurance_arrears"):
                made.out = [r for r in made.out if r.resource != "hrss.insurance_accounts"]
            made.block(blocked[i])
        elif i in clear:
            made.clear_history()
        else:
            made.ordinary()
        out += made.out
    return out


def _publish(node: Node, net: NetworkDir, sharing: Any, records: Sequence[Record]) -> None:
    """Publish the records through the sharing service as signed requests of each owner's
    admin for its officer, many at once (each publication waits for its block)."""
    suite = node.suite
    keys: dict[str, bytes] = {}
    for r in records:
        owner = r.resource.split(".")[0]
        if owner not in keys:
            keys[owner] = net.member_key(f"{owner}/admin").keypair.private

    def publish(r: Record) -> None:
        owner = r.resource.split(".")[0]
        private = keys[owner]
        request = build_request(
            chain=node.genesis.chain_id,
            kind="publish",
            signer=f"{owner}/admin",
            actor=f"{owner}/officer",
            args={"resource": r.resource, "record": r.record, "subject": r.subject, "data": r.data},
            time_ms=node.clock_ms(),
            sign=lambda m: suite.sign(private, m),
            purpose=PURPOSE,
        )
        sharing.publish(request.envelope())

    with ThreadPoolExecutor(PUBLISHERS, thread_name_prefix="demo-publish") as pool:
        for _ in pool.map(publish, records):
            pass


# --- cases ------------------------------------------------------------------------------------


def _staff(dept: str, role: str, transition: str, **args: Any) -> Action:
    return Action(transition, dept, role, args)


ACCEPT = _staff("market", "officer", "accept")
REVIEW = _staff("market", "officer", "complete", step="review", result="pass")
TAX = _staff("tax", "officer", "complete", step="tax_setup", result="pass")
HRSS = _staff("hrss", "officer", "complete", step="social_insurance", result="pass")
APPROVE = _staff("market", "approver", "decide", outcome="approve")
CLOSE = _staff("market", "officer", "close")
SUPPLEMENT = _staff(
    "market",
    "officer",
    "request_supplement",
    items=["住所使用证明：租赁合同未附出租方产权证明，请补充上传"],
    reason="住所使用相关文件不完整 / proof of the right to use the address is incomplete",
)
RESUBMIT = Action("resubmit", args={"material": "premises"})
TAX_SUPPLEMENT = _staff(
    "tax",
    "officer",
    "request_supplement",
    items=["财务负责人姓名、身份证件号码及联系电话"],
    reason="税务信息确认缺少财务负责人信息 / the finance officer's details are missing",
)
REJECT_INTAKE = _staff(
    "market",
    "officer",
    "reject",
    reason="经营范围含“医疗器械经营”，须先取得前置许可，申请材料中未见许可文件",
)
REJECT_DECISION = _staff(
    "market",
    "approver",
    "decide",
    outcome="reject",
    reason="企业名称与本登记机关已登记的企业名称近似，易引起公众误认",
)
REVIEW_FAIL = _staff(
    "market",
    "officer",
    "complete",
    step="review",
    result="fail",
    note="公司章程未载明股东的出资方式和出资期限",
)
WITHDRAW = Action("withdraw", args={"reason": "经营计划调整，暂不设立"})

REGISTRATION_PLANS: tuple[tuple[Action, ...], ...] = (
    *((),) * 8,  # submitted, waiting for intake
    (SUPPLEMENT, RESUBMIT),  # supplemented at intake, submitted again
    *((SUPPLEMENT,),) * 4,
    (ACCEPT, REVIEW, TAX_SUPPLEMENT),  # tax asks for a supplement during its step
    *((ACCEPT,),) * 3,
    *((ACCEPT, _staff("market", "officer", "claim", step="review")),) * 3,
    *((ACCEPT, REVIEW, _staff("tax", "officer", "claim", step="tax_setup")),) * 3,
    *((ACCEPT, REVIEW, TAX, HRSS),) * 3,  # waiting for the decision
    *((ACCEPT, REVIEW, TAX, HRSS, APPROVE),) * 5,  # business licence issued
    *((ACCEPT, REVIEW, REJECT_DECISION),) * 2,
    (REJECT_INTAKE,),
    (ACCEPT, REVIEW_FAIL, REJECT_DECISION),
    *((ACCEPT, REVIEW, TAX, HRSS, APPROVE, CLOSE),) * 4,
    (REJECT_INTAKE, CLOSE),
    (WITHDRAW,),
    (ACCEPT, WITHDRAW),
    (SUPPLEMENT, WITHDRAW),
)
"""The registration cases: the transitions after each submission."""
DEMO_CITIZEN_CASES = (0, 9, 27)
"""Registration cases the demo citizen files: one waiting, one with a supplement asked for,
one approved."""


def _doc(title: str, *lines: str) -> str:
    return "\n".join((title, "", *lines, "", f"生成于演示数据 / demo data, {SEED}")) + "\n"


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} 元"


def registrations(companies: Sequence[SyntheticEnterprise], who: People) -> list[Application]:
    """The registration cases of the synthetic founders (see ``REGISTRATION_PLANS``)."""
    out = []
    for k, (e, script) in enumerate(zip(companies, REGISTRATION_PLANS, strict=True)):
        rep = who.by_id[e.legal_representative_id]
        if k in DEMO_CITIZEN_CASES:
            rep = who.demo
        form = {
            "name": e.name,
            "division": e.division_code,
            "legal_rep_name": rep.name,
            "legal_rep_id": rep.resident_id,
            "industry": e.industry,
            "capital_fen": e.registered_capital_fen,
            "address": e.address,
            "scope": e.business_scope,
            "employees": e.employees,
            "contact_phone": rep.phone,
            "shareholders": [{"name": rep.name, "contribution_fen": e.registered_capital_fen}],
        }
        materials = {
            "application": (
                "公司登记（备案）申请书.txt",
                _doc(
                    "公司登记（备案）申请书",
                    f"企业名称：{e.name}",
                    f"住所：{e.address}",
                    f"法定代表人：{rep.name}",
                    f"注册资本：{_yuan(e.registered_capital_fen)}",
                    f"经营范围：{e.business_scope}",
                    f"联系电话：{rep.phone}",
                ),
            ),
            "articles": (
                "公司章程.txt",
                _doc(
                    f"{e.name}章程",
                    "第一章 总则",
                    "第一条 为规范公司的组织和行为，根据《中华人民共和国公司法》制定本章程。",
                    f"第二条 公司名称：{e.name}。",
                    f"第三条 公司住所：{e.address}。",
                    f"第四条 公司注册资本为{_yuan(e.registered_capital_fen)}，股东{rep.name}"
                    "以货币出资。",
                ),
            ),
            "shareholders": (
                "股东身份证明.txt",
                _doc(
                    "自然人股东身份证件复印件",
                    f"姓名：{rep.name}",
                    f"公民身份号码：{rep.resident_id[:6]}********{rep.resident_id[-4:]}",
                    f"住址：{rep.address}",
                ),
            ),
            "appointments": (
                "任职文件.txt",
                _doc("股东决定", f"任命{rep.name}为{e.name}执行董事兼经理，担任法定代表人。"),
            ),
            "premises": (
                "住所使用证明.txt",
                _doc(
                    "房屋租赁合同",
                    f"承租方：{e.name}（筹）",
                    f"房屋坐落：{e.address}",
                    "租赁期限：三年",
                ),
            ),
        }
        applicant = who.pseudonym(rep.resident_id)
        # The case desk makes the public particulars from the form, as for any applicant.
        out.append(Application(REGISTRATION, applicant, "", form, None, materials, script))
    return out


def deregistrations(
    companies: Sequence[SyntheticEnterprise],
    usccs: Sequence[str],
    plan: DeregistrationPlan,
    who: People,
    creditor: Citizen,
) -> list[Application]:
    """The deregistration cases the plan names, each filed by the enterprise's legal
    representative (the demo citizen for the demo citizen's enterprise)."""
    objection = Action(
        "object",
        args={
            "person": who.pseudonym(creditor.resident_id),
            "step": "notice",
            "text": "本人系该公司供应商，尚有货款人民币38,500元未结清，请暂缓注销。",
        },
    )
    cases: list[tuple[int, str, tuple[Action, ...]]] = [
        *((i, SIMPLIFIED, (objection,) if k == 0 else ()) for k, i in enumerate(plan.clear)),
        *((i, SIMPLIFIED, ()) for i, _ in plan.blocked),
        (plan.withdrawn, SIMPLIFIED, (Action("withdraw", args={"reason": "先办理社保账户注销"}),)),
        (plan.ordinary[0], ORDINARY, ()),
        (plan.ordinary[1], ORDINARY, (ACCEPT,)),
        (
            plan.ordinary[2],
            ORDINARY,
            (
                _staff(
                    "market",
                    "officer",
                    "request_supplement",
                    items=["经全体股东签字确认的清算报告"],
                    reason="清算报告缺少股东签字 / the liquidation report is not signed",
                ),
            ),
        ),
    ]
    out = []
    for i, service, script in cases:
        e, uscc = companies[i], usccs[i]
        rep = who.by_id[e.legal_representative_id]
        applicant = who.citizen.id if i == 1 else who.pseudonym(rep.resident_id)
        materials: dict[str, tuple[str, str]] = {
            "application": (
                "注销登记申请书.txt",
                _doc(
                    "注销登记申请书",
                    f"企业名称：{e.name}",
                    f"统一社会信用代码：{uscc}",
                    f"法定代表人：{rep.name}",
                    f"联系电话：{rep.phone}",
                ),
            ),
        }
        if service == SIMPLIFIED:
            form: JsonObject = {
                "reason": ("决议解散", "未开业")[i % 2],
                "contact_phone": rep.phone,
                "no_debts": True,
            }
            materials["commitment"] = (
                "全体投资人承诺书.txt",
                _doc(
                    "全体投资人承诺书",
                    f"本企业{e.name}申请简易注销登记，全体投资人承诺：企业不存在"
                    "未结清清算费用、职工工资、社会保险费用、法定补偿金、应缴纳税款（滞纳金、罚款）"
                    "等债权债务，或者已清偿完毕。",
                    f"投资人：{rep.name}",
                ),
            )
        else:
            form = {"reason": "决议解散", "contact_phone": rep.phone, "liquidation_head": rep.name}
            materials |= {
                "resolution": (
                    "股东会决议.txt",
                    _doc(
                        "股东会决议",
                        f"经全体股东一致同意，{e.name}解散，成立清算组，"
                        f"由{rep.name}担任清算组负责人。",
                    ),
                ),
                "liquidation_report": (
                    "清算报告.txt",
                    _doc(
                        "清算报告", f"{e.name}清算组已清理公司财产，清偿全部债务，剩余财产已分配。"
                    ),
                ),
                "creditor_notice": (
                    "债权人公告.txt",
                    _doc(
                        "注销公告",
                        f"{e.name}已于国家企业信用信息公示系统发布债权人公告，公告期45日。",
                    ),
                ),
            }
        out.append(Application(service, applicant, uscc, form, None, materials, script))
    return out


# --- permits ----------------------------------------------------------------------------------

PERMITS_EACH = 2
"""Enterprises that apply for each published permit (the first is granted, the second waits
in its first step)."""
PERMITS_FROM = 20
"""Imported enterprises from this index on may apply for permits (the others are busy)."""
ORGANISATION_ITEMS: dict[str, tuple[JsonObject, ...]] = {
    "facilities": (
        {"name": "货架及陈列柜", "count": 12},
        {"name": "冷藏冷冻设备", "count": 3},
        {"name": "温湿度监测设备", "count": 2},
    ),
    "equipment": (
        {"name": "乘客电梯", "product_number": "DT2024{n:06d}", "maker": "杭州西奥电梯有限公司"},
    ),
    "vehicles": (
        {"plate": "", "kind": "重型厢式货车", "gross_mass_kg": 18_000},
        {"plate": "", "kind": "中型厢式货车", "gross_mass_kg": 9_800},
    ),
}
"""Items of the forms' lists of things, per list."""
DOCUMENT_NUMBERS = {
    "premises_property_cert": "浙（{year}）杭州市不动产权第{n:07d}号",
    "qualification_certificate": "D{n:09d}",
    "land_approval_ref": "浙（{year}）杭州市不动产权第{n:07d}号",
    "planning_permit_ref": "建字第330100{year}{n:05d}号",
    "fire_acceptance_ref": "杭建消验字〔{year}〕第{n:04d}号",
}
"""Document numbers the forms ask for, in their usual shapes."""
TEXTS = {
    "legal_rep_position": "执行董事兼总经理",
    "business_hours": "09:00-21:00",
    "customs_office": "杭州海关",
    "information_system": "进销存及质量追溯管理系统（采购、验收、储存、销售、追溯）",
    "quality_manager_education": "本科 药学",
    "quality_manager_title": "执业药师",
    "dispatch_industries": "制造业；批发和零售业",
    "sewer_connection": "市政污水管网检查井",
    "maintenance_company": "杭州西奥电梯有限公司",
    "venue_floors": "第1-2层",
    "postal_code": "310012",
    "enterprise_type": "有限责任公司（自然人投资或控股）",
    "legal_rep_id_type": "居民身份证",
}
"""Fixed answers to questions every applicant answers alike."""
GENERIC_TEXT = "详见申请材料"
"""Answer to a free-text question the seed has no better answer for."""


@dataclass(frozen=True, slots=True)
class _Filler:
    """Answers a permit form's questions for one enterprise."""

    e: SyntheticEnterprise
    """The enterprise."""
    uscc: str
    """Its USCC."""
    rep: Citizen
    """Its legal representative (who signs and is the contact)."""
    staff: Sequence[Citizen]
    """People who hold the named posts (quality manager, safety manager ...)."""
    today: dt.date
    """The application date (local)."""
    serial: int
    """A number making its document numbers unique."""

    def person(self, key: str) -> Citizen:
        """Who a ``<post>_name`` / ``_phone`` / ``_id_number`` question is about."""
        post = key.rsplit("_", 2 if key.endswith("_id_number") else 1)[0]
        if post in ("legal_rep", "contact", "principal", "signatory", "agent"):
            return self.rep
        return self.staff[sum(map(ord, post)) % len(self.staff)]

    def known(self, key: str) -> Any:
        """The answer to a question of the shared vocabulary, or ``None``."""
        e, today = self.e, self.today
        authority = f"{'杭州市' if e.district.endswith('区') else ''}{e.district}市场监督管理局"
        lease_end = today.replace(year=today.year + 3)
        answers: dict[str, Any] = {
            "application_kind": "新办",
            "application_date": today.isoformat(),
            "truthfulness_pledge": True,
            "licence_delivery": "电子证照",
            "enterprise_name": e.name,
            "uscc": self.uscc,
            "registered_address": e.address,
            "registered_capital_fen": e.registered_capital_fen,
            "established_date": e.established.isoformat(),
            "registration_authority": authority,
            "business_scope": e.business_scope,
            "industry_code": e.industry,
            "premises_address": e.address,
            "premises_district": e.district,
            "premises_ownership": "租赁",
            "premises_lease_end": lease_end.isoformat(),
            "storage_address": e.address,
            "parking_address": e.address,
            "project_address": e.address,
            "contractor_name": e.name,
            "contractor_uscc": self.uscc,
            "project_name": f"{e.address}综合楼新建工程",
            "building_name": f"{e.address}综合楼",
            "staff_count": max(1, e.employees),
            "staff_health_certified": max(1, e.employees),
            "paid_in_capital_fen": max(200_000_000, e.registered_capital_fen),
            "opening_date": (today + dt.timedelta(days=15)).isoformat(),
            "planned_start": (today + dt.timedelta(days=30)).isoformat(),
            "planned_completion": (today + dt.timedelta(days=540)).isoformat(),
            "org_departments": ["质量管理部", "采购部", "仓储部", "销售部"],
            **TEXTS,
        }
        if key in answers:
            return answers[key]
        if key.endswith("_name") and key != "online_platform":
            return self.person(key).name
        if key.endswith("_phone"):
            return self.person(key).phone
        if key.endswith("_id_number"):
            return self.person(key).resident_id
        if key in DOCUMENT_NUMBERS:
            return DOCUMENT_NUMBERS[key].format(year=today.year - 1, n=self.serial)
        return None

    def value(self, key: str, schema: Mapping[str, Any]) -> Any:
        """An answer satisfying ``schema``: the vocabulary's, else one of its own kind."""
        found = self.known(key)
        if found is not None:
            return found
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        low = int(schema.get("minimum", 0))
        if kind == "boolean":
            return True
        if kind == "integer":
            size = max(1, self.e.employees)
            guess = {
                "_m2": 20 + 4 * size,
                "_fen": self.e.registered_capital_fen // 20,
                "_litres": 500 * size,
                "_kg": 18_000,
            }
            return max(low, next((v for k, v in guess.items() if key.endswith(k)), min(size, 6)))
        if kind == "array":
            return self.items(key, schema)
        if kind == "string" and schema.get("format") == "date":
            return self.today.isoformat()
        return GENERIC_TEXT

    def items(self, key: str, schema: Mapping[str, Any]) -> list[Any]:
        item = schema.get("items", {})
        want = max(1, int(schema.get("minItems", 1)))
        if "enum" in item:
            return list(item["enum"][: max(want, 2)])
        if key in ORGANISATION_ITEMS:
            return [
                {k: v.format(n=self.serial) if type(v) is str else v for k, v in row.items()}
                for row in ORGANISATION_ITEMS[key]
            ]
        if key == "pharmacists":
            p = self.staff[0]
            return [
                {"name": p.name, "registration_number": f"33{self.today.year - 3}{self.serial:06d}"}
            ]
        return [self.value(f"{key}_item", item)] * want

    def form(self, schema: Mapping[str, Any]) -> JsonObject:
        """Fill ``schema``: every required question, and every question of the vocabulary."""
        props: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        out: JsonObject = {}
        for key, sub in props.items():
            if key in required:
                out[key] = self.value(key, sub)
            elif key.startswith(("agent_", "delivery_", "online_", "business_term")):
                continue  # answered only when another answer asks for them
            elif (found := self.known(key)) is not None:
                out[key] = found
        return out


def permit_applications(
    definitions: Sequence[Mapping[str, Any]],
    companies: Sequence[SyntheticEnterprise],
    usccs: Sequence[str],
    who: People,
    people: Sequence[Citizen],
    today: dt.date,
) -> list[tuple[Application, bool]]:
    """Applications for the published permits by enterprises whose industry or business scope
    needs them (``permits.permits_for``): per permit ``PERMITS_EACH`` enterprises, the first to
    be granted (``True``), the next left at its first step."""
    wanted = {d["code"]: d for d in definitions if d.get("category") == "permit"}
    taken: dict[str, int] = {}
    out: list[tuple[Application, bool]] = []
    for i in range(PERMITS_FROM, len(companies)):
        e = companies[i]
        need = [n.code for n in permits_for(e.industry, e.business_scope) if n.code in wanted]
        code = next((c for c in need if taken.get(c, 0) < PERMITS_EACH), None)
        if code is None:
            continue
        defn = wanted[code]
        rep = who.by_id[e.legal_representative_id]
        filler = _Filler(e, usccs[i], rep, people[i % 7 :: 7][:5], today, i)
        materials = {
            m["id"]: (
                f"{m['name']['zh']}.txt",
                _doc(
                    m["name"]["zh"],
                    f"申请人：{e.name}",
                    f"统一社会信用代码：{usccs[i]}",
                    f"经营场所：{e.address}",
                    f"申请事项：{defn['name']['zh']}",
                ),
            )
            for m in defn["materials"]
            if m.get("required") and not m.get("held_by")
        }
        consents = tuple(m["id"] for m in defn["materials"] if m.get("held_by"))
        form = filler.form(defn["form"])
        try:
            check_form(defn["form"], form)
        except FormInvalid:
            continue  # a question the filler cannot answer: this enterprise does not apply
        granted = taken.get(code, 0) == 0
        taken[code] = taken.get(code, 0) + 1
        app = Application(
            code,
            who.pseudonym(rep.resident_id),
            usccs[i],
            form,
            None,
            materials,
            _permit_script(defn, granted),
            consents,
        )
        out.append((app, granted))
    return out


def _permit_script(defn: Mapping[str, Any], granted: bool) -> tuple[Action, ...]:
    """Acceptance, then (``granted``) the staff steps that do not wait for a check (checks are
    the case worker's) in the definition's order, or (not) a claim of the first of them."""
    script = [] if defn.get("auto_accept") else [_staff(defn["owner"], "officer", "accept")]
    manual: set[str] = set()
    for s in defn["steps"]:
        if s["kind"] in ("review", "inspection") and set(s.get("after", ())) <= manual:
            if not granted:
                return (*script, _staff(s["dept"], s["role"], "claim", step=s["id"]))
            note = "经现场核查，符合许可条件" if s["kind"] == "inspection" else ""
            script.append(
                _staff(
                    s["dept"],
                    s["role"],
                    "complete",
                    step=s["id"],
                    result="pass",
                    **({"note": note} if note else {}),
                )
            )
            manual.add(s["id"])
    return tuple(script)


def _decide(node: Node, desk: CaseDesk, cases: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """Approve the cases (``(number, definition)``) whose steps all passed and that wait for a
    person's decision; return how many."""
    txs = []
    for number, defn in cases:
        case = desk.case(number)
        decision = defn.get("decision", {})
        done = all(s["status"] == "done" and s["result"] == "pass" for s in case["steps"])
        if case["status"] == "accepted" and done and not decision.get("auto"):
            role = decision.get("role", "approver")
            txs.append(
                desk.staff_step(
                    defn["owner"],
                    f"{defn['owner']}/{role}",
                    role,
                    number,
                    "decide",
                    {"outcome": "approve"},
                )
            )
    _commit(node, txs)
    return len(txs)


def _act(desk: CaseDesk, owner: str, app: Application, number: str, act: Action) -> Transaction:
    """Sign one transition as the person who makes it."""
    args = dict(act.args)
    if act.transition == "resubmit":
        mid = args.pop("material")
        name, text = app.materials[mid]
        corrected = text + "补正：已附出租方不动产权证书复印件。\n"
        stored = desk.upload(owner, app.applicant, name, MEDIA, corrected.encode())
        args["materials"] = {mid: stored["hash"]}
    if act.transition in ("resubmit", "withdraw"):
        return desk.applicant_step(app.applicant, app.session, number, act.transition, args)
    if act.transition == "object":
        return desk.objection(args["person"], number, args["step"], args["text"])
    person = f"{act.dept}/{act.role}"
    return desk.staff_step(act.dept, person, act.role, number, act.transition, args)


def _file(node: Node, desk: CaseDesk, apps: Sequence[Application]) -> list[str]:
    """Upload the materials and submit every application, then make their transitions, one
    round per step of the scripts (each round checked against the committed cases)."""
    owners = {s: desk.definition(s)["definition"]["owner"] for s in {a.service for a in apps}}
    txs = []
    for app in apps:
        owner = owners[app.service]
        hashes = {
            mid: desk.upload(owner, app.applicant, name, MEDIA, text.encode())["hash"]
            for mid, (name, text) in app.materials.items()
        }
        txs.append(
            desk.submission(
                app.applicant,
                app.session,
                app.service,
                app.form,
                hashes,
                list(app.consents),
                app.subject,
                app.particulars,
            )
        )
    numbers = [str(doc["number"]) for doc in _commit(node, txs)]
    for k in range(max(len(a.script) for a in apps)):
        round_txs = [
            _act(desk, owners[a.service], a, n, a.script[k])
            for a, n in zip(apps, numbers, strict=True)
            if k < len(a.script)
        ]
        _commit(node, round_txs)
    return numbers


def _checks(
    desk: CaseDesk, cases: Sequence[tuple[str, Mapping[str, Any]]]
) -> Iterator[dict[str, Any]]:
    """The check steps of the accepted cases (``(number, definition)``)."""
    for number, defn in cases:
        checks = {s["id"] for s in defn["steps"] if s["kind"] == "check"}
        if not checks:
            continue
        case = desk.case(number)
        if case["status"] == "accepted":
            yield from (s for s in case["steps"] if s["id"] in checks)


def _await_checks(desk: CaseDesk, cases: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Wait (a bounded time) for the node's case worker to answer the checks of the cases
    (``(number, definition)``); return how they were answered."""
    deadline = time.monotonic() + WORKER_WAIT_S
    while time.monotonic() < deadline:
        if not any(s["status"] == "open" for s in _checks(desk, cases)):
            break
        time.sleep(0.1)
    answers = Counter(
        {"done": "yes", "blocked": "no"}.get(s["status"], s["status"]) for s in _checks(desk, cases)
    )
    return ", ".join(f"{k} {v}" for k, v in sorted(answers.items()))
