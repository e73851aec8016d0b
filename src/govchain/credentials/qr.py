"""QR codes for credentials: the credential itself when it fits, else a compact reference.

Payload text (all characters in the QR alphanumeric set, so a code holds ~1.5x more than in
byte mode):

* ``GC1E:`` + base45(``digest16 || zlib(kind || content)``): the credential embedded;
  ``kind`` is ``V`` (a VC: its RFC 8785 JCS bytes) or ``S`` (an SD-JWT, ASCII).
* ``GC1R:`` + base45(``digest16 || JCS({"id", "sha256", "url"})``): a reference giving the
  credential id, the SHA-256 (hex) of its JCS bytes (or of the SD-JWT text) and a URL where
  anyone can fetch it (the online verification route).

``digest16`` is the first 16 bytes of SHA-256 over the rest, checked before anything is
decompressed or parsed: a payload with one wrong byte is refused by the ``qr_hash`` check.
Base45 is RFC 9285. The embedded form is used when the code stays within ``MAX_VERSION``
(version 25 at error correction level M: 117x117 modules, still read by phone cameras at
print size); larger credentials get the reference.

PNGs come in two sizes (``SIZES``): ``print``, 10 px per module (0.85 mm modules on a 300 dpi
raster: a version-25 code is 10.6 cm wide with its quiet zone), and ``screen``, 4 px per module
(a phone showing the code to a scanner).
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from typing import Any

import segno
import zxingcpp
from PIL import Image

from govchain.credentials import QR_CHECK, CredentialCheckFailed
from govchain.credentials.jcs import canonicalize
from govchain.errors import GovchainError, SchemaViolation

EMBEDDED = "GC1E:"
"""Prefix of a payload that carries the credential."""
REFERENCE = "GC1R:"
"""Prefix of a payload that carries a reference (id, hash, URL)."""
MAX_VERSION = 25
"""Largest QR version used for an embedded credential (error correction level M)."""
SIZES = {"print": 10, "screen": 4}
"""Pixels per module of each PNG size: ``print`` (300 dpi: ~0.85 mm modules), ``screen``."""
MAX_INFLATED = 1 << 20
"""Largest decompressed credential accepted from a QR code (bounds a zlib bomb)."""

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}
_DIGEST = 16


def b45encode(data: bytes) -> str:
    """Return the RFC 9285 base45 text of ``data``."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += (_B45[c], _B45[d], _B45[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (_B45[c], _B45[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode RFC 9285 base45; ``format`` check failure if ``text`` is not base45."""
    try:
        values = [_B45_INDEX[c] for c in text]
    except KeyError:
        raise CredentialCheckFailed("format", "QR payload is not base45") from None
    if len(values) % 3 == 1:
        raise CredentialCheckFailed("format", "QR payload has a base45 length of 3k+1")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise CredentialCheckFailed("format", "QR payload has a base45 triple > 65535")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise CredentialCheckFailed("format", "QR payload has a base45 pair > 255")
            out.append(n)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Reference:
    """A compact reference to a credential held elsewhere."""

    id: str
    """The credential id."""
    sha256: str
    """Hex SHA-256 of the credential's JCS bytes (or of the SD-JWT text)."""
    url: str
    """Where the credential can be fetched (the online verification route)."""


@dataclass(frozen=True, slots=True)
class QrContent:
    """What a QR payload carries: exactly one of the three fields is set."""

    credential: dict[str, Any] | None = None
    """An embedded VC."""
    sd_jwt: str | None = None
    """An embedded SD-JWT."""
    reference: Reference | None = None
    """A reference to a credential."""


def content_bytes(credential: dict[str, Any] | str) -> bytes:
    """Return the bytes a QR embeds or a reference hashes: JCS of a VC, ASCII of an SD-JWT."""
    if isinstance(credential, str):
        return credential.encode("ascii")
    return canonicalize(credential)


def _frame(prefix: str, body: bytes) -> str:
    return prefix + b45encode(hashlib.sha256(body).digest()[:_DIGEST] + body)


def embedded_payload(credential: dict[str, Any] | str) -> str:
    """Return the ``GC1E:`` payload embedding a VC (dict) or an SD-JWT (str)."""
    kind = b"S" if isinstance(credential, str) else b"V"
    return _frame(EMBEDDED, zlib.compress(kind + content_bytes(credential), 9))


def reference_payload(credential: dict[str, Any] | str, credential_id: str, url: str) -> str:
    """Return the ``GC1R:`` payload referring to ``credential`` (hash) at ``url``."""
    digest = hashlib.sha256(content_bytes(credential)).hexdigest()
    return _frame(REFERENCE, canonicalize({"id": credential_id, "sha256": digest, "url": url}))


def fits(payload: str, max_version: int = MAX_VERSION) -> bool:
    """Return whether ``payload`` fits a QR code of at most ``max_version`` at level M."""
    try:
        code = segno.make(payload, error="m", boost_error=False, micro=False)
    except segno.DataOverflowError:
        return False
    return isinstance(code.version, int) and code.version <= max_version


def payload_for(
    credential: dict[str, Any] | str,
    *,
    credential_id: str,
    url: str,
    max_version: int = MAX_VERSION,
) -> str:
    """Return the embedded payload if it fits ``max_version``, else the reference payload."""
    embedded = embedded_payload(credential)
    if fits(embedded, max_version):
        return embedded
    return reference_payload(credential, credential_id, url)


def decode_payload(text: str) -> QrContent:
    """Parse a QR payload; ``qr_hash`` check failure if its bytes differ from its digest,
    ``format`` failure if it is not one of ours."""
    if not isinstance(text, str) or text[:5] not in (EMBEDDED, REFERENCE):
        raise CredentialCheckFailed("format", "not a govchain credential QR payload")
    framed = b45decode(text[5:])
    digest, body = framed[:_DIGEST], framed[_DIGEST:]
    if len(digest) != _DIGEST or hashlib.sha256(body).digest()[:_DIGEST] != digest:
        raise CredentialCheckFailed(QR_CHECK, "QR payload bytes do not match their SHA-256")
    try:
        if text.startswith(REFERENCE):
            ref = json.loads(body)
            return QrContent(
                reference=Reference(str(ref["id"]), str(ref["sha256"]), str(ref["url"]))
            )
        inflater = zlib.decompressobj()
        inner = inflater.decompress(body, MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof:
            raise CredentialCheckFailed("format", "embedded credential is too large or cut")
        kind, content = inner[:1], inner[1:]
        if kind == b"S":
            return QrContent(sd_jwt=content.decode("ascii"))
        if kind == b"V":
            credential = json.loads(content)
            if isinstance(credential, dict):
                return QrContent(credential=credential)
    except (zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        pass
    raise CredentialCheckFailed("format", "QR payload content is not a credential")


def check_reference(reference: Reference, credential: dict[str, Any] | str) -> None:
    """Check a fetched credential against a reference: ``qr_hash`` failure if it differs."""
    try:
        actual = hashlib.sha256(content_bytes(credential)).hexdigest()
    except (GovchainError, UnicodeEncodeError):
        raise CredentialCheckFailed("format", "fetched credential cannot be encoded") from None
    if actual != reference.sha256:
        raise CredentialCheckFailed(
            QR_CHECK,
            "fetched credential's SHA-256 differs from the QR code's",
            expected=reference.sha256,
            actual=actual,
        )


def render_png(payload: str, size: str = "screen") -> bytes:
    """Return a PNG of the QR code of ``payload`` at ``size`` ``"print"`` or ``"screen"``."""
    scale = SIZES.get(size)
    if scale is None:
        raise SchemaViolation(f"size must be one of {sorted(SIZES)}", field="size")
    code = segno.make(payload, error="m", boost_error=False, micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def read_png(png: bytes) -> str:
    """Return the text of the QR code in a PNG (or any image Pillow reads)."""
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (OSError, ValueError):
        raise CredentialCheckFailed("format", "not an image") from None
    for result in zxingcpp.read_barcodes(image):
        if result.format == zxingcpp.BarcodeFormat.QRCode:
            return str(result.text)
    raise CredentialCheckFailed("format", "no QR code found in the image")
