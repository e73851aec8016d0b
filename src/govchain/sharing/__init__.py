"""Classified cross-department data sharing: catalogue, records, grants, reads, attestations.

The business rules are plain functions over typed records (``model``, ``grants``, ``access``,
``predicates``); the on-chain part is a set of native system contracts (``contracts``,
``readlog``); the owner node's part is ``vault`` (encrypted records), ``requests`` (signed data
requests), ``envelope`` (the suite's encryption), ``view`` (queries), ``signer`` (the node's
own transactions), ``batching`` (requests served in batches by a few workers), ``reading``
(a batch of reads: log transactions, sealed answers), ``cache`` (committed state kept for the
read path) and ``service``. See docs/data-sharing.md.
"""
