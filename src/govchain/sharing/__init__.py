"""Classified cross-department data sharing: catalogue, records, grants, reads, attestations.

The business rules are plain functions over typed records (``model``, ``access``,
``predicates``); the on-chain part is a set of native system contracts (``contracts``); the
owner node's part (encrypted record vault, signed requests, reads) is ``vault``, ``requests`` and
``service``. See docs/data-sharing.md.
"""
