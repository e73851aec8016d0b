"""Crypto suites, chosen once per network at genesis: ``intl`` and ``gm``."""

from __future__ import annotations

import threading

from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import SchemaViolation

__all__ = ["SUITE_NAMES", "CryptoSuite", "KeyPair", "get_suite"]

SUITE_NAMES = ("intl", "gm")
"""Every suite name a genesis may choose."""

_suites: dict[str, CryptoSuite] = {}
_suites_lock = threading.Lock()


def _build(name: str) -> CryptoSuite:
    # Imported on demand so that an ``intl`` network never loads tongsuopy.
    if name == "intl":
        from govchain.crypto.intl import IntlSuite

        return IntlSuite()
    from govchain.crypto.gm import GmSuite

    return GmSuite()


def get_suite(name: str) -> CryptoSuite:
    """Return the one shared instance of the suite called ``name`` (``"intl"`` or ``"gm"``).

    Raises ``SchemaViolation`` for any other name.
    """
    suite = _suites.get(name)
    if suite is not None:
        return suite
    if name not in SUITE_NAMES:
        raise SchemaViolation(
            f"unknown crypto suite {name!r}", field="suite", allowed=list(SUITE_NAMES)
        )
    with _suites_lock:
        suite = _suites.get(name)
        if suite is None:
            suite = _build(name)
            _suites[name] = suite
    return suite
