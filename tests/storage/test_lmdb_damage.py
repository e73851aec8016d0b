"""A damaged LMDB file is answered as ``IntegrityError`` naming the table, not as a crash.

Flipped bits in stored values are the ledger's to find (``tests/ledger/test_verify_corruption.py``);
flipped bits in LMDB's own structure surface as LMDB errors (``MDB_PAGE_NOTFOUND``,
``MDB_CORRUPTED``), which ``LmdbStore`` turns into ``IntegrityError``. The damage is made
deterministic by following LMDB's on-disk format (``mdb.c`` of LMDB 0.9: a page starts with its
8-byte number, 2 bytes of padding, 2 bytes of flags (``P_BRANCH`` = 1) and two 2-byte bounds,
then the 2-byte offsets of its nodes; a branch node holds its child's page number in its first
six bytes, the top 16 bits in ``mn_flags`` at offset 4): the child pointer of a branch node is
set to a page far beyond the file.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from govchain.errors import IntegrityError
from govchain.storage.base import WriteBatch
from govchain.storage.lmdb import LmdbStore

PAGE = 4096
P_BRANCH = 0x01


def _branch_pages(data: bytes) -> list[int]:
    """Offsets of the pages whose flags say branch (the two meta pages come first)."""
    out = []
    for offset in range(2 * PAGE, len(data), PAGE):
        (flags,) = struct.unpack_from("<H", data, offset + 10)
        if flags == P_BRANCH:
            out.append(offset)
    return out


def test_a_broken_page_pointer_is_an_integrity_error_naming_the_table(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = LmdbStore(str(path))
    batch = WriteBatch()
    # Only "history" is large enough to need branch pages; one commit leaves no stale copies.
    for i in range(3000):
        batch.put("history", i.to_bytes(12, "big"), b"v" * 100)
    batch.put("meta", b"head", (1).to_bytes(8, "big"))
    store.commit(batch)
    store.close()

    data_file = path / "data.mdb"
    data = bytearray(data_file.read_bytes())
    branches = _branch_pages(bytes(data))
    assert branches, "expected a branch page in the history table"
    page = branches[0]
    (node,) = struct.unpack_from("<H", data, page + 16)  # the first node's offset
    struct.pack_into("<H", data, page + node + 4, 0xFFFF)  # child page number >= 2^47
    data_file.write_bytes(bytes(data))

    damaged = LmdbStore(str(path), readonly=True)
    try:
        assert damaged.get("meta", b"head") == (1).to_bytes(8, "big")  # other tables read
        with pytest.raises(IntegrityError) as caught:
            list(damaged.scan("history"))
        assert caught.value.fields["table"] == "history"
        assert "damaged" in caught.value.message
        with pytest.raises(IntegrityError) as caught:
            damaged.get("history", (0).to_bytes(12, "big"))
        assert caught.value.fields["key"] == (0).to_bytes(12, "big").hex()
    finally:
        damaged.close()
