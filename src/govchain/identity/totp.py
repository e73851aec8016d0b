"""One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238), the optional second factor of staff.

Secrets are random 20-byte keys shown to the user once as base32 (``otpauth://`` URI).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote

STEP_S = 30
"""Time step (RFC 6238 default)."""
DIGITS = 6
"""Digits of a code shown by authenticator apps."""
WINDOW = 1
"""Steps before and after the current one that are still accepted (clock drift)."""


def hotp(key: bytes, counter: int, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """Return the HOTP value of ``counter`` (RFC 4226 section 5.3, dynamic truncation)."""
    mac = hmac.new(key, struct.pack(">Q", counter), algorithm).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(
    key: bytes, unix_time: int, digits: int = DIGITS, algorithm: str = "sha1", step: int = STEP_S
) -> str:
    """Return the TOTP value at ``unix_time`` (RFC 6238: HOTP of ``floor(t / step)``)."""
    return hotp(key, unix_time // step, digits, algorithm)


def match_step(key: bytes, code: str, unix_time: int, last_step: int) -> int | None:
    """Return the time step ``code`` is valid for (within ``WINDOW`` steps of now and after
    ``last_step``, so a code is accepted once), or ``None``."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = unix_time // STEP_S
    for step in range(now - WINDOW, now + WINDOW + 1):
        if step > last_step and hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def new_secret() -> bytes:
    """Return a fresh random 160-bit TOTP key (RFC 4226 recommends 160 bits)."""
    return secrets.token_bytes(20)


def secret_base32(key: bytes) -> str:
    """Return the key as authenticator apps take it (base32, no padding)."""
    return base64.b32encode(key).decode().rstrip("=")


def provisioning_uri(key: bytes, account: str, issuer: str) -> str:
    """Return the ``otpauth://totp/...`` URI that authenticator apps import (as a QR code)."""
    label = quote(f"{issuer}:{account}")
    return (
        f"otpauth://totp/{label}?secret={secret_base32(key)}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"
    )
