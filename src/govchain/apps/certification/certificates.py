"""The certificate each matter's approval stands for, and its content from the decided case.

A matter's decision is what a citizen later shows a third party (a school, a developer's sales
office, a household registration desk): ``data/certificates.json`` names, per matter, the
certificate it stands for (kind, name, e-licence type code, validity). ``certificate_of``
reads an approved case and returns what such a certificate states: who holds it, which
department issues it, when, until when, and each fact it rests on with the attestation (or the
person-made step) that established it — the claims a credential issuer signs. Each matter's
definition issues that certificate (its ``certificate.issue`` output, the same kind, name and
validity) into the certificate registry in the transaction of the approval;
``certificate_credentials`` makes the registry's record a verifiable credential with these facts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from govchain.errors import Conflict, NotFound

DAY_MS = 86_400_000
"""Milliseconds in a day."""


@dataclass(frozen=True, slots=True)
class CertificateKind:
    """The certificate a matter's approval stands for."""

    service: str
    """Code of the matter."""
    kind: str
    """Certificate kind (recorded with the credential)."""
    name: Mapping[str, str]
    """Display name (zh, en)."""
    type_code: str
    """E-licence type code (GB/T 36903 证照类型代码, our catalogue's)."""
    validity_days: int
    """Days it stays valid from the decision (0: no end, e.g. a marriage certificate)."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One condition a certificate rests on."""

    step: str
    """Step of the case that established it."""
    dept: str
    """Department that answered or examined it."""
    statement: str
    """What it says (a check's statement, or the examiner's note)."""
    attestation: str
    """Id of the attestation that answered it ('' for a person-made step)."""


@dataclass(frozen=True, slots=True)
class CaseCertificate:
    """What the certificate of an approved case states."""

    kind: CertificateKind
    """Which certificate."""
    case: str
    """Number of the case that decided it."""
    holder: str
    """On-chain id of the citizen it is about."""
    issuer: str
    """Department that decided the matter and issues it."""
    issued_ms: int
    """Time of the decision (block time, Unix ms)."""
    valid_until_ms: int
    """End of validity (0: none)."""
    facts: tuple[Fact, ...]
    """The conditions it rests on, in step order."""


@cache
def certificate_kinds() -> dict[str, CertificateKind]:
    """Return the certificate of each matter, by matter code."""
    text = resources.files(__package__).joinpath("data/certificates.json").read_text("utf-8")
    return {
        code: CertificateKind(code, c["kind"], c["name"], c["type_code"], c["validity_days"])
        for code, c in json.loads(text).items()
    }


def certificate_of(case: Mapping[str, Any], definition: Mapping[str, Any]) -> CaseCertificate:
    """Return the certificate an approved ``case`` of one of the matters stands for
    (``definition`` is the version it ran under). ``NotFound`` for a service that issues no
    certificate, ``Conflict`` for a case that was not approved or whose approval was revoked."""
    kind = certificate_kinds().get(str(case.get("service")))
    if kind is None:
        raise NotFound(f"service {case.get('service')!r} issues no certificate")
    if case.get("outcome") != "approved" or case.get("status") not in ("issued", "closed"):
        raise Conflict(
            f"case {case.get('number')} is {case.get('status')} ({case.get('outcome') or '-'}): "
            "only an approved case stands for a certificate",
            state=case.get("status"),
        )
    steps = {s["id"]: s for s in definition["steps"]}
    facts = []
    for st in case["steps"]:
        d = steps[st["id"]]
        check = d.get("check")
        statement = check["statement"] if check else (st["note"] or d["name"]["zh"])
        facts.append(Fact(st["id"], d["dept"], statement, st["attestation"]))
    decided = int(case["decided_ms"])
    until = decided + kind.validity_days * DAY_MS if kind.validity_days else 0
    return CaseCertificate(
        kind=kind,
        case=str(case["number"]),
        holder=str(case["applicant"]),
        issuer=str(definition["owner"]),
        issued_ms=decided,
        valid_until_ms=until,
        facts=tuple(facts),
    )
