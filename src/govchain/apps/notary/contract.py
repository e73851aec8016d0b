"""The notarisation (电子存证) contract: document hashes on-chain, with who, when, case, expiry,
batches (a Merkle root over many documents) and revocation with a reason.

This file is installed through the lifecycle contract: it runs in the contract sandbox.
"""

from __future__ import annotations

from typing import Any

from govchain.sdk import Contract, Failed, entry, view

HEX = "0123456789abcdef"
MAX_TITLE = 200
MAX_REASON = 500
MAX_BATCH = 1_000_000


def check_digest(digest: str, what: str) -> None:
    if len(digest) != 64 or digest.strip(HEX) != "":
        raise Failed("bad_digest", f"{what} must be 64 lower-case hex characters")


class Notary(Contract):
    """Notarise documents by hash; verify and revoke them."""

    def _record(self, key: str, kind: str, title: str, expires_ms: int | None) -> dict[str, Any]:
        if len(title) > MAX_TITLE:
            raise Failed("bad_title", f"title is longer than {MAX_TITLE} characters")
        now = self.ctx.time_ms
        if expires_ms is not None and expires_ms <= now:
            raise Failed("bad_expiry", "expires_ms must be later than the block time")
        if self.ctx.exists(key):
            raise Failed("already_notarised", f"{key[4:]} is already notarised")
        caller = self.ctx.caller
        return {
            "kind": kind,
            "by": caller.member,
            "dept": caller.dept,
            "actor": caller.actor,
            "case": caller.case,
            "title": title,
            "tx_id": self.ctx.tx_id,
            "height": self.ctx.height,
            "time_ms": now,
            "expires_ms": expires_ms,
            "revoked": None,
        }

    @entry
    def notarise(
        self, digest: str, title: str = "", expires_ms: int | None = None, stored: bool = False
    ) -> dict[str, Any]:
        """Record a document's hash (the file stays off-chain, optionally in the content store)."""
        check_digest(digest, "digest")
        record = self._record("doc/" + digest, "document", title, expires_ms)
        record["digest"] = digest
        record["stored"] = stored
        self.ctx.put("doc/" + digest, record)
        self.ctx.emit("notarised", {"digest": digest, "case": record["case"]})
        return {"digest": digest, "height": record["height"], "time_ms": record["time_ms"]}

    @entry
    def notarise_batch(
        self, root: str, count: int, title: str = "", expires_ms: int | None = None
    ) -> dict[str, Any]:
        """Record the Merkle root (RFC 6962) over the hashes of ``count`` documents."""
        check_digest(root, "root")
        if count < 1 or count > MAX_BATCH:
            raise Failed("bad_count", f"count must be 1 to {MAX_BATCH}")
        record = self._record("bat/" + root, "batch", title, expires_ms)
        record["root"] = root
        record["count"] = count
        self.ctx.put("bat/" + root, record)
        self.ctx.emit("batch_notarised", {"root": root, "count": count, "case": record["case"]})
        return {"root": root, "count": count, "height": record["height"]}

    @entry
    def revoke(self, digest: str, reason: str) -> dict[str, Any]:
        """Revoke a notarisation (a document digest or a batch root), giving the reason."""
        key = "doc/" + digest
        record = self.ctx.get(key)
        if record is None:
            key = "bat/" + digest
            record = self.ctx.get(key)
        if record is None:
            raise Failed("not_found", f"{digest} is not notarised")
        if not reason.strip() or len(reason) > MAX_REASON:
            raise Failed("bad_reason", f"a reason of 1 to {MAX_REASON} characters is required")
        caller = self.ctx.caller
        if caller.dept != record["dept"]:
            raise Failed(
                "not_owner", f"only department {record['dept']} can revoke this notarisation"
            )
        if record["revoked"] is not None:
            raise Failed(
                "already_revoked", f"{digest} was revoked at height {record['revoked']['height']}"
            )
        record["revoked"] = {
            "reason": reason,
            "by": caller.member,
            "actor": caller.actor,
            "height": self.ctx.height,
            "time_ms": self.ctx.time_ms,
        }
        self.ctx.put(key, record)
        self.ctx.emit("revoked", {"digest": digest, "reason": reason})
        return {"digest": digest, "revoked": True}

    @view
    def record(self, digest: str) -> dict[str, Any] | None:
        """Return the notarisation of a document digest (``None`` if never notarised)."""
        found: dict[str, Any] | None = self.ctx.get("doc/" + digest)
        return found

    @view
    def batch(self, root: str) -> dict[str, Any] | None:
        """Return the notarisation of a batch root (``None`` if never notarised)."""
        found: dict[str, Any] | None = self.ctx.get("bat/" + root)
        return found
