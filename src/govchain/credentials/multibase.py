"""Multibase strings and Multikey public keys (W3C Controlled Identifiers, Multibase draft).

Only the two bases the credential formats use: ``z`` = base58btc (proof values, Multikey) and
``u`` = base64url without padding (the Bitstring Status List ``encodedList``). A Multikey is the
multicodec varint of the key type followed by the raw key, in base58btc:

================  ==========  ===========  ==============================================
key               multicodec  varint       raw key
================  ==========  ===========  ==============================================
Ed25519 public    0xed        ``ed 01``    32 bytes (``z6Mk...``)
SM2 public        0x1206      ``86 24``    33 bytes: SEC1 compressed point (02/03 || x)
Ed25519 private   0x1300      ``80 26``    32-byte seed (test vectors only)
================  ==========  ===========  ==============================================

The SM2 key is compressed like the P-256 Multikey of the same specification; our ``gm`` suite
works with the 64-byte ``x || y`` form, so ``sm2_compress`` / ``sm2_decompress`` convert.
"""

from __future__ import annotations

import base64

from govchain.errors import SchemaViolation

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}

ED25519_PUB = b"\xed\x01"
"""Multicodec prefix of an Ed25519 public key."""
SM2_PUB = b"\x86\x24"
"""Multicodec prefix of an SM2 public key (0x1206)."""
ED25519_PRIV = b"\x80\x26"
"""Multicodec prefix of an Ed25519 private key (0x1300)."""

# SM2 curve (GB/T 32918.5): y^2 = x^3 + a x + b over F_p, with a = p - 3.
_SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_SM2_A = _SM2_P - 3
_SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


_PAIRS = tuple(a + b for a in _B58 for b in _B58)
"""Two base58 digits for each value below 58**2."""
_CHUNK = 58**10
"""Ten base58 digits: the remainders fit a machine word, so their digits are cheap."""


def b58encode(data: bytes) -> str:
    """Return the base58btc (Bitcoin alphabet) text of ``data``; leading zero bytes become '1'."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    # One big-number division per ten digits instead of per digit (a proof value has 88),
    # then two digits per small division: the same digits, about five times faster.
    chunks = []
    while n:
        n, rem = divmod(n, _CHUNK)
        chunks.append(rem)
    pairs = _PAIRS
    out = []
    for rem in reversed(chunks):
        r4, d9 = divmod(rem, 3364)
        r3, d7 = divmod(r4, 3364)
        r2, d5 = divmod(r3, 3364)
        d1, d3 = divmod(r2, 3364)
        out.append(pairs[d1] + pairs[d3] + pairs[d5] + pairs[d7] + pairs[d9])
    return "1" * zeros + "".join(out).lstrip("1")


def b58decode(text: str) -> bytes:
    """Return the bytes of base58btc ``text``; ``SchemaViolation`` on a character outside it."""
    n = 0
    for c in text:
        digit = _B58_INDEX.get(c)
        if digit is None:
            raise SchemaViolation(f"{c!r} is not a base58btc character", field="multibase")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def b64url_encode(data: bytes) -> str:
    """Return base64url text of ``data`` without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ``SchemaViolation`` if ``text`` is not canonical base64url."""
    if not text.isascii() or "+" in text or "/" in text or "=" in text or len(text) % 4 == 1:
        raise SchemaViolation("not unpadded base64url text", field="base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise SchemaViolation("not unpadded base64url text", field="base64url") from None
    if b64url_encode(data) != text:
        # Non-zero padding bits: two texts for one value would break hash-based checks.
        raise SchemaViolation("base64url text is not canonical", field="base64url")
    return data


def encode(data: bytes, base: str = "z") -> str:
    """Return the multibase string of ``data`` in base ``z`` (base58btc) or ``u`` (base64url)."""
    if base == "z":
        return "z" + b58encode(data)
    if base == "u":
        return "u" + b64url_encode(data)
    raise SchemaViolation(f"unsupported multibase prefix {base!r}", field="multibase")


def decode(text: str) -> bytes:
    """Return the bytes of a ``z`` or ``u`` multibase string; ``SchemaViolation`` otherwise."""
    if not isinstance(text, str) or not text:
        raise SchemaViolation("a multibase value must be a non-empty string", field="multibase")
    if text[0] == "z":
        return b58decode(text[1:])
    if text[0] == "u":
        return b64url_decode(text[1:])
    raise SchemaViolation(f"unsupported multibase prefix {text[0]!r}", field="multibase")


def sm2_compress(public: bytes) -> bytes:
    """Return the 33-byte SEC1 compressed form of a 64-byte SM2 public key ``x || y``."""
    if len(public) != 64:
        raise SchemaViolation("an SM2 public key is 64 bytes (x || y)", field="public_key")
    y = int.from_bytes(public[32:], "big")
    return bytes([2 + (y & 1)]) + public[:32]


def sm2_decompress(compressed: bytes) -> bytes:
    """Return the 64-byte ``x || y`` SM2 public key of a 33-byte compressed point."""
    if len(compressed) != 33 or compressed[0] not in (2, 3):
        raise SchemaViolation("not a compressed SM2 point", field="public_key")
    x = int.from_bytes(compressed[1:], "big")
    if x >= _SM2_P:
        raise SchemaViolation("SM2 x-coordinate out of range", field="public_key")
    rhs = (pow(x, 3, _SM2_P) + _SM2_A * x + _SM2_B) % _SM2_P
    # p = 3 (mod 4), so a square root is rhs^((p+1)/4) when one exists.
    y = pow(rhs, (_SM2_P + 1) // 4, _SM2_P)
    if y * y % _SM2_P != rhs:
        raise SchemaViolation("x is not on the SM2 curve", field="public_key")
    if y & 1 != compressed[0] & 1:
        y = _SM2_P - y
    return compressed[1:] + y.to_bytes(32, "big")


def encode_multikey(public: bytes, suite: str) -> str:
    """Return the ``publicKeyMultibase`` of a raw public key of suite ``intl`` or ``gm``."""
    if suite == "intl":
        if len(public) != 32:
            raise SchemaViolation("an Ed25519 public key is 32 bytes", field="public_key")
        return encode(ED25519_PUB + public)
    if suite == "gm":
        return encode(SM2_PUB + sm2_compress(public))
    raise SchemaViolation(f"unknown crypto suite {suite!r}", field="suite")


def decode_multikey(text: str) -> tuple[str, bytes]:
    """Return ``(suite, raw public key)`` of a ``publicKeyMultibase`` value."""
    data = decode(text)
    if data.startswith(ED25519_PUB) and len(data) == 34:
        return "intl", data[2:]
    if data.startswith(SM2_PUB) and len(data) == 35:
        return "gm", sm2_decompress(data[2:])
    raise SchemaViolation("not an Ed25519 or SM2 Multikey", field="publicKeyMultibase")
