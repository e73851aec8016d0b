"""Contract packages: the files of a contract, their code hash, and where the lifecycle keeps
packages, proposals, approvals and committed definitions in state."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from govchain.contracts.errors import BadArguments
from govchain.ledger.encoding import canonical_bytes

LIFECYCLE = "lifecycle"
"""Name of the lifecycle system contract."""
NAMESPACE = b"sys/lifecycle/"
"""State-key prefix of everything the lifecycle contract stores."""
ENTRY_FILE = "contract.py"
"""The module of a package that defines the contract class."""
MAX_PACKAGE_CHARS = 48 * 1024
"""Largest package (sum of file sizes); the whole package travels in one transaction."""
DEFAULT_BUDGET = 200_000
"""Steps a call may use unless the definition sets another budget."""
MAX_BUDGET = 5_000_000
"""Largest budget a definition may set."""

_NAME = re.compile(r"[a-z][a-z0-9_]{1,31}\Z")
_FILE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}\.(py|md|txt)\Z")

HashFn = Callable[[bytes], bytes]


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid contract name (``BadArguments`` if not)."""
    if type(name) is not str or not _NAME.match(name):
        raise BadArguments(
            f"contract name {name!r} must be 2 to 32 characters: a-z, 0-9, _ (starting with a "
            "letter)"
        )
    return name


def check_files(files: Mapping[str, Any]) -> dict[str, str]:
    """Validate a package's files: ``contract.py`` plus optional ``.py`` / ``.md`` / ``.txt``."""
    if type(files) is not dict or ENTRY_FILE not in files:
        raise BadArguments(f"a package is an object of files and must contain {ENTRY_FILE}")
    total = 0
    for path, text in files.items():
        if not _FILE.match(path):
            raise BadArguments(f"package file name {path!r} is not acceptable")
        if type(text) is not str:
            raise BadArguments(f"package file {path!r} must be text")
        total += len(text)
    if total > MAX_PACKAGE_CHARS:
        raise BadArguments(f"package is {total} characters; the limit is {MAX_PACKAGE_CHARS}")
    return dict(files)


def package_bytes(files: Mapping[str, str]) -> bytes:
    """Return the canonical stored form of a package."""
    return canonical_bytes({"files": dict(files)})


def code_hash(h: HashFn, files: Mapping[str, str]) -> str:
    """Return the code hash (hex) of a package: the hash of its canonical form."""
    return h(package_bytes(files)).hex()


def definition_key(name: str) -> bytes:
    """State key of a committed contract definition."""
    return NAMESPACE + b"def/" + name.encode()


def package_key(digest: str) -> bytes:
    """State key of an installed package, by code hash."""
    return NAMESPACE + b"code/" + digest.encode()


def proposal_key(name: str, version: int) -> bytes:
    """State key of a proposal (an installed, not yet committed version)."""
    return NAMESPACE + f"proposal/{name}/{version:08d}".encode()
