"""Every licence and certificate the registries issue becomes a credential without anyone
asking: a block listener on the node that serves the issuing department.

The node calls its listeners after each commit; the feed's listener only picks the registry's
``registry.licence_issued`` and ``registry.certificate_issued`` events out of the block and
queues their numbers (off the commit path). A worker thread drains the queue, reads each
record from committed state and issues the credentials of a round together
(``CredentialService.issue_registered``: grouped by issuer, one notarising ``issue``
transaction per batch). Each record keeps the status index the registry allocated for it, and
a record whose issuer already issued a credential at that index for that holder is skipped, so
the feed is idempotent: across restarts (at start it catches up with every active record of
the departments it serves that has no credential yet) and against a staff member asking for
the same credential at the same moment.

A licence names its holder (the enterprise) in the record. A certificate names its holder by
on-chain id only: drafting it needs the holder's name and identity number from the identity
directory and the case it was decided by, which the caller's ``CertificateDrafter`` provides
(``None``: not drafted here, e.g. a person unknown to this node's directory).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from govchain.credentials.issuance import Draft, licence_draft
from govchain.credentials.service import CredentialService, Issued
from govchain.errors import GovchainError
from govchain.ledger.chain import CommittedBlock
from govchain.procedures import layout

log = logging.getLogger("govchain.credentials.feed")

LICENCE_ISSUED = "registry.licence_issued"
"""Event of the licence registry for a new licence."""
CERTIFICATE_ISSUED = "registry.certificate_issued"
"""Event of the certificate registry for a new certificate."""
ROUND = 1_000
"""Records issued together at most (one ``issue`` call; one transaction per batch of it)."""

CertificateDrafter = Callable[[Mapping[str, Any]], Draft | None]
"""Drafts the credential of a certificate registry record (``None``: not here)."""


class FollowedNode(Protocol):
    """What the feed needs of a node (``node.node.Node`` satisfies it)."""

    listeners: list[Callable[[CommittedBlock], None]]
    """Called after each commit, outside the commit lock."""


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """A registry record whose credential is due."""

    kind: str
    """``licence`` or ``certificate``."""
    number: str
    """Its number in its registry."""


def records_of(block: CommittedBlock) -> list[RegistryRecord]:
    """Return the licences and certificates a committed block issued, in block order."""
    out = []
    for receipt in block.result.receipts:
        for event in receipt.events:
            if event["type"] == LICENCE_ISSUED:
                out.append(RegistryRecord("licence", str(event["data"]["number"])))
            elif event["type"] == CERTIFICATE_ISSUED:
                out.append(RegistryRecord("certificate", str(event["data"]["number"])))
    return out


class CredentialFeed:
    """Issues the credentials of newly registered licences and certificates (see the module)."""

    def __init__(
        self,
        node: FollowedNode,
        service: CredentialService,
        certificates: CertificateDrafter | None = None,
    ) -> None:
        self._service = service
        self._certificates = certificates
        self._queue: queue.Queue[RegistryRecord | None] = queue.Queue()
        self._idle = threading.Condition()
        self._busy = 1  # the catch-up at start
        self._stopping = False
        self.issued = 0
        """Credentials this feed issued since it started."""
        self.error: GovchainError | None = None
        """The last failure (the records of a failed round are issued at the next start)."""
        node.listeners.append(self._on_block)
        self._thread = threading.Thread(target=self._run, name="credential-feed", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker (what is still queued is caught up with at the next start)."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is issued; return whether it was in time."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _on_block(self, block: CommittedBlock) -> None:
        # On the committer thread: only look at the events and queue.
        found = records_of(block)
        if found:
            with self._idle:
                self._busy += len(found)
            for record in found:
                self._queue.put(record)

    def _done(self, count: int) -> None:
        with self._idle:
            self._busy -= count
            self._idle.notify_all()

    def _run(self) -> None:
        try:
            self.catch_up()
        except GovchainError as exc:
            self.error = exc
            log.warning("credential feed: catching up failed: %s", exc.message)
        except Exception:  # a bug must not end the thread: later blocks still need it
            log.exception("credential feed: catching up failed")
        finally:
            self._done(1)
        while True:
            pending: list[RegistryRecord | None] = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(pending) < ROUND:
                    pending.append(self._queue.get_nowait())
            records = [r for r in pending if r is not None]
            try:
                if records and not self._stopping:
                    self.issue(records)
            except GovchainError as exc:
                self.error = exc
                log.warning("credential feed: %d records not issued: %s", len(records), exc.message)
            except Exception:  # a bug must not end the thread: later blocks still need it
                log.exception("credential feed: %d records not issued", len(records))
            finally:
                self._done(len(records))
            if None in pending:
                return

    def catch_up(self) -> list[Issued | dict[str, Any]]:
        """Issue every active licence and certificate of the served departments that has no
        credential yet (what blocks committed while the feed was not running issued)."""
        done: list[Issued | dict[str, Any]] = []
        found = [
            RegistryRecord(kind, key[len(prefix) :].decode())
            for kind, prefix in (
                ("licence", layout.licence_key("")),
                ("certificate", layout.certificate_key("")),
            )
            for key, _ in self._service.scan(prefix)
        ]
        for i in range(0, len(found), ROUND):
            if self._stopping:
                break
            done.extend(self.issue(found[i : i + ROUND]))
        return done

    def issue(self, records: Iterable[RegistryRecord]) -> list[Issued | dict[str, Any]]:
        """Issue the credentials of these registry records (each once ever; records of other
        departments, inactive ones and certificates not drafted here are left alone). Returns
        the new ``Issued`` and the records of credentials issued before."""
        served = set(self._service.served())
        drafts: list[Draft] = []
        names = {d.id: d.name for d in self._service.genesis.departments}
        for rec in dict.fromkeys(records):
            key = (layout.licence_key if rec.kind == "licence" else layout.certificate_key)(
                rec.number
            )
            raw = self._service.read(key)
            if raw is None:
                continue
            record = orjson.loads(raw)
            dept = str(record.get("issuer"))
            if (
                dept not in served
                or record.get("status") != "active"
                or record.get("status_index") is None
            ):
                continue
            if rec.kind == "licence":
                drafts.append(
                    licence_draft(
                        record,
                        network=self._service.network,
                        issuer_did=self._service.did(dept),
                        authority=names.get(dept, dept),
                    )
                )
            elif self._certificates is not None:
                try:
                    draft = self._certificates(record)
                except GovchainError as exc:
                    # One record that cannot be drafted (its case unreadable) holds up no other.
                    self.error = exc
                    log.warning("credential feed: %s not drafted: %s", rec.number, exc.message)
                    continue
                if draft is not None:
                    drafts.append(draft)
        done = self._service.issue_registered(drafts)
        self.issued += sum(1 for d in done if isinstance(d, Issued))
        return done
