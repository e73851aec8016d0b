"""Password hashing (Argon2id, argon2-cffi) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from govchain.errors import WeakPassword

MIN_LENGTH = 10
"""Shortest accepted password."""
MAX_LENGTH = 256
"""Longest accepted password (bounds the hashing work an attacker can ask for)."""

# OWASP's Argon2id setting (19 MiB, 2 passes, 1 lane): ~20-40 ms here, inside the 100 ms
# login budget, while each guess costs an attacker the same memory.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

DUMMY_HASH = _HASHER.hash("govchain: timing equaliser for unknown login names")
"""Verified against when a login name is unknown, so both cases take the same time."""


def check_policy(password: str) -> None:
    """Raise ``WeakPassword`` unless ``password`` is 10-256 characters with letters and digits."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(
            f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters", reason="length"
        )
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise WeakPassword("a password needs both letters and digits", reason="composition")


def hash_password(password: str) -> str:
    """Return the Argon2id hash (PHC string with its salt and parameters) of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``stored_hash`` (never raises on a mismatch)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Return whether a stored hash uses weaker parameters than the current ones."""
    return _HASHER.check_needs_rehash(stored_hash)
