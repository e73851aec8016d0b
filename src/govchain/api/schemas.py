"""Request and response schemas of the API (pydantic, for validation of reads and for OpenAPI).

Transactions are never parsed by these models: the node parses the raw bytes itself (sizes,
canonical values, no floats). ``TransactionCreate`` only documents the request body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# --- transactions (requests) -----------------------------------------------------------------


class TransactionBodyCreate(BaseModel):
    """The signed body of a transaction (canonical JSON: sorted keys, integers only)."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = Field(description="Transaction format version.")
    chain: str = Field(description="Chain id of the network.", max_length=64)
    signer: str = Field(description="Member id whose key signs, e.g. 'tax/admin'.")
    nonce: int = Field(description="Per-signer number never accepted twice.", ge=0)
    contract: str = Field(description="Contract called, e.g. 'kv'.")
    method: str = Field(description="Entry point, e.g. 'put'.")
    args: dict[str, Any] = Field(description="Arguments of the call (no floats anywhere).")
    actor: str = Field(description="Person or service acting (accountability).")
    case: str = Field(description="Case id the action belongs to; may be empty.")
    purpose: str = Field(description="Declared purpose; may be empty.")


def transaction_schema() -> dict[str, Any]:
    """Return the JSON schema of one transaction envelope (inline, no references)."""
    return {
        "title": "TransactionCreate",
        "type": "object",
        "additionalProperties": False,
        "required": ["body", "signature"],
        "properties": {
            "body": TransactionBodyCreate.model_json_schema(),
            "signature": {
                "type": "string",
                "pattern": "^[0-9a-f]+$",
                "description": "Hex signature of 'govchain/tx/v1\\0' + canonical body bytes.",
            },
        },
    }


def request_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """Return ``openapi_extra`` documenting a raw JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


# --- shared records ---------------------------------------------------------------------------


class ProblemPublic(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type: /problems/<code>.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    instance: str | None = Field(None, description="Request path (absent in batch results).")


class ProblemTypePublic(BaseModel):
    """Description of one error code."""

    type: str
    code: str
    title: str
    status: int
    description: str


class ReceiptPublic(BaseModel):
    """The outcome of a transaction."""

    status: Literal["ok", "failed", "rejected"]
    result: Any = None
    events: list[dict[str, Any]]
    error: dict[str, Any] | None = None


class CheckpointPublic(BaseModel):
    """What the departments' nodes signed after a block."""

    chain: str
    height: int
    block_hash: str
    state_root: str
    log_size: int
    log_root: str


class CheckpointSignaturePublic(BaseModel):
    """One department's signature of a checkpoint."""

    dept: str
    signature: str


class SignedCheckpointPublic(BaseModel):
    """A checkpoint with department signatures; a quorum (> 2/3) of them makes it final."""

    checkpoint: CheckpointPublic
    signatures: list[CheckpointSignaturePublic]


# --- transactions (responses) ------------------------------------------------------------------


class TransactionPendingPublic(BaseModel):
    """A transaction admitted and waiting for its block."""

    tx_id: str
    status: Literal["pending"]


class TransactionCommittedPublic(BaseModel):
    """A transaction durably committed, with its receipt."""

    tx_id: str
    status: Literal["committed"]
    height: int = Field(description="Block height.")
    index: int = Field(description="Index in the block.")
    log_index: int = Field(description="Index in the transaction log.")
    receipt: ReceiptPublic


class TransactionPublic(TransactionCommittedPublic):
    """A committed transaction as read back: location, envelope and receipt."""

    tx: dict[str, Any] = Field(description="The signed envelope {body, signature}.")


TransactionStatusPublic = Annotated[
    TransactionPublic | TransactionPendingPublic, Field(discriminator="status")
]


class BatchAcceptedPublic(BaseModel):
    """A batch item that was accepted."""

    tx_id: str
    status: Literal["committed", "pending"]


class BatchRejectedPublic(BaseModel):
    """A batch item that was rejected (it changed nothing)."""

    error: ProblemPublic


class BatchResultPublic(BaseModel):
    """Per-item outcome of a batch, in input order."""

    accepted: int
    rejected: int
    results: list[BatchAcceptedPublic | BatchRejectedPublic]


MEMBERSHIP_DOC = (
    "Proved membership changes below the checkpoint, oldest first (absent: genesis's "
    "departments signed it); each is checked against the departments before it."
)


class MembershipChangePublic(BaseModel):
    """A membership change: the ``network`` transaction's log entry, proved against the
    checkpoint of its block (signed by the departments in force before the change)."""

    log_index: int
    entry: dict[str, Any]
    inclusion_proof: list[str]
    checkpoint: SignedCheckpointPublic


class ReceiptBundlePublic(BaseModel):
    """A receipt verifiable offline with only the genesis file (``govchain verify-receipt``)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["govchain-receipt/1"]
    chain_id: str
    tx_id: str
    log_index: int
    entry: dict[str, Any]
    inclusion_proof: list[str]
    checkpoint: SignedCheckpointPublic
    membership: list[MembershipChangePublic] = Field(
        default_factory=list, description=MEMBERSHIP_DOC
    )


# --- blocks -----------------------------------------------------------------------------------


class HeaderPublic(BaseModel):
    """A block header."""

    chain: str
    height: int
    prev_hash: str
    timestamp_ms: int
    proposer: str
    tx_count: int
    tx_root: str
    state_root: str
    log_size: int
    log_root: str


class LogEntryPublic(BaseModel):
    """A transaction log entry: the transaction and its receipt."""

    log_index: int
    tx_id: str
    tx: dict[str, Any]
    receipt: ReceiptPublic


class BlockPublic(BaseModel):
    """A block: header, proposer signature, hash, transaction ids (and entries on request)."""

    height: int
    block_hash: str
    header: HeaderPublic
    signature: str = Field(description="Proposer's signature of the header.")
    tx_ids: list[str]
    entries: list[LogEntryPublic] | None = None


# --- state ------------------------------------------------------------------------------------


class StateProofPublic(BaseModel):
    """Proof of a key's value (or absence) under a state root (the key's bucket + path)."""

    bucket: int
    entries: list[str]
    path: list[str]


class StateVersionPublic(BaseModel):
    """One version of a state key."""

    version: int
    height: int
    tx_index: int
    tx_id: str
    exists: bool = Field(description="False when this version deleted the key.")
    value: Any = None
    value_encoding: Literal["json", "hex"] | None = Field(
        None, description="'json' if the stored bytes are canonical JSON, else 'hex'."
    )


class StatePublic(BaseModel):
    """The current value of a state key, with a proof against a signed checkpoint."""

    key: str = Field(description="The state key as requested (UTF-8 or hex).")
    key_hex: str = Field(description="The state key's bytes in hex.")
    exists: bool
    value: Any = None
    value_encoding: Literal["json", "hex"] | None = None
    version: int | None = Field(None, description="Current version (None: never written).")
    height: int | None = Field(None, description="Height of the block that wrote it.")
    tx_id: str | None = Field(None, description="Transaction that wrote it.")
    proof: StateProofPublic
    checkpoint: SignedCheckpointPublic | None = Field(
        None, description="Checkpoint whose state_root the proof leads to (None before block 1)."
    )
    membership: list[MembershipChangePublic] = Field(
        default_factory=list, description=MEMBERSHIP_DOC
    )


class StateHistoryPublic(BaseModel):
    """Versions of a state key, newest first."""

    key: str
    key_hex: str
    versions: list[StateVersionPublic]


# --- log --------------------------------------------------------------------------------------


class ConsistencyProofPublic(BaseModel):
    """RFC 9162 consistency proof between two sizes of the transaction log."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    from_root: str
    to_root: str
    proof: list[str]


class InclusionProofPublic(BaseModel):
    """RFC 9162 inclusion proof of one log leaf."""

    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]


# --- health -----------------------------------------------------------------------------------


class HealthPublic(BaseModel):
    """The node's health."""

    status: Literal["ok", "failed"]
    chain_id: str
    suite: str
    height: int
    log_size: int
    state_root: str
    last_block_ms: int | None
    pending: int
    committer_running: bool
    error: dict[str, Any] | None
