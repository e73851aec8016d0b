"""The one exception tree of govchain.

::

    GovchainError
    ├── InvalidInput            bad data from outside: rejected, nothing changed (HTTP 4xx)
    │   ├── MalformedEncoding       not JSON / not canonical-encodable / floats
    │   ├── SchemaViolation         wrong field, type or value
    │   ├── TooLarge                over a size limit
    │   ├── BadSignature            signature does not verify
    │   ├── UnknownSigner           signer is not a member of the network
    │   ├── ReplayedNonce           nonce already used (or below the replay window)
    │   ├── WrongChain              transaction for another chain id
    │   └── ProofError              a proof or receipt does not verify
    │       └── RootMismatch            calculated root differs from the expected one
    ├── NotFound                 no such block / transaction / key               (HTTP 404)
    ├── Forbidden                authenticated but not allowed                   (HTTP 403)
    ├── Conflict                 duplicate transaction, state conflict           (HTTP 409)
    ├── Unauthenticated          missing, bad, expired or revoked credentials    (HTTP 401)
    ├── Unavailable              node or ordering cannot take work now           (HTTP 503)
    │   ├── OrderingUnavailable     the ordering service (etcd) has no majority / is unreachable
    │   └── NotProposer             this node lost (or never held) the proposer lease
    └── IntegrityError           stored data is corrupt or diverges              (HTTP 500 only
        │                        when a node is serving while corrupt; the node refuses to start)
        └── Divergence              this node's state root differs from the quorum's

Contract errors (``govchain.contracts.errors``) are leaves of this tree: ``UnknownContract``,
``UnknownMethod`` (NotFound); ``BadArguments`` (SchemaViolation); ``ContractRefused``
(InvalidInput); ``ContractFailed``, ``ContractError`` (Conflict); ``NotApproved``,
``UnapprovedCode``, ``ReadOnlyCall`` (Forbidden); ``BudgetExhausted`` (HTTP 422).

Nothing below ``api/`` knows HTTP: ``api/problems.py`` maps this tree to status codes.
Every error has a stable machine-readable ``code``.
"""

from __future__ import annotations

from typing import Any


class GovchainError(Exception):
    """Root of all govchain errors; ``code`` is stable and machine-readable."""

    code = "govchain_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly description (code, message and typed fields)."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        out.update(self.fields)
        return out


class InvalidInput(GovchainError):
    """Input from outside is not acceptable; nothing was changed."""

    code = "invalid_input"


class MalformedEncoding(InvalidInput):
    """Bytes are not valid JSON, or the value cannot be canonically encoded."""

    code = "malformed_encoding"


class SchemaViolation(InvalidInput):
    """A field is missing, unknown, of the wrong type or out of range."""

    code = "schema_violation"


class TooLarge(InvalidInput):
    """Input is larger than the configured limit."""

    code = "too_large"


class BadSignature(InvalidInput):
    """A signature does not verify under the claimed key."""

    code = "bad_signature"


class UnknownSigner(InvalidInput):
    """The signer is not a current member of the network."""

    code = "unknown_signer"


class ReplayedNonce(InvalidInput):
    """The (signer, nonce) pair was already used or is below the replay window."""

    code = "replayed_nonce"


class WrongChain(InvalidInput):
    """The transaction names another chain id."""

    code = "wrong_chain"


class ProofError(InvalidInput):
    """A proof, receipt or checkpoint does not verify."""

    code = "proof_error"


class RootMismatch(ProofError):
    """A calculated root differs from the expected one."""

    code = "root_mismatch"

    def __init__(self, what: str, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"{what}: expected {expected.hex()}, calculated {calculated.hex()}",
            expected=expected.hex(),
            calculated=calculated.hex(),
        )
        self.expected = expected
        self.calculated = calculated


class NotFound(GovchainError):
    """The requested object does not exist."""

    code = "not_found"


class Forbidden(GovchainError):
    """The caller is known but not allowed to do this."""

    code = "forbidden"


class Conflict(GovchainError):
    """The request conflicts with existing state (e.g. duplicate transaction)."""

    code = "conflict"


class DuplicateTransaction(Conflict):
    """A transaction with the same id is already pending or committed."""

    code = "duplicate_transaction"


class Unavailable(GovchainError):
    """The node or the ordering service cannot take work right now."""

    code = "unavailable"


class IntegrityError(GovchainError):
    """Stored data is corrupt, or this node diverges from what it committed."""

    code = "integrity_error"


# --- identity (docs/identity.md) --------------------------------------------------------------


class InvalidIdentityNumber(SchemaViolation):
    """A resident identity number or unified social credit code is not valid (reason given)."""

    code = "invalid_identity_number"


class WeakPassword(SchemaViolation):
    """A new password does not meet the password policy."""

    code = "weak_password"


class Unauthenticated(GovchainError):
    """The caller is not (or no longer) authenticated: missing, bad or expired credentials."""

    code = "unauthenticated"


class InvalidToken(Unauthenticated):
    """A bearer token is forged, expired, wrongly signed, from another issuer or revoked."""

    code = "invalid_token"


class BadCredentials(Unauthenticated):
    """The login name, password or one-time code is wrong."""

    code = "bad_credentials"


class AccountLocked(Forbidden):
    """Too many failed logins: the account is locked for a while."""

    code = "account_locked"


class OAuthError(InvalidInput):
    """An OAuth 2.0 / OpenID Connect request is invalid; ``error`` is the RFC 6749 code."""

    code = "oauth_error"


class CallFailed(Conflict):
    """A transaction caused through the API was committed with a failed or rejected receipt."""

    code = "call_failed"


class OrderingUnavailable(Unavailable):
    """The ordering service (the etcd cluster) cannot order transactions now."""

    code = "ordering_unavailable"


class NotProposer(Unavailable):
    """This node does not hold the proposer lease (any more); its block was not appended."""

    code = "not_proposer"


class Divergence(IntegrityError):
    """This node's checkpoint at a height differs from the one a quorum of departments signed."""

    code = "divergence"
