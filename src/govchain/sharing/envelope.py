"""Envelope encryption with the network's suite (AES-256-GCM + X25519/HKDF-SHA256, or SM4-GCM
+ SM2-curve ECDH/HKDF-SM3).

* Every record has its own random **data key**; the record is sealed under it.
* A data key is **wrapped** (sealed) under a key-encryption key (KEK) that two departments
  derive from their published agreement keys: ``agree(our private, their public, info)`` with
  ``info`` naming both departments, so either side derives the same KEK. At rest the owner wraps
  record keys for itself (KEK of the owner with its own key).
* A read answer is sealed under a fresh data key wrapped for the reading department only.

Sealed bytes are ``nonce || ciphertext || tag``; the associated data binds each ciphertext to
where it belongs (resource, record, departments), so a swapped or altered ciphertext, a wrong
key or a wrong place fails with ``IntegrityError``.
"""

from __future__ import annotations

import os

from govchain.crypto.suite import CryptoSuite
from govchain.errors import IntegrityError
from govchain.types import DeptId

NONCE_SIZE = 12
"""AEAD nonce length of both suites."""
KEK_INFO = b"govchain/sharing/kek/v1\x00"
"""HKDF info prefix of key-encryption keys."""
RECORD_AAD = b"govchain/sharing/record/v1\x00"
"""Associated-data prefix of sealed records."""
DATA_KEY_AAD = b"govchain/sharing/data-key/v1\x00"
"""Associated-data prefix of wrapped data keys."""
ANSWER_AAD = b"govchain/sharing/answer/v1\x00"
"""Associated-data prefix of sealed read answers."""


def key_size(suite: CryptoSuite) -> int:
    """Return the AEAD key length of the suite (AES-256: 32 bytes, SM4: 16 bytes)."""
    size: int = getattr(suite, "aead_key_size", 32)
    return size


def new_data_key(suite: CryptoSuite) -> bytes:
    """Return a fresh random data key."""
    return os.urandom(key_size(suite))


def seal(suite: CryptoSuite, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt under ``key`` with a random nonce; return ``nonce || ciphertext || tag``."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + suite.aead_encrypt(key, nonce, plaintext, aad)


def seal_under_new_key(
    suite: CryptoSuite, kek: bytes, plaintext: bytes, aad: bytes
) -> tuple[bytes, bytes]:
    """Seal ``plaintext`` under a fresh data key and wrap that key under ``kek``, both with
    ``aad``; return ``(wrapped key, sealed plaintext)``. The key and both nonces come from one
    read of the system's random source (one system call instead of three)."""
    size = key_size(suite)
    fresh = os.urandom(size + 2 * NONCE_SIZE)
    data_key, n1, n2 = fresh[:size], fresh[size : size + NONCE_SIZE], fresh[size + NONCE_SIZE :]
    wrapped = n1 + suite.aead_encrypt(kek, n1, data_key, aad)
    return wrapped, n2 + suite.aead_encrypt(data_key, n2, plaintext, aad)


def open_sealed(suite: CryptoSuite, key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Decrypt ``seal``'s output; ``IntegrityError`` if anything differs."""
    if len(sealed) < NONCE_SIZE:
        raise IntegrityError("sealed data is shorter than its nonce")
    return suite.aead_decrypt(key, sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)


def kek(
    suite: CryptoSuite, private: bytes, peer_public: bytes, owner: DeptId, reader: DeptId
) -> bytes:
    """Derive the key-encryption key between ``owner`` and ``reader`` (same on both sides)."""
    info = KEK_INFO + owner.encode() + b"\x00" + reader.encode()
    return suite.agree(private, peer_public, info)[: key_size(suite)]


def record_aad(resource: str, record: str) -> bytes:
    """Associated data of a sealed record."""
    return RECORD_AAD + resource.encode() + b"\x00" + record.encode()


def data_key_aad(owner: DeptId, reader: DeptId, resource: str, record: str) -> bytes:
    """Associated data of a data key wrapped for ``reader``."""
    parts = (owner, reader, resource, record)
    return DATA_KEY_AAD + b"\x00".join(p.encode() for p in parts)


def answer_aad(owner: DeptId, reader: DeptId, request_id: str) -> bytes:
    """Associated data of a read answer: binds it to the request it answers."""
    return ANSWER_AAD + b"\x00".join(p.encode() for p in (owner, reader, request_id))
