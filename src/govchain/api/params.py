"""Path and query parameters several routes share, with the constraints they are checked
against, so that the OpenAPI description states them (a value outside them is a 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

HEX64 = "^[0-9a-f]{64}$"
"""64 lower-case hex characters: a hash (document digest, definition hash)."""

TX_ID = "^[0-9a-fA-F]{64}$"
"""A transaction id as a path parameter: 64 hex characters (either case is read)."""

USCC = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
"""Shape of a unified social credit code (GB 32100): 18 characters of its alphabet, the
region code (characters 3 to 8) digits; the 18th is a check character the schema cannot
express (a wrong one is a 422 ``invalid_identity_number`` or ``schema_violation``)."""

DEPT = "^[a-z][a-z0-9_-]{0,31}$"
"""A department id, as genesis allows it."""

TxIdPath = Annotated[
    str, Path(pattern=TX_ID, description="Transaction id: 64 hex characters (its hash).")
]
"""A transaction id in a path."""

DigestPath = Annotated[
    str, Path(pattern=HEX64, description="The document's hash: 64 lower-case hex characters.")
]
"""A document digest in a path."""

UsccPath = Annotated[
    str, Path(pattern=USCC, description="Unified social credit code (18 characters, GB 32100).")
]
"""An enterprise's unified social credit code in a path."""

DeptPath = Annotated[str, Path(pattern=DEPT, description="Department id, e.g. `tax`.")]
"""A department id in a path."""
