"""The vault's in-memory copies (subject index, verified ciphertexts, unwrapped data keys)
follow every put and shred at once, including a shred that races with a read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest

from govchain.crypto import get_suite
from govchain.errors import IntegrityError
from govchain.sharing.errors import RecordErased
from govchain.sharing.vault import CIPHERTEXT, DATA_KEY, TABLE, Vault
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore

SUITE = get_suite("intl")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class InterruptingStore(MemoryStore):
    """Runs ``hook`` once, right after the next read of a key under ``prefix``."""

    def __init__(self) -> None:
        super().__init__()
        self.prefix = b""
        self.hook: Callable[[], object] | None = None
        self.scan_hook: Callable[[], object] | None = None

    def scan(
        self, table: str, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        items = list(super().scan(table, start, end, reverse=reverse))
        hook, self.scan_hook = self.scan_hook, None
        if hook is not None:
            hook()
        return iter(items)

    def get(self, table: str, key: bytes) -> bytes | None:
        value = super().get(table, key)
        hook = self.hook
        if hook is not None and key.startswith(self.prefix):
            self.hook = None
            hook()
        return value


def _vault() -> tuple[Vault, InterruptingStore]:
    store = InterruptingStore()
    return Vault(store, SUITE, {"tax": SUITE.agreement_keypair()}), store


def test_put_and_open_follow_each_other() -> None:
    vault, _ = _vault()
    assert vault.records_of("tax.arrears", "ref1") == []
    sealed = vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 1})
    assert vault.records_of("tax.arrears", "ref1") == ["r1"]  # the cached empty list dropped
    vault.put("tax", "tax.arrears", "r2", "ref1", {"amount_fen": 2})
    assert vault.records_of("tax.arrears", "ref1") == ["r1", "r2"]
    assert vault.verified("tax.arrears", "r1", _sha(sealed), _sha) == sealed
    assert vault.open("tax", "tax.arrears", "r1", sealed) == {"amount_fen": 1}
    # Stored again under another hash (its first publication never committed): read afresh.
    again = vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 3})
    assert vault.verified("tax.arrears", "r1", _sha(again), _sha) == again
    assert vault.open("tax", "tax.arrears", "r1", again) == {"amount_fen": 3}
    with pytest.raises(IntegrityError):
        vault.verified("tax.arrears", "r1", _sha(sealed), _sha)


def test_a_ciphertext_is_checked_before_it_is_first_trusted() -> None:
    vault, store = _vault()
    sealed = vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 1})
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    batch = WriteBatch()
    batch.put(TABLE, CIPHERTEXT + b"tax.arrears\x00r1", bytes(tampered))
    store.commit(batch)
    with pytest.raises(IntegrityError):
        vault.verified("tax.arrears", "r1", _sha(sealed), _sha)


def test_shred_drops_the_key_even_while_a_read_unwraps_it() -> None:
    vault, store = _vault()
    sealed = vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 1})
    # The read fetched the wrapped key just before the erasure destroyed it ...
    store.prefix = DATA_KEY
    store.hook = lambda: vault.shred("tax.arrears", "r1")
    assert vault.open("tax", "tax.arrears", "r1", sealed) == {"amount_fen": 1}
    # ... and does not put the key back: every later read finds the record erased.
    with pytest.raises(RecordErased):
        vault.open("tax", "tax.arrears", "r1", sealed)


def test_shred_drops_a_cached_key_and_ciphertext() -> None:
    vault, _ = _vault()
    sealed = vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 1})
    vault.verified("tax.arrears", "r1", _sha(sealed), _sha)
    vault.open("tax", "tax.arrears", "r1", sealed)  # key and ciphertext cached
    assert vault.shred("tax.arrears", "r1") is True
    with pytest.raises(RecordErased):
        vault.open("tax", "tax.arrears", "r1", sealed)
    assert vault.shred("tax.arrears", "r1") is False


def test_a_subject_scan_racing_with_a_put_is_not_kept() -> None:
    vault, store = _vault()
    vault.put("tax", "tax.arrears", "r1", "ref1", {"amount_fen": 1})
    # The scan read the index just before another record of the subject was stored ...
    store.scan_hook = lambda: vault.put("tax", "tax.arrears", "r2", "ref1", {"amount_fen": 2})
    assert vault.records_of("tax.arrears", "ref1") == ["r1"]
    # ... so what it found is not kept: the next read lists both.
    assert vault.records_of("tax.arrears", "ref1") == ["r1", "r2"]
