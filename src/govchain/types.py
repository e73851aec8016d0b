"""Domain type aliases shared by every layer."""

from typing import NewType

Hash32 = NewType("Hash32", bytes)
"""A 32-byte digest of the network's hash function (SHA-256 or SM3)."""

TxId = NewType("TxId", bytes)
"""Hash of a transaction's canonical signed body."""

DeptId = str
"""Identifier of a department (an organisation that runs a node), e.g. ``"tax"``."""

MemberId = str
"""Identifier of a member key that may sign transactions, e.g. ``"tax/admin"``."""

Height = int
"""Block height; the genesis state is height 0, the first block is height 1."""
