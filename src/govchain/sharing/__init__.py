"""Classified cross-department data sharing: catalogue, records, grants, reads, attestations.

The business rules are plain functions over typed records (``model``, ``grants``, ``access``,
``predicates``); the on-chain part is a set of native system contracts (``contracts``,
``readlog``); the owner node's part is ``vault`` (encrypted records), ``requests`` (signed data
requests), ``envelope`` (the suite's encryption), ``view`` (queries), ``signer`` (the node's
own transactions), ``batching`` (group commit of read logs) and ``service``. See
docs/data-sharing.md.
"""
