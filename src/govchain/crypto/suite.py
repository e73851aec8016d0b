"""The crypto-suite interface every network uses through its genesis choice.

A suite bundles a signature scheme, a 32-byte hash, an AEAD cipher and a key agreement, so that
all nodes of one network agree bit for bit on which signatures are valid (one library per suite).
Keys and signatures are raw bytes; their sizes are properties of the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A signing key pair of one suite."""

    private: bytes
    """Raw private key (32 bytes for both suites)."""
    public: bytes
    """Raw public key (Ed25519: 32 bytes; SM2: 64 bytes, uncompressed x||y)."""


class CryptoSuite(Protocol):
    """Signature, hash, AEAD and key agreement of one network."""

    name: str
    """Suite name written in genesis: ``"intl"`` or ``"gm"``."""
    hash_name: str
    """Name of the hash function (``"sha256"`` / ``"sm3"``)."""

    def hash(self, data: bytes) -> bytes:
        """Return the 32-byte digest of ``data``."""
        ...

    def generate_keypair(self) -> KeyPair:
        """Return a fresh signing key pair."""
        ...

    def keypair_from_private(self, private: bytes) -> KeyPair:
        """Rebuild the key pair of a raw private key."""
        ...

    def sign(self, private: bytes, message: bytes) -> bytes:
        """Sign ``message`` with the raw private key."""
        ...

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is valid for ``message`` under ``public``; never raises
        for malformed keys or signatures (they are simply invalid)."""
        ...

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """Verify ``(public, message, signature)`` triples, using every core; same results as
        calling ``verify`` on each."""
        ...

    def verify_later(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> Callable[[], list[bool]]:
        """Start ``verify_many`` and return at once a function that waits for its results (the
        caller works meanwhile: a node executes a block while its signatures are checked)."""
        ...

    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt and authenticate; returns ciphertext with the tag appended."""
        ...

    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Decrypt and check; raises ``govchain.errors.IntegrityError`` on any tampering."""
        ...

    def agreement_keypair(self) -> KeyPair:
        """Return a fresh key-agreement key pair."""
        ...

    def agree(self, private: bytes, peer_public: bytes, info: bytes) -> bytes:
        """Derive a 32-byte shared key from our private and the peer's public agreement key."""
        ...
