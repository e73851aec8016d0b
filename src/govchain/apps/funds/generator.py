"""The demo data of fund supervision, generated from a fixed seed: 50 projects of five
categories with milestones, evidence and disbursements, and known injected anomalies of each
kind, labelled for evaluation.

Ordinary data, so that the rules have something not to flag:

- each category has a pool of contractors; projects of one category share them (related
  projects), some projects also pay a supplier, on the same day as the contractor;
- a milestone is paid once, or in two instalments (70 %, then the 30 % retention two to four
  months later), always after its evidence (photos and an acceptance report) is notarised;
- unit costs vary by about ±15 % around the category's figure; two projects of different
  categories and departments declare each other related (medical and elderly care) and
  share a supplier.

Injected anomalies (``Label.kind`` is the rule or detector that should flag them):

- ``peer_outlier``: one project per category with its budget per unit inflated 2.3-3.2 times;
- ``shared_payee``: three shell companies, each paid by two or three unrelated projects;
- ``missing_evidence``: six milestones paid without evidence (three never notarised, three
  notarised after the payment);
- ``isolation_forest``: six milestones paid twice, the repeat two to nine days later.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

from govchain.apps.funds.records import Disbursement, Evidence, FundsData, project_of
from govchain.procedures.uscc import issue_uscc

SEED = 20261207
"""Seed of the demo data."""
PROJECTS = 50
"""Projects of the demo."""
TODAY = "2026-11-30"
"""The demo's 'today': milestones due later are not paid yet."""
DIVISION = "330100"
"""Division code the payees' codes are issued in (Hangzhou)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One call of the demo, in ledger order."""

    dept: str
    """Department that signs it."""
    method: str
    """Contract method."""
    args: dict[str, Any]
    """Its arguments."""
    on: str
    """Business date it happens on."""
    content: bytes = b""
    """The evidence file (``add_evidence``), kept in the content store."""


@dataclass(frozen=True, slots=True)
class Label:
    """An injected anomaly."""

    kind: str
    """The rule or detector that should flag it."""
    subject: str
    """Disbursement, payee or project id."""
    note: str
    """What was injected."""


@dataclass(frozen=True, slots=True)
class DemoSet:
    """The demo's calls and the anomalies injected into them."""

    operations: tuple[Operation, ...]
    """Calls in ledger order."""
    labels: tuple[Label, ...]
    """Injected anomalies."""
    payee_names: dict[str, str] = field(default_factory=dict)
    """Name of every payee, by id."""


def categories() -> list[dict[str, Any]]:
    """Return the demo's project categories (``data/categories.json``)."""
    text = resources.files("govchain.apps.funds").joinpath("data/categories.json").read_text()
    found: list[dict[str, Any]] = json.loads(text)["categories"]
    return found


def png(width: int, height: int, rgb: tuple[int, int, int], caption: str) -> bytes:
    """Return a small PNG of one colour captioned in a ``tEXt`` chunk (a stand-in site photo;
    PNG: ISO/IEC 15948)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Description\x00" + caption.encode("latin-1", "replace"))
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def _iso(d: date) -> str:
    return d.isoformat()


class _Builder:
    """Accumulates the demo's projects, calls and labels."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.today = date.fromisoformat(TODAY)
        self.serial = 0
        self.names: dict[str, str] = {}
        self.projects: list[dict[str, Any]] = []
        self.owners: dict[str, str] = {}
        self.calls: list[tuple[str, int, Operation, str]] = []
        self.labels: list[tuple[str, str, str]] = []
        self.firsts: dict[str, tuple[Any, ...]] = {}

    def payee(self, name: str) -> dict[str, str]:
        self.serial += 1
        ident = issue_uscc(DIVISION, 4_000_000 + self.serial * 37)
        self.names[ident] = name
        return {"id": ident, "name": name}

    def call(self, on: date, order: int, op: Operation, mark: str = "") -> None:
        self.calls.append((_iso(on), order, op, mark))


def _plan(b: _Builder, cats: list[dict[str, Any]], count: int) -> None:
    """The projects: ``count`` spread over the categories, ordinary budgets and payees."""
    pools = {
        c["code"]: [b.payee(f"{c['zh'][:4]}{k}号工程有限公司") for k in range(1, 5)] for c in cats
    }
    suppliers = {c["code"]: b.payee(f"{c['zh'][:4]}物资供应有限公司") for c in cats}
    for i in range(count):
        c = cats[i % len(cats)]
        place = c["places"][(i // len(cats)) % len(c["places"])]
        low, high = c["quantity"]
        quantity = b.rng.randint(low, high)
        unit_cost = int(c["unit_cost_fen"] * b.rng.uniform(0.85, 1.15))
        budget = quantity * unit_cost // 10_000 * 10_000  # whole hundreds of yuan
        start = date(2025, 1, 6) + timedelta(days=b.rng.randint(0, 560))
        payees = [b.rng.choice(pools[c["code"]])]
        if b.rng.random() < 0.4:
            payees.append(suppliers[c["code"]])
        milestones = []
        due = start
        left = budget
        for k, (name, share) in enumerate(c["milestones"]):
            due += timedelta(days=b.rng.randint(60, 120))
            amount = left if k == len(c["milestones"]) - 1 else budget * share // 100
            left -= amount
            milestones.append(
                {"id": f"M{k + 1}", "name": name, "amount_fen": amount, "due": _iso(due)}
            )
        pid = f"FP-{start.year}-{i + 1:03d}"
        b.projects.append(
            {
                "id": pid,
                "name": f"{place}{c['zh']}",
                "fund": c["fund"],
                "category": c["code"],
                "unit": c["unit"],
                "quantity": quantity,
                "budget_fen": budget,
                "start_date": _iso(start),
                "payees": payees,
                "milestones": milestones,
                "related": [],
            }
        )
        b.owners[pid] = c["department"]


def _inflate(b: _Builder, cats: list[dict[str, Any]]) -> None:
    """``peer_outlier``: one project per category with its unit cost inflated."""
    for c in cats:
        p = b.rng.choice([p for p in b.projects if p["category"] == c["code"]])
        factor = b.rng.uniform(2.3, 3.2)
        budget = int(p["budget_fen"] * factor) // 10_000 * 10_000
        left = budget
        for k, m in enumerate(p["milestones"]):
            share = c["milestones"][k][1]
            m["amount_fen"] = left if k == len(p["milestones"]) - 1 else budget * share // 100
            left -= m["amount_fen"]
        p["budget_fen"] = budget
        b.labels.append(("peer_outlier", p["id"], f"unit cost x{factor:.2f}"))


def _relate(b: _Builder) -> None:
    """Medical and elderly care (医养结合): a clinic and an elderly-care centre of different
    departments declare each other related and pay the same supplier."""
    clinic = next(p for p in b.projects if p["category"] == "clinic_equipment")
    care = next(p for p in b.projects if p["category"] == "elderly_care")
    first, second = sorted((clinic, care), key=lambda p: p["id"])
    second["related"].append(first["id"])
    shared = b.payee("颐康医疗养老设备有限公司")
    for p in (clinic, care):
        p["payees"].append(shared)


def _payments(b: _Builder) -> dict[str, Any]:
    """Evidence and payments of every milestone finished by the demo's today; returns the
    single-payment milestones eligible for injections."""
    plain: dict[str, Any] = {}
    for p in b.projects:
        dept = b.owners[p["id"]]
        paid = 0
        for m in p["milestones"]:
            done = date.fromisoformat(m["due"]) + timedelta(days=b.rng.randint(-10, 15))
            if done > b.today:
                break
            key = (p["id"], m["id"])
            for j, kind in enumerate(("photo", "acceptance")):
                when = done - timedelta(days=3 - 3 * j)
                if kind == "photo":
                    caption = f"{p['id']} {m['id']} site photo {_iso(when)}"
                    content = png(16, 12, (b.rng.randrange(256), 140, 90), caption)
                else:
                    text = f"{p['name']} {m['name']} 验收报告 {_iso(when)} 结论：合格"
                    content = text.encode()
                title = f"{m['name']}{'现场照片' if kind == 'photo' else '验收报告'}"
                args = {"project": p["id"], "milestone": m["id"], "kind": kind, "title": title}
                b.call(
                    when,
                    1,
                    Operation(dept, "add_evidence", args, _iso(when), content),
                    "ev:" + "/".join(key),
                )
            pay = done + timedelta(days=b.rng.randint(5, 20))
            if pay > b.today:
                break
            main = p["payees"][0]["id"]
            second = p["payees"][1]["id"] if len(p["payees"]) > 1 else ""
            roll = b.rng.random()
            parts: list[tuple[date, str, int]]
            if second and roll < 0.35:
                cut = m["amount_fen"] * 8 // 10
                parts = [(pay, main, cut), (pay, second, m["amount_fen"] - cut)]
            elif roll < 0.65:
                cut = m["amount_fen"] * 7 // 10
                later = pay + timedelta(days=b.rng.randint(60, 120))
                parts = [(pay, main, cut)]
                if later <= b.today:
                    parts.append((later, main, m["amount_fen"] - cut))
                else:  # the retention is not due yet: the instalment may be repeated
                    b.firsts[f"{p['id']}/{m['id']}"] = (p, m, pay, dept, cut)
            else:
                parts = [(pay, main, m["amount_fen"])]
                plain[f"{p['id']}/{m['id']}"] = (p, m, pay, dept, m["amount_fen"])
            for when, payee, amount in parts:
                args = {
                    "project": p["id"],
                    "milestone": m["id"],
                    "payee": payee,
                    "amount_fen": amount,
                    "paid_on": _iso(when),
                    "purpose": f"{m['name']}进度款",
                }
                b.call(
                    when, 2, Operation(dept, "disburse", args, _iso(when)), "pay:" + "/".join(key)
                )
                paid += amount
        p["_paid"] = paid
    return plain


def _inject(b: _Builder, plain: dict[str, Any]) -> None:
    """The payment anomalies: shell payees, missing evidence, repeated payments."""
    keys = sorted(plain)
    b.rng.shuffle(keys)
    used: set[str] = set()
    # isolation_forest: six milestones paid a second time (the same amount to the same
    # payee) a few days later.
    candidates = {**b.firsts, **plain}
    repeats = 0
    for key in sorted(
        candidates, key=lambda k: (k not in plain, keys.index(k) if k in plain else k)
    ):
        p, m, pay, dept, amount = candidates[key]
        if repeats == 6 or p["id"] in used or p["_paid"] + amount > p["budget_fen"]:
            continue
        used.add(p["id"])
        p["_paid"] += amount
        when = pay + timedelta(days=b.rng.randint(2, 9))
        args = {
            "project": p["id"],
            "milestone": m["id"],
            "payee": p["payees"][0]["id"],
            "amount_fen": amount,
            "paid_on": _iso(when),
            "purpose": f"{m['name']}进度款",
        }
        b.call(when, 2, Operation(dept, "disburse", args, _iso(when)), "dup:" + key)
        b.labels.append(("isolation_forest", "dup:" + key, "milestone paid twice"))
        repeats += 1
    # missing_evidence: three milestones never evidenced, three evidenced after the payment.
    for n, key in enumerate([k for k in keys if plain[k][0]["id"] not in used][:6]):
        p, m, pay, dept, _ = plain[key]
        used.add(p["id"])
        kept = []
        for call in b.calls:
            if call[3] == "ev:" + key:
                if n % 2 == 0:
                    continue
                late = pay + timedelta(days=b.rng.randint(20, 40))
                op = call[2]
                call = (
                    _iso(late),
                    1,
                    Operation(op.dept, op.method, op.args, _iso(late), op.content),
                    call[3],
                )
            kept.append(call)
        b.calls = kept
        b.labels.append(
            (
                "missing_evidence",
                "pay:" + key,
                "evidence never notarised"
                if n % 2 == 0
                else "evidence notarised after the payment",
            )
        )
    # shared_payee: each shell company is paid by unrelated projects, by splitting a payment.
    free = [k for k in keys if plain[k][0]["id"] not in used]
    for s in range(3):
        shell = b.payee(["恒达商贸有限公司", "瑞丰咨询服务有限公司", "鑫源建材经营部"][s])
        chosen: list[str] = []
        for key in free:
            p = plain[key][0]
            others = [plain[k][0] for k in chosen]
            if p["id"] in used or any(
                o["category"] == p["category"] or b.owners[o["id"]] == b.owners[p["id"]]
                for o in others
            ):
                continue
            chosen.append(key)
            used.add(p["id"])
            if len(chosen) == 2 + (s == 0):
                break
        for key in chosen:
            p, m, pay, dept, _ = plain[key]
            p["payees"].append(shell)
            for call in b.calls:
                if call[3] == "pay:" + key:
                    cut = m["amount_fen"] * 3 // 4
                    call[2].args["amount_fen"] = cut
                    args = {
                        **call[2].args,
                        "payee": shell["id"],
                        "amount_fen": m["amount_fen"] - cut,
                    }
                    b.call(pay, 2, Operation(dept, "disburse", args, _iso(pay)), "shell:" + key)
        b.labels.append(
            ("shared_payee", shell["id"], f"shell company paid by {len(chosen)} unrelated projects")
        )


def generate(seed: int = SEED, count: int = PROJECTS) -> DemoSet:
    """Return the demo's calls in ledger order, with the injected anomalies."""
    b = _Builder(seed)
    cats = categories()
    _plan(b, cats, count)
    _inflate(b, cats)
    _relate(b)
    plain = _payments(b)
    _inject(b, plain)
    ops: list[Operation] = []
    for p in sorted(b.projects, key=lambda p: p["id"]):
        project = {k: v for k, v in p.items() if not k.startswith("_")}
        ops.append(
            Operation(b.owners[p["id"]], "create_project", {"project": project}, p["start_date"])
        )
    # Ledger order: by date; on one day evidence before payments; then as generated.
    ordered = sorted(enumerate(b.calls), key=lambda ic: (ic[1][0], ic[1][1], ic[0]))
    counters: dict[str, int] = {}
    ids: dict[str, list[str]] = {}
    for _, (_, _, op, mark) in ordered:
        if op.method == "disburse":
            pid = op.args["project"]
            counters[pid] = counters.get(pid, 0) + 1
            ids.setdefault(mark, []).append(f"{pid}-D{counters[pid]:03d}")
        ops.append(op)
    labels = []
    for kind, subject, note in b.labels:
        for ident in ids.get(subject, [subject]) if ":" in subject else [subject]:
            labels.append(Label(kind, ident, note))
    return DemoSet(tuple(ops), tuple(labels), dict(b.names))


def digest_of(hash_fn: Any, op: Operation) -> str:
    """Return the digest an evidence call notarises (the network's hash of its file)."""
    return str(hash_fn(op.content).hex())


def dataset(demo: DemoSet, hash_fn: Any) -> FundsData:
    """Return the fund data the index holds once every call of ``demo`` is committed, one call
    per block (for evaluating the flags without a node; the node tests check the index holds
    the same)."""
    projects = {}
    disbursements = []
    evidence = []
    counters: dict[str, int] = {}
    for height, op in enumerate(demo.operations, start=1):
        a = op.args
        if op.method == "create_project":
            projects[a["project"]["id"]] = project_of({**a["project"], "dept": op.dept})
        elif op.method == "add_evidence":
            evidence.append(
                Evidence(digest_of(hash_fn, op), a["project"], a["milestone"], a["kind"], height, 0)
            )
        elif op.method == "disburse":
            counters[a["project"]] = counters.get(a["project"], 0) + 1
            ident = f"{a['project']}-D{counters[a['project']]:03d}"
            disbursements.append(
                Disbursement(
                    ident,
                    a["project"],
                    a["milestone"],
                    a["payee"],
                    a["amount_fen"],
                    a["paid_on"],
                    height,
                    0,
                )
            )
    return FundsData(len(demo.operations), projects, tuple(disbursements), tuple(evidence))
