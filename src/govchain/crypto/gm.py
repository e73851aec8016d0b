"""The ``gm`` suite: SM2 signatures, SM3, SM4-GCM and static SM2-curve ECDH + HKDF-SM3.

Signatures
    SM2 (GB/T 32918.2) with SM3 and the default signer ID ``1234567812345678``, computed by
    tongsuopy (Tongsuo). tongsuopy is the one pinned SM2 library because it is the fast one
    (sign ~270 µs, verify ~255 µs here; gmssl-pyx needs 2.2 ms / 0.5 ms and prints C error traces
    on failed verifications). gmssl-pyx is used only in tests, as an independent implementation.
    tongsuopy speaks DER; on the wire a signature is the fixed 64 bytes ``r || s`` (big-endian,
    32 bytes each), so every signature has one encoding and a fixed size.

Raw keys
    Private key: the 32-byte big-endian scalar ``d`` with ``1 <= d <= n - 2`` (SM2 signing needs
    ``1 + d`` invertible mod ``n``). Public key: 64 bytes ``x || y`` (uncompressed point without
    the ``04`` prefix).

Hash and cipher
    SM3 (GB/T 32905) and SM4 (GB/T 32907) in GCM mode come from ``cryptography``: key 16 bytes,
    nonce 12 bytes, 16-byte tag appended to the ciphertext.

Key agreement
    ``agree`` is *static* elliptic-curve Diffie-Hellman on the SM2 curve: the x-coordinate of
    ``d_ours * P_peer``, stretched by HKDF with SM3 and the caller's ``info``. It is **not** the
    interactive SM2 key exchange of GB/T 32918.3, which needs both parties online exchanging
    ephemeral points and confirmation hashes. Data sharing uses envelope encryption: the owner
    wraps a data key to a department's *published* agreement key while that department is
    offline, so a non-interactive agreement is what fits. tongsuopy marks SM2 keys with the
    ``EVP_PKEY_SM2`` type, whose Tongsuo method has no derive operation; the underlying EC key is
    an ordinary key on the SM2 curve, so agreement keys are re-marked as ``EVP_PKEY_EC`` and
    Tongsuo's ECDH derives the point (``sm2_ecdh``). This uses tongsuopy internals and is covered
    by tests that recompute the shared point independently.

Parsed key objects are cached (LRU keyed by the raw bytes): building a tongsuopy public key
costs ~20 µs, a private key ~260 µs (it recomputes ``d·G``), which matters next to a 255 µs
verification.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tongsuopy.backends.tongsuo import backend as _tongsuo
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

from govchain.crypto import parallel
from govchain.crypto.suite import KeyPair
from govchain.errors import IntegrityError, SchemaViolation

PRIVATE_KEY_SIZE = 32
"""SM2 private scalar length."""
PUBLIC_KEY_SIZE = 64
"""SM2 public key length (x || y)."""
SIGNATURE_SIZE = 64
"""SM2 signature length on the wire (r || s)."""
AEAD_KEY_SIZE = 16
"""SM4 key length."""
AEAD_NONCE_SIZE = 12
"""SM4-GCM nonce length."""
AEAD_TAG_SIZE = 16
"""SM4-GCM tag length, appended to the ciphertext."""
SHARED_KEY_SIZE = 32
"""Length of the key ``agree`` derives."""
DEFAULT_SIGNER_ID = b"1234567812345678"
"""The SM2 signer ID (GB/T 35276) Tongsuo uses when none is set; documented, not configurable."""

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""Order of the SM2 base point (GB/T 32918.5)."""

_SCALAR_SIZE = 32
_SM2_WITH_SM3 = ec.ECDSA(tongsuo_hashes.SM3())
_UNCOMPRESSED = b"\x04"


def _require_length(what: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise SchemaViolation(
            f"{what} must be {size} bytes, got {len(value)}",
            field=what,
            expected=size,
            actual=len(value),
        )


def _private_scalar(private: bytes) -> int:
    _require_length("private key", private, PRIVATE_KEY_SIZE)
    scalar = int.from_bytes(private, "big")
    if not 1 <= scalar <= SM2_N - 2:
        raise SchemaViolation("SM2 private key is out of range [1, n-2]", field="private key")
    return scalar


def _public_bytes(key: Any) -> bytes:
    numbers = key.public_key().public_numbers()
    return bytes(numbers.x.to_bytes(_SCALAR_SIZE, "big") + numbers.y.to_bytes(_SCALAR_SIZE, "big"))


@lru_cache(maxsize=64)
def _signing_key(private: bytes) -> Any:
    # A node signs with a handful of keys; rebuilding one recomputes d·G (~260 µs).
    return ec.derive_private_key(_private_scalar(private), ec.SM2())


@lru_cache(maxsize=8192)
def _verifying_key(public: bytes) -> Any:
    # Raises ValueError for points off the curve; lru_cache does not keep failures, so garbage
    # keys cannot push real members' keys out of the cache.
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), _UNCOMPRESSED + public)


def _as_ec_type(key: Any) -> Any:
    # See the module docstring: only keys built for agreement are re-marked, never the cached
    # signing/verifying keys, whose SM2 type selects the SM2 signature scheme.
    res = _tongsuo._lib.EVP_PKEY_set_alias_type(key._evp_pkey, _tongsuo._lib.EVP_PKEY_EC)
    _tongsuo.openssl_assert(res == 1)
    return key


@lru_cache(maxsize=64)
def _agreement_private(private: bytes) -> Any:
    return _as_ec_type(ec.derive_private_key(_private_scalar(private), ec.SM2()))


@lru_cache(maxsize=1024)
def _agreement_public(public: bytes) -> Any:
    _require_length("agreement public key", public, PUBLIC_KEY_SIZE)
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), _UNCOMPRESSED + public)
    except ValueError as exc:
        raise SchemaViolation(
            "agreement public key is not a point on the SM2 curve", field="agreement public key"
        ) from exc
    return _as_ec_type(key)


def sm2_ecdh(private: bytes, peer_public: bytes) -> bytes:
    """Return the raw static-ECDH value on the SM2 curve: the x-coordinate of ``d * P``.

    Exposed for tests that check it against an independent computation; use ``agree`` for a key.
    Raises ``SchemaViolation`` for malformed keys.
    """
    ours = _agreement_private(bytes(private))
    theirs = _agreement_public(bytes(peer_public))
    return bytes(ours.exchange(ec.ECDH(), theirs))


def signature_to_der(signature: bytes) -> bytes:
    """Convert a 64-byte ``r || s`` SM2 signature to DER (for other SM2 implementations)."""
    _require_length("signature", signature, SIGNATURE_SIZE)
    r = int.from_bytes(signature[:_SCALAR_SIZE], "big")
    s = int.from_bytes(signature[_SCALAR_SIZE:], "big")
    return encode_dss_signature(r, s)


def signature_from_der(der: bytes) -> bytes:
    """Convert a DER SM2 signature to the fixed 64-byte ``r || s`` wire form."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError as exc:
        raise SchemaViolation("signature is not valid DER", field="signature") from exc
    if not (1 <= r < SM2_N and 1 <= s < SM2_N):
        raise SchemaViolation("signature r or s is out of range [1, n-1]", field="signature")
    return r.to_bytes(_SCALAR_SIZE, "big") + s.to_bytes(_SCALAR_SIZE, "big")


class GmSuite:
    """SM2 / SM3 / SM4-GCM / SM2-curve ECDH suite; use ``get_suite("gm")``."""

    __slots__ = ("hash_name", "name")

    private_key_size = PRIVATE_KEY_SIZE
    public_key_size = PUBLIC_KEY_SIZE
    signature_size = SIGNATURE_SIZE
    aead_key_size = AEAD_KEY_SIZE
    aead_nonce_size = AEAD_NONCE_SIZE

    def __init__(self) -> None:
        self.name = "gm"
        self.hash_name = "sm3"

    def hash(self, data: bytes) -> bytes:
        """Return the SM3 digest of ``data``."""
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize()

    def generate_keypair(self) -> KeyPair:
        """Return a fresh SM2 key pair with the private scalar uniform in [1, n-2]."""
        scalar = secrets.randbelow(SM2_N - 2) + 1
        return self.keypair_from_private(scalar.to_bytes(PRIVATE_KEY_SIZE, "big"))

    def keypair_from_private(self, private: bytes) -> KeyPair:
        """Rebuild the key pair of a 32-byte big-endian SM2 private scalar."""
        private = bytes(private)
        return KeyPair(private=private, public=_public_bytes(_signing_key(private)))

    def sign(self, private: bytes, message: bytes) -> bytes:
        """Return the 64-byte ``r || s`` SM2 signature (default signer ID) of ``message``."""
        der = _signing_key(bytes(private)).sign(bytes(message), _SM2_WITH_SM3)
        return signature_from_der(bytes(der))

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid SM2 signature; never raises on bad input."""
        if len(public) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
            return False
        r = int.from_bytes(signature[:_SCALAR_SIZE], "big")
        s = int.from_bytes(signature[_SCALAR_SIZE:], "big")
        if not (1 <= r < SM2_N and 1 <= s < SM2_N):
            return False
        try:
            key = _verifying_key(bytes(public))
            key.verify(encode_dss_signature(r, s), bytes(message), _SM2_WITH_SM3)
        except (InvalidSignature, ValueError):
            # Only these two mean "not valid": anything else is a library fault and must not
            # quietly turn into a rejection that other nodes might not share.
            return False
        return True

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """Verify ``(public, message, signature)`` triples on all cores; same as ``verify``."""
        return parallel.verify_many(self.name, self.verify, items)

    def verify_later(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> Callable[[], list[bool]]:
        """Start ``verify_many`` on the worker processes; return a function awaiting it."""
        return parallel.verify_later(self.name, self.verify, items)

    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """SM4-GCM encrypt; returns ciphertext || 16-byte tag."""
        _require_length("aead key", key, AEAD_KEY_SIZE)
        _require_length("aead nonce", nonce, AEAD_NONCE_SIZE)
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return ciphertext + encryptor.tag

    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """SM4-GCM decrypt; raises ``IntegrityError`` if anything was changed or the key or
        nonce is not the one used to encrypt."""
        _require_length("aead key", key, AEAD_KEY_SIZE)
        _require_length("aead nonce", nonce, AEAD_NONCE_SIZE)
        if len(ciphertext) < AEAD_TAG_SIZE:
            raise IntegrityError("ciphertext is shorter than the authentication tag")
        body, tag = ciphertext[:-AEAD_TAG_SIZE], ciphertext[-AEAD_TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        plaintext = decryptor.update(body)
        try:
            return plaintext + decryptor.finalize()
        except InvalidTag as exc:
            raise IntegrityError("ciphertext or associated data fails authentication") from exc

    def agreement_keypair(self) -> KeyPair:
        """Return a fresh SM2-curve agreement key pair (same raw format as signing keys)."""
        return self.generate_keypair()

    def agree(self, private: bytes, peer_public: bytes, info: bytes) -> bytes:
        """Return HKDF-SM3(static ECDH x-coordinate, salt=none, info) as a 32-byte key."""
        shared = sm2_ecdh(private, peer_public)
        kdf = HKDF(algorithm=hashes.SM3(), length=SHARED_KEY_SIZE, salt=None, info=info)
        return kdf.derive(shared)
