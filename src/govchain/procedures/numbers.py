"""Case numbers people can read and say on the phone: ``20261207-00042-7``.

Date of submission (China Standard Time), the day's serial number, and an ISO 7064 MOD 11-10
check digit over the 13 digits, so a number misheard by one digit, or with two neighbouring
digits swapped, is caught before anyone looks it up.
"""

from __future__ import annotations

import re

from govchain.errors import SchemaViolation

MAX_SERIAL = 99_999
"""Cases one network numbers per day."""
_FORMAT = re.compile(r"(\d{8})-(\d{5})-(\d)\Z")


def mod11_10(digits: str) -> str:
    """Return the ISO 7064 MOD 11-10 check digit of a string of digits."""
    p = 10
    for c in digits:
        s = (p + int(c)) % 10 or 10
        p = (2 * s) % 11
    return str((11 - p) % 10)


def case_number(day: str, serial: int) -> str:
    """Return the number of the ``serial``-th case (from 1) of ``day`` (``YYYYMMDD``)."""
    if not 1 <= serial <= MAX_SERIAL:
        raise SchemaViolation(f"a day has at most {MAX_SERIAL} case numbers", field="serial")
    body = f"{day}{serial:05d}"
    return f"{day}-{serial:05d}-{mod11_10(body)}"


def validate_case_number(number: str) -> str:
    """Return ``number`` (spaces removed) if it is well formed with a correct check digit."""
    n = number.replace(" ", "")
    m = _FORMAT.match(n)
    if m is None:
        raise SchemaViolation("a case number looks like 20261207-00042-7", field="case")
    if mod11_10(m.group(1) + m.group(2)) != m.group(3):
        raise SchemaViolation(
            f"case number {n} has a wrong check digit: check it was read correctly", field="case"
        )
    return n
