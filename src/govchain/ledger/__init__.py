"""Ledger core: transactions, blocks, the Merkle transaction log, state, receipts, checkpoints.

The ledger core imports no web framework, storage engine or ordering code; it works on the
``Protocol``s of ``govchain.storage.base`` and ``govchain.crypto.suite``.
"""
