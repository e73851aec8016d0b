"""Scanning log text for secrets (used by tests/conftest.py at the end of the run)."""

from __future__ import annotations


def find_leaks(text: str, secrets: set[str], where: str) -> list[str]:
    """Return one line per log line of ``text`` that contains one of ``secrets`` (the secret
    itself is not repeated: only its length and first characters)."""
    return [
        f"{where}:{n}: a secret ({len(s)} chars, starting {s[:4]!r}) is in this log line"
        for s in secrets
        for n, line in enumerate(text.splitlines(), 1)
        if s in line
    ]
