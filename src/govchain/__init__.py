"""govchain: a permissioned ledger platform for e-government in the "1+N" model."""

__version__ = "0.1.0"
