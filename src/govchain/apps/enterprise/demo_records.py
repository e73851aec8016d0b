"""The departments' records about the demo's enterprises: what the deregistration checks read.

Tax arrears and invoices (tax), social insurance accounts (hrss), customs declarations
(customs), administrative penalties and the abnormal-operation list (market), in plausible
shares of a city's register and amounts in integer fen, drawn from a fixed seed. The
enterprises ``DEREGISTRATIONS`` names get exactly the records their planned case needs: none
that blocks a check, or the one that blocks their check. Dates run to late 2026, the demo's
present.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govchain.apps.enterprise.synthetic import SyntheticEnterprise, log_uniform

SEED = 2026
"""Seed of the synthetic people, enterprises and records."""
RECORDS_UNTIL = dt.date(2026, 11, 30)
"""Latest date of a record (the demo's present)."""
JsonObject = dict[str, Any]
"""A JSON object."""


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
        due = _past_day(rng, self.since, RECORDS_UNTIL - dt.timedelta(days=30)).replace(day=15)
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
        year = _past_day(self.rng, self.since, RECORDS_UNTIL).year
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
        year = _past_day(rng, self.since, RECORDS_UNTIL).year
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
        year = _past_day(rng, self.since, RECORDS_UNTIL).year
        self.add(
            "market.penalties",
            {
                "decision": f"杭市监处罚〔{year}〕{rng.randint(1, 2999)}号",
                "fine_fen": log_uniform(rng, 200_000, 20_000_000),
                "closed": closed,
            },
        )

    def abnormal(self, removed: bool) -> None:
        listed = _past_day(self.rng, self.since, RECORDS_UNTIL - dt.timedelta(days=60))
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
    rng = random.Random(SEED * 31 + 7)  # apart from the people's and companies' draws
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
