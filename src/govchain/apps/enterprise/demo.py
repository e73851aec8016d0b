"""Demo data of the enterprise life cycle, seeded by ``govchain demo`` (``APP.seed``).

``seed_demo`` fills a fresh demo network as its departments would have filled it:

1. the data-catalogue resources of ``data/resources/*.json``, each registered by its owner;
2. demo logins in the node's identity store, all with the password ``DEMO_PASSWORD``, listed
   in ``<network>/demo-logins.txt`` (0600): a citizen, an enterprise (acting through that
   citizen, its legal representative), and an ``officer``, ``inspector`` and ``approver`` of
   every department (``market/officer`` ...; ``<dept>/admin`` is made by ``init``);
3. ``count`` synthetic enterprises (``synthetic.enterprises``, seed 2026) imported into the
   registry by the registration authority, established on their synthetic dates;
4. the records the deregistration clearances read (``demo_records``) for a realistic share of
   them, published through the sharing service as the owner departments (the register itself
   is mirrored into the catalogue by the authority node's register feed);
5. cases in every state (``demo_cases``, ``demo_permits``), moved by signed transactions as
   applicants and staff move them: registrations (submitted, accepted with steps open or
   claimed, supplement requested, approved with the business licence issued, rejected,
   closed, withdrawn), deregistrations (simplified ones cleared, blocked by a clearance or
   objected to; ordinary ones) and permits (granted, with the licence in the licence registry,
   or in progress); the node's case worker answers the checks meanwhile.

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
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from govchain.apps.enterprise.demo_cases import (
    REGISTRATION_PLANS,
    Action,
    Application,
    People,
    deregistrations,
    registrations,
)
from govchain.apps.enterprise.demo_permits import permit_applications
from govchain.apps.enterprise.demo_ratings import seed_ratings
from govchain.apps.enterprise.demo_records import (
    DEREGISTRATIONS,
    SEED,
    JsonObject,
    Record,
    clearance_records,
)
from govchain.apps.enterprise.synthetic import (
    Citizen,
    SyntheticEnterprise,
    citizens,
    enterprises,
)
from govchain.errors import CallFailed, GovchainError, NotFound, SchemaViolation
from govchain.identity.users import User, UserDirectory
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import CaseDesk
from govchain.node.network import NetworkDir
from govchain.node.node import Node
from govchain.procedures.calendar import DAY_MS, local_date, parse_calendar
from govchain.procedures.uscc import issue_uscc
from govchain.sharing.layout import subject_ref
from govchain.sharing.requests import build_request

DEMO_PASSWORD = "Demo-2026-govchain"
"""Password of every demo login (written to ``demo-logins.txt``)."""
DEFAULT_COUNT = 1000
"""Enterprises imported by default."""
MIN_COUNT = 20
"""Fewest enterprises the seeded cases need (``DEREGISTRATIONS`` names the first 19)."""
SERIAL_BASE = 5_000_000
"""Imported enterprises' USCC serials start above this (see the module docstring)."""
LOGINS_FILE = "demo-logins.txt"
"""File in the network directory listing the demo logins."""
STAFF_ROLES = {"officer": "经办人", "inspector": "核查员", "approver": "审批人"}
"""Staff roles given a demo login in every department, with their titles."""
BATCH = 500
"""Transactions submitted per call (one block or a few)."""
PUBLISHERS = 64
"""Sharing records published at once (each publication waits for its block, so many at once
share blocks)."""
WORKER_WAIT_S = 30.0
"""How long the seed waits for the case worker to answer the checks."""
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
"""Case statuses in the order the summary names them."""


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
    rated = seed_ratings(desk, numbers, who.citizen.id)
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
        rated,
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
        corrected = f"{text}{args.pop('note')}\n"
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
