"""Request bodies of the service, case and registry endpoints (``XCreate`` in)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class DefinitionCreate(BaseModel):
    """A service definition to check or propose (docs/services.md lists its fields)."""

    model_config = _STRICT
    definition: dict[str, Any] = Field(description="The definition (JSON object).")


class DefinitionApproval(BaseModel):
    """A department's approval of a proposed definition."""

    model_config = _STRICT
    hash: str = Field(pattern="^[0-9a-f]{64}$", description="Hash of the proposed definition.")


class CalendarYear(BaseModel):
    """Proposal (or approval) of one year of the working-day calendar."""

    model_config = _STRICT
    year: int = Field(ge=2000, le=2100)
    approve: bool = Field(default=False, description="Approve the pending proposal instead.")
    holidays: list[str] = Field(default_factory=list, max_length=60)
    workdays: list[str] = Field(default_factory=list, max_length=30)
    source: str = Field(default="on-chain calendar update", max_length=300)


class CaseCreate(BaseModel):
    """An application (submitted by the logged-in applicant)."""

    model_config = _STRICT
    service: str = Field(max_length=40, description="Service code.")
    form: dict[str, Any] = Field(description="The application form (checked against its schema).")
    materials: dict[str, str] = Field(
        default_factory=dict, description="Material id -> hash of a file uploaded before."
    )
    consents: list[str] = Field(
        default_factory=list,
        description="Materials another department holds that the applicant consents to have read.",
    )
    subject: str = Field(
        default="", max_length=18, description="USCC of the enterprise applied for."
    )
    particulars: dict[str, Any] | None = Field(
        default=None, description="Public registration particulars (registration services)."
    )


class SupplementCreate(BaseModel):
    """An applicant's answer to a supplement request (补正)."""

    model_config = _STRICT
    form: dict[str, Any] | None = None
    materials: dict[str, str] = Field(default_factory=dict)


class WithdrawalCreate(BaseModel):
    """An applicant withdraws a case."""

    model_config = _STRICT
    reason: str = Field(default="", max_length=500)


class ObjectionCreate(BaseModel):
    """An objection to a case's public notice (e.g. a creditor during simplified deregistration)."""

    model_config = _STRICT
    step: str = Field(max_length=40)
    text: str = Field(min_length=1, max_length=500)


class StaffActionCreate(BaseModel):
    """A staff member's transition of a case; which fields apply depends on the transition."""

    model_config = _STRICT
    step: str | None = Field(default=None, max_length=40)
    result: Literal["pass", "fail"] | None = None
    note: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=500)
    outcome: Literal["approve", "reject"] | None = None
    items: list[str] | None = Field(default=None, max_length=20)
    to: str | None = Field(default=None, max_length=128)
    index: int | None = Field(default=None, ge=0, le=1000)
    upheld: bool | None = None


class AgentCreate(BaseModel):
    """A person authorised to act for an enterprise."""

    model_config = _STRICT
    agent: str = Field(
        max_length=128, description="The person's user id (citizen/… or enterprise/…)."
    )


class NavigationCreate(BaseModel):
    """Answers to an industry's questionnaire (一业一证)."""

    model_config = _STRICT
    industry: str = Field(max_length=40)
    answers: dict[str, Any] = Field(default_factory=dict)
