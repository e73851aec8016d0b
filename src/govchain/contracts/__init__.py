"""Contracts: the programs transactions call. For now a built-in registry with the ``kv``
contract; the contract-runtime issue replaces it with installed Python contracts."""
