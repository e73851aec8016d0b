"""HOTP and TOTP against the RFCs' published test vectors."""

from __future__ import annotations

import pytest

from govchain.identity import totp

# RFC 4226 appendix D: secret "12345678901234567890", counters 0..9.
HOTP_VECTORS = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

# RFC 6238 appendix B: 8 digits, seeds of 20 / 32 / 64 bytes for SHA-1 / SHA-256 / SHA-512.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
TOTP_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(HOTP_VECTORS)))
def test_hotp_rfc4226(counter: int, expected: str) -> None:
    assert totp.hotp(SEEDS["sha1"], counter) == expected


@pytest.mark.parametrize(("t", "sha1", "sha256", "sha512"), TOTP_VECTORS)
def test_totp_rfc6238(t: int, sha1: str, sha256: str, sha512: str) -> None:
    for alg, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp.totp(SEEDS[alg], t, digits=8, algorithm=alg) == expected


def test_match_step_window_and_single_use() -> None:
    key = totp.new_secret()
    now = 1_700_000_000
    code = totp.totp(key, now)
    step = totp.match_step(key, code, now, -1)
    assert step == now // 30
    assert totp.match_step(key, code, now + 30, -1) == step  # one step of drift is fine
    assert totp.match_step(key, code, now + 90, -1) is None  # too old
    assert totp.match_step(key, code, now, step) is None  # already used
    assert totp.match_step(key, "12345", now, -1) is None
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    assert totp.match_step(key, wrong, now, -1) is None


def test_provisioning_uri() -> None:
    key = bytes(range(20))
    uri = totp.provisioning_uri(key, "tax/zhang", "govchain")
    assert uri.startswith(
        "otpauth://totp/govchain%3Atax/zhang?secret=AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT"
    )
    assert "digits=6" in uri and "period=30" in uri
