"""Admission: everything a node checks before a transaction may reach ordering.

Size, JSON, canonical values (no floats), schema, chain id, signer is an active member, signature
(checked for a whole batch on every core), transaction not already pending or committed, and
nonce not replayed. Rejected transactions get a typed error each and change nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from govchain.crypto.suite import CryptoSuite
from govchain.errors import (
    BadSignature,
    DuplicateTransaction,
    GovchainError,
    ReplayedNonce,
    UnknownSigner,
    WrongChain,
)
from govchain.ledger.execution import (
    NONCE_PREFIX,
    MemberRecord,
    NonceWindow,
    decode_member,
    member_key,
)
from govchain.ledger.transactions import (
    SIGNING_DOMAIN,
    Transaction,
    parse_transaction,
    parse_transaction_object,
)

Outcome = Transaction | GovchainError
"""Per submitted item: the admitted transaction, or why it was rejected."""


class Admission:
    """Checks submitted transactions against the committed state plus what is pending."""

    def __init__(
        self,
        *,
        suite: CryptoSuite,
        chain_id: str,
        max_tx_bytes: int,
        nonce_window: int,
        read_state: Callable[[bytes], bytes | None],
        is_committed: Callable[[bytes], bool],
    ) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.max_tx_bytes = max_tx_bytes
        self.nonce_window = nonce_window
        self._read_state = read_state
        self._is_committed = is_committed
        self._members: dict[str, MemberRecord | None] = {}
        self._windows: dict[str, NonceWindow] = {}
        self._pending: dict[bytes, tuple[bytes, bytes]] = {}
        """Admitted, not yet committed: tx id -> (the public key its signature verified under,
        that signature). The id covers the body only, so the signature is kept to compare."""
        self._lock = threading.Lock()

    # --- called by the node when blocks commit ---------------------------------------------

    def committed(self, tx_ids: Sequence[bytes], members_changed: bool) -> int:
        """Forget pending ids that are now committed; drop cached members if they changed.
        Return how many of them were admitted here (a network node also commits others')."""
        with self._lock:
            pending = self._pending
            before = len(pending)
            pop = pending.pop
            for t in tx_ids:
                pop(t, None)
            if members_changed:
                self._members.clear()
            return before - len(pending)

    def dropped(self, tx_ids: Sequence[bytes]) -> None:
        """Forget pending ids that will not be committed (a failed commit); their nonces stay
        used in the pending windows until restart, so clients must resubmit with new nonces."""
        with self._lock:
            for t in tx_ids:
                self._pending.pop(t, None)

    def is_pending(self, tx_id: bytes) -> bool:
        """Return whether ``tx_id`` was admitted and is not yet committed."""
        return tx_id in self._pending

    def verified_keys(self, txs: Sequence[Transaction]) -> list[bytes | None]:
        """Return per transaction the public key its signature was verified under when this
        node admitted it (``None``: not admitted here, committed since, or carrying another
        signature than the one admitted: a transaction id covers the body only). A network
        node's block apply need not verify those again while the key is still the signer's
        (``Ledger.check_signatures``)."""
        get = self._pending.get
        out: list[bytes | None] = []
        for t in txs:
            found = get(t.tx_id)
            out.append(found[0] if found is not None and found[1] == t.signature else None)
        return out

    def pending_count(self) -> int:
        """Return how many admitted transactions are not yet committed."""
        return len(self._pending)

    # --- admission --------------------------------------------------------------------------

    def _member(self, member_id: str) -> MemberRecord | None:
        cache = self._members
        if member_id in cache:
            return cache[member_id]
        raw = self._read_state(member_key(member_id))
        rec = decode_member(raw) if raw is not None else None
        cache[member_id] = rec
        return rec

    def admit(self, items: Sequence[bytes | str | Any], *, raw: bool = True) -> list[Outcome]:
        """Check a batch; return, per item, the admitted transaction or its error.

        With ``raw=True`` items are encoded transactions (bytes/str); otherwise decoded JSON
        values (elements of a JSON batch request)."""
        h = self.suite.hash
        limit = self.max_tx_bytes
        chain_id = self.chain_id
        members = self._members
        out: list[Outcome] = []
        to_verify: list[int] = []
        triples: list[tuple[bytes, bytes, bytes]] = []
        keys: dict[int, bytes] = {}
        parse = parse_transaction if raw else parse_transaction_object
        for item in items:
            try:
                tx = parse(item, h, limit)
                if tx.chain != chain_id:
                    raise WrongChain(
                        f"transaction is for chain {tx.chain!r}; this network is {chain_id!r}",
                        expected=chain_id,
                        got=tx.chain,
                    )
                signer = tx.signer
                member = members[signer] if signer in members else self._member(signer)
                if member is None:
                    raise UnknownSigner(f"signer {signer!r} is not a member of this network")
                if not member.active:
                    raise UnknownSigner(f"signer {signer!r} is suspended or revoked")
            except GovchainError as exc:
                out.append(exc)
                continue
            to_verify.append(len(out))
            triples.append((member.public_key, SIGNING_DOMAIN + tx.body_bytes, tx.signature))
            keys[len(out)] = member.public_key
            out.append(tx)
        if triples:
            results = self.suite.verify_many(triples)
            for pos, ok in zip(to_verify, results, strict=True):
                if not ok:
                    bad = out[pos]
                    assert isinstance(bad, Transaction)
                    out[pos] = BadSignature(
                        f"signature does not verify under the key of {bad.signer!r}",
                        tx_id=bad.tx_id.hex(),
                    )
        with self._lock:
            pending = self._pending
            windows = self._windows
            for pos, item in enumerate(out):
                if type(item) is not Transaction:
                    continue
                tx = item
                try:
                    tid = tx.tx_id
                    if tid in pending:
                        raise DuplicateTransaction(
                            f"transaction {tid.hex()} is already pending", tx_id=tid.hex()
                        )
                    window = windows.get(tx.signer)
                    if window is None:
                        window = NonceWindow.decode(
                            self._read_state(NONCE_PREFIX + tx.signer.encode()), self.nonce_window
                        )
                        windows[tx.signer] = window
                    try:
                        window.check_and_use(tx.nonce)
                    except ReplayedNonce:
                        # A committed transaction's nonce is always used, so the index lookup
                        # is only needed to give the clearer error.
                        if self._is_committed(tid):
                            raise DuplicateTransaction(
                                f"transaction {tid.hex()} is already committed", tx_id=tid.hex()
                            ) from None
                        raise
                    pending[tid] = (keys[pos], tx.signature)
                except GovchainError as exc:
                    out[pos] = exc
        return out
