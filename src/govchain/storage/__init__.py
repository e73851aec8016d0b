"""Storage adapters: one ``KVStore`` protocol, an LMDB backend and an in-memory backend."""
