"""Notarisation (电子存证): document hashes on-chain, verifiable offline and online."""
