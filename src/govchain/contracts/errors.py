"""Errors raised by contract calls; each becomes a failed receipt with its code."""

from govchain.errors import NotFound, SchemaViolation


class UnknownContract(NotFound):
    """No contract of that name is deployed."""

    code = "unknown_contract"


class UnknownMethod(NotFound):
    """The contract has no such entry point."""

    code = "unknown_method"


class BadArguments(SchemaViolation):
    """The call's arguments do not match the entry point's declared types."""

    code = "bad_arguments"
