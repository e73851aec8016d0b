"""GB/T 36903 e-licence metadata and e-bill fields, as ``credentialSubject`` members.

GB/T 36903 (电子证照 元数据规范) names the metadata every e-licence carries; the table maps each
element to the JSON name our context (``contexts.GOVCHAIN_V1``) defines, so an existing
e-licence system maps field for field. Dates are ``YYYY-MM-DD`` (``xsd:date``); amounts are
integer fen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from govchain.credentials.contexts import GOVCHAIN_V1, VC_V2
from govchain.errors import SchemaViolation

GBT_36903_TERMS: tuple[tuple[str, str], ...] = (
    ("证照标识", "licenceIdentifier"),
    ("证照名称", "licenceName"),
    ("证照编号", "licenceNumber"),
    ("证照类型代码", "licenceTypeCode"),
    ("持证主体", "holder"),
    ("持证主体代码", "holderIdentifier"),
    ("持证主体代码类型", "holderIdentifierType"),
    ("证照颁发机构", "issuingAuthority"),
    ("证照颁发机构代码", "issuingAuthorityCode"),
    ("证照颁发日期", "issueDate"),
    ("证照有效期起始日期", "licenceValidFrom"),
    ("证照有效期截止日期", "licenceValidUntil"),
)
"""(GB/T 36903 element, our ``credentialSubject`` member) pairs."""

E_BILL_TERMS: tuple[tuple[str, str], ...] = (
    ("票据代码", "billCode"),
    ("票据号码", "billNumber"),
    ("校验码", "checkCode"),
    ("票据类型", "billType"),
    ("开票日期", "issueDate"),
    ("交款人", "payer"),
    ("交款人代码", "payerIdentifier"),
    ("收款单位", "payee"),
    ("收款单位代码", "payeeIdentifier"),
    ("金额合计(分)", "totalAmountFen"),
    ("币种", "currency"),
    ("项目明细", "billItems"),
    ("被冲红票据", "reverses"),
)
"""(e-bill element, our ``credentialSubject`` member) pairs."""

LICENCE_TYPE = "ElectronicLicenceCredential"
"""Credential type of an e-licence (besides ``VerifiableCredential``)."""
BILL_TYPE = "ElectronicBillCredential"
"""Credential type of an e-bill."""
CONTEXTS = [VC_V2, GOVCHAIN_V1]
"""The ``@context`` of every credential we issue."""

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _text(name: str, value: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise SchemaViolation(f"{name} must be a string of 1 to {limit} characters", field=name)
    return value


def _date(name: str, value: str) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise SchemaViolation(f"{name} must be a date YYYY-MM-DD", field=name)
    return value


@dataclass(frozen=True, slots=True)
class LicenceMetadata:
    """The GB/T 36903 metadata of one e-licence."""

    licence_identifier: str
    """证照标识: the licence's unique identifier (also the credential id's tail)."""
    licence_name: str
    """证照名称, e.g. ``"营业执照"``."""
    licence_number: str
    """证照编号, as printed on the licence."""
    licence_type_code: str
    """证照类型代码 from the national e-licence catalogue."""
    holder: str
    """持证主体: the holder's name (person or enterprise)."""
    holder_identifier: str
    """持证主体代码: resident identity number or unified social credit code."""
    holder_identifier_type: str
    """持证主体代码类型: ``"USCC"`` or ``"RIN"`` (resident identity number)."""
    issuing_authority: str
    """证照颁发机构 (name)."""
    issuing_authority_code: str
    """证照颁发机构代码 (the authority's unified social credit code)."""
    issue_date: str
    """证照颁发日期, ``YYYY-MM-DD``."""
    valid_from: str
    """证照有效期起始日期, ``YYYY-MM-DD``."""
    valid_until: str | None
    """证照有效期截止日期, ``YYYY-MM-DD``; ``None`` for a licence valid without limit."""

    def to_subject(self, subject_id: str | None = None) -> dict[str, Any]:
        """Return the ``credentialSubject`` members (validated), with ``id`` if given."""
        subject: dict[str, Any] = {} if subject_id is None else {"id": subject_id}
        subject["type"] = "ElectronicLicence"
        values = (
            self.licence_identifier,
            self.licence_name,
            self.licence_number,
            self.licence_type_code,
            self.holder,
            self.holder_identifier,
            self.holder_identifier_type,
            self.issuing_authority,
            self.issuing_authority_code,
        )
        for (_, name), value in zip(GBT_36903_TERMS, values, strict=False):
            subject[name] = _text(name, value)
        subject["issueDate"] = _date("issueDate", self.issue_date)
        subject["licenceValidFrom"] = _date("licenceValidFrom", self.valid_from)
        if self.valid_until is not None:
            subject["licenceValidUntil"] = _date("licenceValidUntil", self.valid_until)
        return subject

    @staticmethod
    def from_subject(subject: dict[str, Any]) -> LicenceMetadata:
        """Read the metadata back from a ``credentialSubject``; ``SchemaViolation`` if absent."""
        try:
            return LicenceMetadata(
                licence_identifier=_text("licenceIdentifier", subject["licenceIdentifier"]),
                licence_name=_text("licenceName", subject["licenceName"]),
                licence_number=_text("licenceNumber", subject["licenceNumber"]),
                licence_type_code=_text("licenceTypeCode", subject["licenceTypeCode"]),
                holder=_text("holder", subject["holder"]),
                holder_identifier=_text("holderIdentifier", subject["holderIdentifier"]),
                holder_identifier_type=_text(
                    "holderIdentifierType", subject["holderIdentifierType"]
                ),
                issuing_authority=_text("issuingAuthority", subject["issuingAuthority"]),
                issuing_authority_code=_text(
                    "issuingAuthorityCode", subject["issuingAuthorityCode"]
                ),
                issue_date=_date("issueDate", subject["issueDate"]),
                valid_from=_date("licenceValidFrom", subject["licenceValidFrom"]),
                valid_until=(
                    None
                    if subject.get("licenceValidUntil") is None
                    else _date("licenceValidUntil", subject["licenceValidUntil"])
                ),
            )
        except KeyError as exc:
            raise SchemaViolation(f"credentialSubject.{exc.args[0]} is missing") from None


def licence_credential(
    *,
    credential_id: str,
    issuer: str,
    metadata: LicenceMetadata,
    valid_from: str,
    valid_until: str | None = None,
    subject_id: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Return an unsigned e-licence credential (VC 2.0) carrying ``metadata``.

    ``valid_from`` / ``valid_until`` are the credential's XML Schema ``dateTime`` values (UTC,
    ``Z``); ``issuer`` is the department's ``did:govchain`` DID.
    """
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", LICENCE_TYPE],
        "issuer": issuer,
        "name": name or metadata.licence_name,
        "validFrom": valid_from,
        "credentialSubject": metadata.to_subject(subject_id),
    }
    if valid_until is not None:
        credential["validUntil"] = valid_until
    return credential
