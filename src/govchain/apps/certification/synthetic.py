"""Synthetic residents of Hangzhou and what four departments hold about them (fixed seed).

The certification matters are answered from these records: residence permits (public
security), personal social insurance (human resources and social security), the homes a family
owns in the city (housing) and marriage registrations (civil affairs). About two thirds of the
people are migrants (新市民) registered in their home county, the rest have a Hangzhou household
registration; their records follow plausible shares (most migrants hold a valid residence
permit, most working people pay pension insurance, locals more often own homes, older people
are more often married) so that every matter has people who qualify and people who do not, for
each of its conditions. Resident identity numbers carry the region of the household
registration, the birth date, a sequence whose parity is the gender and the GB 11643 check
character. Dates run to ``AS_OF``, the demo's present.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govchain.apps.enterprise.synthetic_pools import (
    FEMALE_GIVEN,
    MALE_GIVEN,
    PHONE_PREFIXES,
    SURNAMES,
)
from govchain.identity.idnumbers import resident_check_char

SEED = 2026
"""Seed of the synthetic residents and their records."""
AS_OF = dt.date(2026, 11, 30)
"""The records' present: permits, contributions and registrations are as of this day."""
CITY = "杭州市"
"""The city the matters are handled in."""
PENSION = "企业职工基本养老保险"
"""The insurance whose continuous months the matters count."""
MEDICAL = "职工基本医疗保险"
"""Paid alongside the pension insurance."""
HOMETOWNS: tuple[tuple[str, str], ...] = (
    ("安徽省临泉县", "341221"),
    ("河南省息县", "411528"),
    ("江西省宁都县", "360730"),
    ("四川省渠县", "511725"),
    ("贵州省毕节市七星关区", "520502"),
    ("湖南省邵东市", "430521"),
    ("江苏省沭阳县", "321322"),
    ("浙江省苍南县", "330327"),
)
"""Home counties of the migrants and their region codes (GB/T 2260)."""
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("上城区", "330102"),
    ("拱墅区", "330105"),
    ("西湖区", "330106"),
    ("滨江区", "330108"),
    ("萧山区", "330109"),
    ("余杭区", "330110"),
)
"""Districts of residence (and of the locals' household registration) with their codes."""
EMPLOYERS = (
    "杭州恒瑞餐饮管理有限公司",
    "杭州鑫达物流有限公司",
    "浙江嘉宏建设工程有限公司",
    "杭州华盛电子科技有限公司",
    "杭州顺通快递服务有限公司",
    "杭州博创软件有限公司",
    "杭州康宁家政服务有限公司",
    "浙江永佳纺织有限公司",
)
"""Employers that pay the contributions (names as the enterprise demo makes them)."""
REGISTRIES = ("杭州市上城区民政局", "杭州市西湖区民政局", "杭州市萧山区民政局", "临泉县民政局")
"""Marriage registries of the synthetic registrations."""
JsonObject = dict[str, Any]
"""A JSON object."""


@dataclass(frozen=True, slots=True)
class Resident:
    """A synthetic person living in Hangzhou."""

    name: str
    """Full name, surname first."""
    gender: str
    """``male`` or ``female`` (the parity of the number's 17th digit)."""
    birth_date: dt.date
    """Date of birth (digits 7-14 of the number)."""
    resident_id: str
    """Resident identity number (GB 11643), region of the household registration."""
    migrant: bool
    """Household registration outside Hangzhou (a 新市民 holding, or not, a residence permit)."""
    hometown: str
    """County of the household registration."""
    district: str
    """District of residence in Hangzhou."""
    phone: str
    """Mobile phone number (11 digits)."""


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A record a department publishes about a person to the data catalogue."""

    resource: str
    """Resource id (its owner is the part before the dot)."""
    record: str
    """Record id, unique in the resource."""
    resident_id: str
    """Resident identity number of the person it is about."""
    data: JsonObject
    """The record's fields."""


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return dt.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _months_before(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` months before ``day``'s month."""
    total = day.year * 12 + day.month - 1 - months
    return dt.date(total // 12, total % 12 + 1, 1)


def _resident(rng: random.Random) -> Resident:
    male = rng.randrange(2) == 0
    name = rng.choices(SURNAMES, weights=range(len(SURNAMES), 0, -1))[0]
    name += "".join(
        rng.choice(MALE_GIVEN if male else FEMALE_GIVEN) for _ in range(rng.choice((1, 2, 2)))
    )
    born = _date(rng, dt.date(1966, 1, 1), dt.date(2004, 12, 31))
    migrant = rng.randrange(3) != 0
    district, district_code = rng.choice(DISTRICTS)
    hometown, region = rng.choice(HOMETOWNS) if migrant else (f"{CITY}{district}", district_code)
    # GB 11643: the 17th digit is odd for men, even for women.
    sequence = rng.randrange(100) * 10 + rng.randrange(5) * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return Resident(
        name=name,
        gender="male" if male else "female",
        birth_date=born,
        resident_id=first17 + resident_check_char(first17),
        migrant=migrant,
        hometown=hometown,
        district=district,
        phone=rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
    )


def residents(n: int, seed: int = SEED) -> list[Resident]:
    """Return ``n`` synthetic residents with distinct resident identity numbers."""
    rng = random.Random(seed)
    out: list[Resident] = []
    seen: set[str] = set()
    while len(out) < n:
        person = _resident(rng)
        if person.resident_id not in seen:
            seen.add(person.resident_id)
            out.append(person)
    return out


def _permit(rng: random.Random, p: Resident, serial: int) -> JsonObject | None:
    """A migrant's residence permit (most are valid, some lapsed, some never applied)."""
    if not p.migrant or rng.randrange(100) < 8:
        return None
    adult = p.birth_date.replace(year=p.birth_date.year + 18, day=min(p.birth_date.day, 28))
    issued = _date(rng, max(dt.date(2016, 1, 1), adult), AS_OF - dt.timedelta(days=30))
    # A permit is endorsed (签注) every year; one not endorsed in time has lapsed.
    lapsed = rng.randrange(100) < 12
    if lapsed:
        until = _date(
            rng, max(issued, AS_OF - dt.timedelta(days=400)), AS_OF - dt.timedelta(days=1)
        )
    else:
        until = _date(rng, AS_OF + dt.timedelta(days=1), AS_OF + dt.timedelta(days=365))
    code = dict(DISTRICTS)[p.district]
    return {
        "permit_number": f"{code}{issued.year}{serial:06d}",
        "city": CITY,
        "district": p.district,
        "issued_on": issued.isoformat(),
        "valid_until": until.isoformat(),
        "status": "过期" if lapsed else "有效",
    }


def _insurance(rng: random.Random, p: Resident) -> list[JsonObject]:
    """Pension and medical insurance paid through an employer (most people work)."""
    if rng.randrange(100) < 10:
        return []
    working_months = max(1, (_age(p.birth_date, AS_OF) - 18) * 12)
    months = min(working_months, int(rng.triangular(1, 180, 30)))
    paying = rng.randrange(100) < 88
    employer = rng.choice(EMPLOYERS)
    first = _months_before(AS_OF, months)
    return [
        {
            "insurance": insurance,
            "status": "正常缴费" if paying else "暂停缴费",
            "first_month": first.isoformat(),
            # A break ends the continuous count: a paused account counts the months before it.
            "months": months,
            "employer": employer,
        }
        for insurance in (PENSION, MEDICAL)
    ]


def _homes(rng: random.Random, p: Resident) -> list[JsonObject]:
    """Homes (and sometimes a parking space) the person's family owns or bought in the city."""
    weights = (80, 17, 3, 0) if p.migrant else (22, 50, 22, 6)
    count = rng.choices((0, 1, 2, 3), weights=weights)[0]
    out = []
    for _ in range(count):
        day = _date(rng, dt.date(2005, 1, 1), AS_OF)
        district = rng.choice(DISTRICTS)[0]
        contract = rng.randrange(100) < 15 and day.year >= 2024
        number = (
            f"HZ{day.year}{rng.randrange(10**7):07d}"
            if contract
            else f"浙({day.year}){CITY}不动产权第{rng.randrange(10**7):07d}号"
        )
        out.append(
            {
                "certificate": number,
                "city": CITY,
                "district": district,
                "use": "住宅",
                "source": "网签备案" if contract else "不动产登记",
                "area_m2": rng.randint(45, 160),
                "registered_on": day.isoformat(),
            }
        )
    if out and rng.randrange(100) < 30:
        day = _date(rng, dt.date(2010, 1, 1), AS_OF)
        out.append(
            {
                "certificate": f"浙({day.year}){CITY}不动产权第{rng.randrange(10**7):07d}号",
                "city": CITY,
                "district": out[0]["district"],
                "use": "车位",
                "source": "不动产登记",
                "area_m2": rng.randint(12, 16),
                "registered_on": day.isoformat(),
            }
        )
    return out


def _marriages(rng: random.Random, p: Resident) -> list[JsonObject]:
    """Marriage and divorce registrations: the older, the more often married."""
    age = _age(p.birth_date, AS_OF)
    legal = 22 if p.gender == "male" else 20
    married_share = 0 if age < legal else 15 if age < 25 else 55 if age < 30 else 85
    if rng.randrange(100) >= married_share:
        return []
    first_possible = p.birth_date.replace(
        year=p.birth_date.year + legal, day=min(p.birth_date.day, 28)
    )
    wed = _date(rng, first_possible, min(AS_OF, first_possible + dt.timedelta(days=365 * 12)))
    registry = rng.choice(REGISTRIES)
    wedding = {
        "kind": "结婚",
        "certificate": f"J{dict(DISTRICTS)[p.district]}-{wed.year}-{rng.randrange(10**6):06d}",
        "registered_on": wed.isoformat(),
        "registry": registry,
        "current": True,
    }
    if rng.randrange(100) >= 12 or wed >= AS_OF - dt.timedelta(days=60):
        return [wedding]
    split = _date(rng, wed + dt.timedelta(days=30), AS_OF)
    divorce = {
        "kind": "离婚",
        "certificate": f"L{dict(DISTRICTS)[p.district]}-{split.year}-{rng.randrange(10**6):06d}",
        "registered_on": split.isoformat(),
        "registry": registry,
        "current": False,
    }
    return [{**wedding, "current": False}, divorce]


def department_records(people: Sequence[Resident], seed: int = SEED) -> list[PersonRecord]:
    """Return what the departments hold about ``people``, in the people's order (the same
    people and seed give the same records)."""
    rng = random.Random(seed * 7919 + len(people))
    out: list[PersonRecord] = []
    for n, p in enumerate(people, start=1):
        permit = _permit(rng, p, n)
        if permit is not None:
            out.append(
                PersonRecord(
                    "public_security.residence_permits", f"RP{n:07d}", p.resident_id, permit
                )
            )
        for k, data in enumerate(_insurance(rng, p)):
            out.append(
                PersonRecord("hrss.personal_insurance", f"SI{n:07d}-{k}", p.resident_id, data)
            )
        for k, data in enumerate(_homes(rng, p)):
            out.append(PersonRecord("housing.family_homes", f"FH{n:07d}-{k}", p.resident_id, data))
        for k, data in enumerate(_marriages(rng, p)):
            out.append(
                PersonRecord(
                    "civil_affairs.marriage_registrations", f"MR{n:07d}-{k}", p.resident_id, data
                )
            )
    return out
