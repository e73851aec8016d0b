"""Where data sharing keeps things in the ledger state (all under ``c/sharing/``).

=====================================================  =========================================
``c/sharing/key/<dept>``                               a department's published agreement key
``c/sharing/res/<resource>``                           a catalogue resource
``c/sharing/rec/<resource>/<record>``                  a record's ciphertext hash, subject
                                                       reference and erasure proof
``c/sharing/grant/<grant>``                            a grant
``c/sharing/read/<subject ref>/<request id>``          a read log entry (access receipt)
``c/sharing/att/<subject ref>/<attestation>``          an attestation about a subject
=====================================================  =========================================

Subjects (citizens, enterprises) never appear in clear on-chain: a **subject reference** is
the hex hash of ``SUBJECT_DOMAIN || chain || subject``. It is pseudonymous, not anonymous
(identity numbers are guessable), which is why the read-log listing is a query a citizen makes
about themself.
"""

from __future__ import annotations

from govchain.crypto.suite import CryptoSuite
from govchain.types import DeptId

PREFIX = b"c/sharing/"
"""State prefix of everything in this module."""
SUBJECT_DOMAIN = b"govchain/sharing/subject/v1\x00"
"""Hash prefix of subject references."""


def subject_ref(suite: CryptoSuite, chain: str, subject: str) -> str:
    """Return the pseudonymous on-chain reference of a subject id."""
    return suite.hash(SUBJECT_DOMAIN + chain.encode() + b"\x00" + subject.encode()).hex()


def agreement_key(dept: DeptId) -> bytes:
    """State key of a department's agreement key."""
    return PREFIX + b"key/" + dept.encode()


def resource_key(resource: str) -> bytes:
    """State key of a resource."""
    return PREFIX + b"res/" + resource.encode()


RESOURCES = PREFIX + b"res/"
"""Prefix of every resource."""


def record_key(resource: str, record: str) -> bytes:
    """State key of a record's on-chain entry."""
    return PREFIX + b"rec/" + resource.encode() + b"/" + record.encode()


def grant_key(grant: str) -> bytes:
    """State key of a grant."""
    return PREFIX + b"grant/" + grant.encode()


GRANTS = PREFIX + b"grant/"
"""Prefix of every grant."""


def read_key(subject: str, request_id: str) -> bytes:
    """State key of a read log entry (``subject`` is a subject reference)."""
    return PREFIX + b"read/" + subject.encode() + b"/" + request_id.encode()


def reads_of(subject: str) -> bytes:
    """Prefix of a subject's read log entries."""
    return PREFIX + b"read/" + subject.encode() + b"/"


def attestation_key(subject: str, att: str) -> bytes:
    """State key of an attestation about a subject (``subject`` is a subject reference): one
    key serves both the lookup (which needs the subject) and the subject's listing."""
    return PREFIX + b"att/" + subject.encode() + b"/" + att.encode()


def attestations_of(subject: str) -> bytes:
    """Prefix of a subject's attestations."""
    return PREFIX + b"att/" + subject.encode() + b"/"
