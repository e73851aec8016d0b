"""Application materials (申请材料) kept by the handling department's node, encrypted at rest.

An uploaded file is sealed under a fresh data key, which is wrapped under the department's own
key-encryption key (derived from its agreement key, as the sharing vault does); both go into the
node's store (table ``extra``, prefix ``materials/``). Only the hash of the plain file reaches
the ledger, in the case. A case may cite only materials this node holds for the same applicant,
so a made-up hash is refused before anything is signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from govchain.crypto.suite import CryptoSuite, KeyPair
from govchain.errors import Forbidden, NotFound, SchemaViolation, TooLarge
from govchain.ledger.encoding import canonical_unchecked
from govchain.sharing import envelope
from govchain.storage.base import KVStore, WriteBatch
from govchain.types import DeptId

TABLE = "extra"
PREFIX = b"materials/"
MAX_MATERIAL_BYTES = 10 * 1024 * 1024
"""Largest material accepted (10 MiB)."""
_AAD = b"govchain/material/v1\x00"


class UnknownMaterial(SchemaViolation):
    """A case cites a material hash the handling node does not hold for the applicant."""

    code = "unknown_material"


class MaterialStore:
    """Encrypted materials of the departments whose agreement keys this node holds."""

    def __init__(self, store: KVStore, suite: CryptoSuite, keys: Mapping[DeptId, KeyPair]) -> None:
        self._store = store
        self._suite = suite
        self._keks = {d: envelope.kek(suite, kp.private, kp.public, d, d) for d, kp in keys.items()}

    def _kek(self, dept: str) -> bytes:
        kek = self._keks.get(dept)
        if kek is None:
            raise NotFound(f"this node keeps no materials for department {dept!r}")
        return kek

    def put(
        self, dept: str, applicant: str, name: str, media_type: str, data: bytes
    ) -> dict[str, Any]:
        """Seal and store a material durably; return ``{hash, name, size, media_type}``."""
        if not data:
            raise SchemaViolation("a material cannot be empty", field="file")
        if len(data) > MAX_MATERIAL_BYTES:
            raise TooLarge(
                f"a material is at most {MAX_MATERIAL_BYTES} bytes", limit=MAX_MATERIAL_BYTES
            )
        if not 0 < len(name) <= 200:
            raise SchemaViolation("a material's name is 1 to 200 characters", field="name")
        digest = self._suite.hash(data).hex()
        aad = _AAD + dept.encode() + b"\x00" + digest.encode()
        wrapped, sealed = envelope.seal_under_new_key(self._suite, self._kek(dept), data, aad)
        meta = {
            "dept": dept,
            "applicant": applicant,
            "name": name,
            "media_type": media_type[:100],
            "size": len(data),
            "wrapped": wrapped.hex(),
        }
        key = PREFIX + dept.encode() + b"/" + digest.encode()
        batch = WriteBatch()
        batch.put(TABLE, key + b"/meta", canonical_unchecked(meta))
        batch.put(TABLE, key + b"/sealed", sealed)
        self._store.commit(batch)
        return {"hash": digest, "name": name, "size": len(data), "media_type": meta["media_type"]}

    def meta(self, dept: str, digest: str) -> dict[str, Any]:
        """Return what is known of a stored material (``UnknownMaterial`` if none)."""
        raw = self._store.get(TABLE, PREFIX + dept.encode() + b"/" + digest.encode() + b"/meta")
        if raw is None:
            raise UnknownMaterial(
                f"department {dept} holds no material with hash {digest}: upload it first",
                field="materials",
            )
        found: dict[str, Any] = orjson.loads(raw)
        return found

    def check(self, dept: str, applicant: str, hashes: Mapping[str, str]) -> None:
        """Raise unless every cited hash is a material this applicant uploaded to ``dept``."""
        for mid, digest in hashes.items():
            try:
                meta = self.meta(dept, digest)
            except UnknownMaterial:
                raise UnknownMaterial(
                    f"material {mid!r}: department {dept} holds no file with hash {digest} "
                    "(upload it first; a hash alone is not a material)",
                    field=f"materials.{mid}",
                ) from None
            if meta["applicant"] != applicant:
                raise UnknownMaterial(
                    f"material {mid!r} was not uploaded by this applicant", field=f"materials.{mid}"
                )

    def read(self, dept: str, digest: str, reader_dept: str) -> tuple[dict[str, Any], bytes]:
        """Return a material and its bytes for staff of the department that holds it."""
        if reader_dept != dept:
            raise Forbidden(
                f"materials held by {dept} are read by its own staff (or through a grant)"
            )
        meta = self.meta(dept, digest)
        sealed = self._store.get(
            TABLE, PREFIX + dept.encode() + b"/" + digest.encode() + b"/sealed"
        )
        if sealed is None:
            raise NotFound(f"material {digest} has no stored content")
        aad = _AAD + dept.encode() + b"\x00" + digest.encode()
        key = envelope.open_sealed(
            self._suite, self._kek(dept), bytes.fromhex(meta["wrapped"]), aad
        )
        return meta, envelope.open_sealed(self._suite, key, sealed, aad)
