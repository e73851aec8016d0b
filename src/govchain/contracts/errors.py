"""Errors raised by contract calls; each becomes a failed receipt with its code."""

from govchain.errors import (
    Conflict,
    Forbidden,
    GovchainError,
    InvalidInput,
    NotFound,
    SchemaViolation,
)


class UnknownContract(NotFound):
    """No contract of that name is deployed."""

    code = "unknown_contract"


class UnknownMethod(NotFound):
    """The contract has no such entry point."""

    code = "unknown_method"


class BadArguments(SchemaViolation):
    """The call's arguments do not match the entry point's declared types."""

    code = "bad_arguments"


class ContractFailed(Conflict):
    """A contract refused the call (its own typed reason, e.g. ``notary.already_notarised``)."""

    code = "contract_failed"


class BudgetExhausted(GovchainError):
    """A call used up its execution budget (steps) or its call depth."""

    code = "budget_exhausted"


class ContractRefused(InvalidInput):
    """A contract package failed the install-time check; ``findings`` name file, line, reason."""

    code = "contract_refused"


class NotApproved(Forbidden):
    """The approvals recorded do not satisfy the endorsement policy."""

    code = "not_approved"


class UnapprovedCode(Forbidden):
    """Code whose hash differs from the committed definition (or no definition): not run."""

    code = "unapproved_code"


class ReadOnlyCall(Forbidden):
    """A view (read-only call) tried to write state."""

    code = "read_only_call"


class ContractError(Conflict):
    """Contract code raised an unexpected exception (a bug in the contract, not the platform)."""

    code = "contract_error"
