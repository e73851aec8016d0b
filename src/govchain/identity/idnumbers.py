"""Check digits of Chinese identity numbers.

* Resident identity number (公民身份号码, GB 11643-1999): 6-digit region code, 8-digit birth
  date, 3-digit sequence, and an ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``).
* Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a 31-symbol
  alphabet (no I, O, S, V, Z); the last is a MOD 31 check character.

Each validator returns the normalised number or raises ``InvalidIdentityNumber`` with the reason.
"""

from __future__ import annotations

import datetime as _dt

from govchain.errors import InvalidIdentityNumber

_RESIDENT_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
"""ISO 7064 MOD 11-2 weights 2^(17-i) mod 11: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2."""
_RESIDENT_CHECK = "10X98765432"
"""Check character for (weighted sum mod 11)."""

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 symbols of GB 32100 (value = position)."""
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""GB 32100 weights 3^i mod 31: 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28."""


def resident_check_char(first17: str) -> str:
    """Return the check character of the first 17 digits of a resident identity number."""
    total = sum(int(c) * w for c, w in zip(first17, _RESIDENT_WEIGHTS, strict=True))
    return _RESIDENT_CHECK[total % 11]


def validate_resident_id(number: str) -> str:
    """Return ``number`` (upper-case ``X``) if it is a valid 18-character resident identity
    number; otherwise raise ``InvalidIdentityNumber`` naming what is wrong."""
    n = number.strip().upper()
    if len(n) != 18:
        raise InvalidIdentityNumber(
            f"a resident identity number has 18 characters, not {len(n)}", reason="length"
        )
    if not n[:17].isascii() or not n[:17].isdigit():
        raise InvalidIdentityNumber(
            "the first 17 characters of a resident identity number must be digits",
            reason="characters",
        )
    if not (n[17].isdigit() or n[17] == "X"):
        raise InvalidIdentityNumber(
            "the last character of a resident identity number must be a digit or X",
            reason="characters",
        )
    if n[0] not in "12345678":
        raise InvalidIdentityNumber(
            f"region code {n[:6]} is not a valid administrative division code", reason="region"
        )
    try:
        born = _dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        raise InvalidIdentityNumber(
            f"birth date {n[6:14]} is not a calendar date", reason="birth_date"
        ) from None
    if born.year < 1800 or born > _dt.date.today():
        raise InvalidIdentityNumber(f"birth date {n[6:14]} is out of range", reason="birth_date")
    expected = resident_check_char(n[:17])
    if n[17] != expected:
        raise InvalidIdentityNumber(
            "the check digit of the resident identity number is wrong (GB 11643)",
            reason="check_digit",
        )
    return n


def uscc_check_char(first17: str) -> str:
    """Return the check character of the first 17 characters of a unified social credit code."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return ``code`` (upper-case) if it is a valid unified social credit code; otherwise raise
    ``InvalidIdentityNumber`` naming what is wrong."""
    c = code.strip().upper()
    if len(c) != 18:
        raise InvalidIdentityNumber(
            f"a unified social credit code has 18 characters, not {len(c)}", reason="length"
        )
    bad = sorted({ch for ch in c if ch not in USCC_ALPHABET})
    if bad:
        raise InvalidIdentityNumber(
            "a unified social credit code uses digits and the letters ABCDEFGHJKLMNPQRTUWXY only",
            reason="characters",
        )
    if not c[2:8].isdigit():
        raise InvalidIdentityNumber(
            "characters 3 to 8 of a unified social credit code are the region code (digits)",
            reason="region",
        )
    if c[17] != uscc_check_char(c[:17]):
        raise InvalidIdentityNumber(
            "the check character of the unified social credit code is wrong (GB 32100)",
            reason="check_digit",
        )
    return c
