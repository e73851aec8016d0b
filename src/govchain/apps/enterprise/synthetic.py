"""Synthetic citizens and enterprises of Hangzhou for the demo (fixed seed, no network).

Everything is drawn from ``random.Random(seed)``, so one seed always gives the same people and
companies. The data is realistic in shape, not in fact: common surnames and given names,
resident identity numbers with valid GB 11643 check digits, names that pass the enterprise name
check, GB/T 4754 industry codes weighted towards the sectors most new companies are in, business
scopes worded like real ones, and money in integer fen. Amounts that span orders of magnitude
(capital, staff) are log-uniform, drawn with integer arithmetic only.

The unified social credit code is not made here: the registry issues it. Each enterprise has
the ``serial`` it gets in its district, so ``issue_uscc(e.division_code, e.serial)`` gives the
code the registry would issue when the enterprises are registered in the generated order.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from govchain.apps.enterprise.synthetic_pools import (
    DISTRICT_WEIGHTS,
    FEMALE_GIVEN,
    MALE_GIVEN,
    PHONE_PREFIXES,
    PROFILES,
    STREETS,
    SURNAMES,
    TRADE_CHARACTERS,
    Profile,
)
from govchain.errors import Conflict, SchemaViolation
from govchain.identity.idnumbers import resident_check_char
from govchain.procedures.names import HANGZHOU_DIVISIONS, NameRefused, check_name, name_key

BORN_FROM, BORN_UNTIL = dt.date(1950, 1, 1), dt.date(2005, 12, 31)
"""Range of citizens' birth dates."""
ESTABLISHED_FROM, ESTABLISHED_UNTIL = dt.date(2000, 1, 1), dt.date(2026, 6, 30)
"""Range of enterprises' establishment dates."""
_NAME_TRIES = 1000
"""Names drawn for one company before giving up (the pools allow some 200,000 trade names)."""
JsonRecord = dict[str, str | int | bool]
"""A record as JSON: text, integers and booleans only."""

# Resident numbers keep the code of the place of first registration: the two districts formed
# in 2021 had none, so their residents carry the codes of the districts they were cut from.
_ID_REGION = {**HANGZHOU_DIVISIONS, "临平区": "330110", "钱塘区": "330104"}


@dataclass(frozen=True, slots=True)
class Citizen:
    """A synthetic resident of Hangzhou."""

    name: str
    """Full name, surname first."""
    gender: str
    """``male`` or ``female`` (matches the parity of the number's 17th digit)."""
    birth_date: dt.date
    """Date of birth (also digits 7-14 of the number)."""
    resident_id: str
    """Resident identity number (GB 11643) with a Hangzhou region code."""
    phone: str
    """Mobile phone number (11 digits)."""
    district: str
    """District or county of residence."""
    address: str
    """Home address."""

    def to_json(self) -> JsonRecord:
        """Return the record as JSON values (dates in ISO form)."""
        out: JsonRecord = {k: v for k, v in asdict(self).items() if isinstance(v, str)}
        out["birth_date"] = self.birth_date.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class SyntheticEnterprise:
    """A synthetic company of Hangzhou, as it would apply for registration."""

    name: str
    """Enterprise name; passes ``procedures.names.check_name``."""
    name_key: str
    """Its uniqueness key in the registration area."""
    industry: str
    """GB/T 4754-2017 class or division code."""
    form: str
    """Organisational form (``有限公司`` ...)."""
    district: str
    """District or county where it is located and registered."""
    division_code: str
    """GB/T 2260 code of that district (characters 3-8 of its future USCC)."""
    serial: int
    """Its number among the generated enterprises of the district, from 1 (for ``issue_uscc``)."""
    address: str
    """Registered address."""
    registered_capital_fen: int
    """Registered capital (subscribed), in fen."""
    legal_representative: str
    """Name of the legal representative."""
    legal_representative_id: str
    """Resident identity number of the legal representative (one of the citizens)."""
    established: dt.date
    """Date of establishment."""
    business_scope: str
    """Business scope (经营范围), items separated by ``；``."""
    employees: int
    """Number of employees."""
    annual_revenue_fen: int
    """Annual operating revenue, in fen."""
    tax_paid_fen: int
    """Taxes paid in the year, in fen."""

    def to_json(self) -> JsonRecord:
        """Return the record as JSON values (dates in ISO form)."""
        out: JsonRecord = {k: v for k, v in asdict(self).items() if isinstance(v, str | int | bool)}
        out["established"] = self.established.isoformat()
        return out


def log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    """Draw an integer of ``[lo, hi]`` with probability proportional to 1/x, using integers
    only: pick one of the octaves [lo·2^k, lo·2^(k+1)) meeting the range, then a value x in it
    kept with probability (octave start)/x. An octave cut off by ``hi`` is kept in proportion to
    the part of it inside the range, so every x ends up with weight 1/x."""
    if not 0 < lo <= hi:
        raise SchemaViolation(f"log_uniform needs 0 < lo <= hi, not {lo}, {hi}", field="range")
    octaves = (hi // lo).bit_length()
    while True:
        start = lo << rng.randrange(octaves)
        end = min(2 * start, hi + 1)
        # With a single octave there is nothing to weigh it against.
        if octaves > 1 and rng.randrange(start) >= end - start:
            continue
        x = rng.randrange(start, end)
        if rng.randrange(x) < start:
            return x


def _adult(born: dt.date) -> dt.date:
    """The day someone born on ``born`` turns 18 (1 March for those born on 29 February)."""
    try:
        return born.replace(year=born.year + 18)
    except ValueError:
        return dt.date(born.year + 18, 3, 1)


def _date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day of ``[first, last]``, uniformly."""
    return dt.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _address(rng: random.Random, district: str) -> str:
    """A street address in ``district`` (sometimes with building and room)."""
    city = "" if district.endswith("市") else "杭州市"
    number = f"{rng.randint(1, 999)}号"
    if rng.randrange(3) == 0:
        number += f"{rng.randint(1, 12)}幢{rng.randint(1, 30)}{rng.randint(1, 20):02d}室"
    return f"浙江省{city}{district}{rng.choice(STREETS[district])}{number}"


def _district(rng: random.Random) -> str:
    """A district, weighted by how many people and companies it has."""
    return rng.choices(tuple(DISTRICT_WEIGHTS), weights=tuple(DISTRICT_WEIGHTS.values()))[0]


def _citizen(rng: random.Random) -> Citizen:
    """One synthetic resident."""
    male = rng.randrange(2) == 0
    given = MALE_GIVEN if male else FEMALE_GIVEN
    name = rng.choices(SURNAMES, weights=range(len(SURNAMES), 0, -1))[0]
    name += "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
    born = _date(rng, BORN_FROM, BORN_UNTIL)
    district = _district(rng)
    # GB 11643: the 17th digit is odd for men, even for women.
    sequence = rng.randrange(100) * 10 + rng.randrange(5) * 2 + (1 if male else 0)
    first17 = f"{_ID_REGION[district]}{born:%Y%m%d}{sequence:03d}"
    return Citizen(
        name=name,
        gender="male" if male else "female",
        birth_date=born,
        resident_id=first17 + resident_check_char(first17),
        phone=rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
        district=district,
        address=_address(rng, district),
    )


def citizens(n: int, seed: int) -> list[Citizen]:
    """Return ``n`` synthetic citizens with distinct resident identity numbers."""
    rng = random.Random(seed)
    out: list[Citizen] = []
    seen: set[str] = set()
    while len(out) < n:
        person = _citizen(rng)
        if person.resident_id not in seen:
            seen.add(person.resident_id)
            out.append(person)
    return out


def _name(rng: random.Random, profile: Profile, district: str, form: str) -> str:
    """A candidate name: division, a two- or three-character trade name, industry words, form.
    A district is named after its city; the city may also follow the trade name in brackets."""
    trade = "".join(rng.sample(TRADE_CHARACTERS, rng.choice((2, 2, 2, 2, 3))))
    words = rng.choice(profile.words)
    spellings: tuple[str, ...]
    weights: tuple[int, ...]
    if district.endswith("区"):
        spellings, weights = ("杭州", "杭州市", f"杭州市{district}", "（杭州）"), (5, 2, 2, 1)
    else:
        spellings, weights = (district[:-1], district, "杭州"), (2, 1, 1)
    division = rng.choices(spellings, weights=weights)[0]
    if division.startswith("（"):
        return f"{trade}{division}{words}{form}"
    return f"{division}{trade}{words}{form}"


def _enterprise(
    rng: random.Random, people: Sequence[Citizen], taken: set[str], serials: dict[str, int]
) -> SyntheticEnterprise:
    """One synthetic company; records its name key in ``taken`` and its district serial."""
    profile = rng.choices(PROFILES, weights=[p.weight for p in PROFILES])[0]
    district = _district(rng)
    capital_wan = log_uniform(rng, *profile.capital_wan)
    form = rng.choices(("有限公司", "有限责任公司", "股份有限公司"), weights=(15, 4, 1))[0]
    if form == "股份有限公司" and capital_wan < 500:
        form = "有限公司"  # joint-stock companies are the larger ones
    for _ in range(_NAME_TRIES):  # draw names until one passes the check and is free
        name = _name(rng, profile, district, form)
        try:
            parts = check_name(name, HANGZHOU_DIVISIONS, taken)
        except NameRefused:
            continue
        break
    else:
        raise Conflict(f"no free name found for a {profile.industry} company", field="name")
    key = name_key(parts)
    taken.add(key)
    rep = rng.choice(people)
    established = _date(rng, max(ESTABLISHED_FROM, _adult(rep.birth_date)), ESTABLISHED_UNTIL)
    code = HANGZHOU_DIVISIONS[district]
    serials[code] = serials.get(code, 0) + 1
    employees = log_uniform(rng, *profile.employees)
    revenue = employees * rng.randint(*profile.revenue_per_employee_wan) * 10_000 * 100
    extra = sorted(rng.sample(range(1, len(profile.scope)), rng.randint(2, len(profile.scope) - 1)))
    return SyntheticEnterprise(
        name=name,
        name_key=key,
        industry=profile.industry,
        form=form,
        district=district,
        division_code=code,
        serial=serials[code],
        address=_address(rng, district),
        registered_capital_fen=capital_wan * 10_000 * 100,
        legal_representative=rep.name,
        legal_representative_id=rep.resident_id,
        established=established,
        business_scope="；".join(profile.scope[i] for i in [0, *extra]),
        employees=employees,
        annual_revenue_fen=revenue,
        tax_paid_fen=revenue * rng.randint(*profile.tax_bps) // 10_000,
    )


def enterprises(n: int, seed: int, citizens: Sequence[Citizen]) -> list[SyntheticEnterprise]:
    """Return ``n`` synthetic enterprises with distinct names (unique in the registration
    area), their legal representatives drawn from ``citizens`` (adult when they were set up)."""
    if not citizens:
        raise SchemaViolation("enterprises need at least one citizen", field="citizens")
    rng = random.Random(seed)
    taken: set[str] = set()
    serials: dict[str, int] = {}
    return [_enterprise(rng, citizens, taken, serials) for _ in range(n)]
