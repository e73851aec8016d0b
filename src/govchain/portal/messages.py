"""Messages the templates show from data (statuses, kinds of user), listed here so that the
catalogue extraction finds them: ``N_`` marks a message without translating it."""

from __future__ import annotations


def N_(message: str) -> str:
    """Return ``message`` unchanged (marks it for extraction)."""
    return message


CASE_STATUSES = (
    N_("submitted"),
    N_("accepted"),
    N_("supplement_requested"),
    N_("decided"),
    N_("issued"),
    N_("closed"),
    N_("withdrawn"),
)
STEP_STATUSES = (N_("waiting"), N_("open"), N_("blocked"), N_("done"))
OUTCOMES = (N_("approved"), N_("rejected"), N_("revoked"), N_("expired"))
KINDS = (N_("citizen"), N_("enterprise"), N_("staff"), N_("department"))
