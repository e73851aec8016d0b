"""Department agreement keys on disk.

``govchain init`` writes ``<network>/departments/<dept>/agreement.key`` next to the node key
(mode 0600, JSON ``{"id", "suite", "usage": "agreement", "private", "public"}``). The public
half is published on-chain (contract ``sharing.keys``) by the department's admin; the private
half never leaves the file and the department's node.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from govchain.crypto import get_suite
from govchain.crypto.suite import KeyPair
from govchain.errors import NotFound, SchemaViolation
from govchain.ledger.encoding import canonical_unchecked, decode
from govchain.types import DeptId

FILE_NAME = "agreement.key"
"""Name of the key file in a department's directory."""
SHARING_MEMBER = "sharing"
"""Member name (``<dept>/sharing``, role ``service``) whose key a department's node signs
data-sharing transactions with; ``govchain init`` creates it."""


def agreement_key_path(network: Path, dept: DeptId) -> Path:
    """Return where a department's agreement key lives in a network directory."""
    return Path(network) / "departments" / dept / FILE_NAME


def write_agreement_key(path: Path, dept: DeptId, suite_name: str, kp: KeyPair) -> None:
    """Write an agreement key file readable by its owner only (refuses to overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = canonical_unchecked(
        {
            "id": dept,
            "suite": suite_name,
            "usage": "agreement",
            "private": kp.private.hex(),
            "public": kp.public.hex(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data + b"\n")
        f.flush()
        os.fsync(f.fileno())


def read_agreement_key(path: Path, suite_name: str) -> KeyPair:
    """Read an agreement key file of the network's suite."""
    try:
        obj = decode(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"agreement key {path} does not exist") from None
    try:
        if obj["suite"] != suite_name or obj.get("usage") != "agreement":
            raise SchemaViolation(f"{path} is not a {suite_name} agreement key")
        kp = KeyPair(private=bytes.fromhex(obj["private"]), public=bytes.fromhex(obj["public"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaViolation(f"agreement key file {path} is malformed: {exc}") from None
    # The pair must agree with itself both ways round, which a mismatched public key cannot.
    suite = get_suite(suite_name)
    probe = get_suite(suite_name).agreement_keypair()
    if suite.agree(kp.private, probe.public, b"check") != suite.agree(
        probe.private, kp.public, b"check"
    ):
        raise SchemaViolation(f"agreement key file {path}: public key does not match private key")
    return kp


def ensure_agreement_key(network: Path, dept: DeptId, suite_name: str) -> KeyPair:
    """Return a department's agreement key, creating the file if it does not exist yet
    (networks initialised before data sharing)."""
    path = agreement_key_path(network, dept)
    if not path.exists():
        kp = get_suite(suite_name).agreement_keypair()
        with contextlib.suppress(FileExistsError):  # created concurrently: read that one
            write_agreement_key(path, dept, suite_name, kp)
    return read_agreement_key(path, suite_name)
