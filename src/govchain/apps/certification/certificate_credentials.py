"""The verifiable credential (电子证照) of a certificate a case issued.

A certificate issued by the decision of a matter is in the certificate registry
(``registry.certificate``) with a credential status index allocated in the deciding transaction,
as a licence is. ``certificate_draft`` checks the record against its case and has the
credentials package map it onto the GB/T 36903 e-licence terms
(``issuance.registry_certificate_draft``), with in ``licenceData`` the facts it rests on, each
with the attestation that established it (``certificates.certificate_of``), and keeps the
record's status index: issuing it allocates no index, and the registry's revocation of the
certificate (a broken commitment) is the credential's revocation bit.
``issue_certificate_credentials`` issues the credentials of a holder's active certificates that
have none yet, as ``CredentialService.issue_licences`` does for an enterprise's licences.

The holder's name and resident identity number are personal data the identity directory keeps
off-chain: the caller passes them; the registry knows the holder only by their on-chain id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govchain.apps.certification.certificates import certificate_of
from govchain.credentials.issuance import Draft, registry_certificate_draft
from govchain.credentials.service import CredentialService, Issued
from govchain.errors import Conflict


def certificate_draft(
    record: Mapping[str, Any],
    case: Mapping[str, Any],
    definition: Mapping[str, Any],
    *,
    network: str,
    issuer_did: str,
    authority: str,
    holder_name: str,
    holder_id_number: str,
) -> Draft:
    """Return the draft credential of an active registry certificate ``record``, issued by
    ``case`` (run under ``definition``); ``authority`` is the issuing department's name."""
    if record.get("status") != "active":
        raise Conflict(
            f"certificate {record.get('number')} is {record.get('status')}: only an active "
            "certificate gets a credential",
            certificate=record.get("number"),
        )
    if case.get("number") != record.get("case"):
        raise Conflict(
            f"certificate {record.get('number')} was issued by case {record.get('case')}, "
            f"not {case.get('number')}",
            certificate=record.get("number"),
        )
    stated = certificate_of(case, definition)
    if stated.kind.kind != record.get("type") or stated.holder != record.get("holder"):
        raise Conflict(
            f"certificate {record.get('number')} is not the one case {case.get('number')} "
            "stands for",
            certificate=record.get("number"),
        )
    # What the certificate rests on: each condition with the attestation (or the examiner's
    # step) that established it, so a verifier can ask the ledger for the answer it cites.
    data = {
        "case": stated.case,
        "commitment": bool(record.get("commitment")),
        "facts": [
            {"step": f.step, "dept": f.dept, "statement": f.statement, "attestation": f.attestation}
            for f in stated.facts
        ],
    }
    return registry_certificate_draft(
        record,
        type_code=stated.kind.type_code,
        data=data,
        network=network,
        issuer_did=issuer_did,
        authority=authority,
        holder_name=holder_name,
        holder_id_number=holder_id_number,
    )


def issue_certificate_credentials(
    service: CredentialService,
    certificates: Sequence[Mapping[str, Any]],
    cases: Mapping[str, Mapping[str, Any]],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    holder_name: str,
    holder_id_number: str,
    actor: str | None = None,
) -> list[Issued | dict[str, Any]]:
    """Issue the credential of each active certificate of one holder that has none yet (of the
    departments ``service`` issues for); ``cases`` by number, ``definitions`` by case number
    (the version each ran under); ``actor`` is the staff member issuing them. Returns the new
    ``Issued`` or, for a certificate already issued, its on-chain credential record."""
    names = {d.id: d.name for d in service.genesis.departments}
    served = set(service.served())
    drafts = [
        certificate_draft(
            cert,
            cases[str(cert["case"])],
            definitions[str(cert["case"])],
            network=service.network,
            issuer_did=service.did(str(cert["issuer"])),
            authority=names.get(str(cert["issuer"]), str(cert["issuer"])),
            holder_name=holder_name,
            holder_id_number=holder_id_number,
        )
        for cert in certificates
        if cert.get("status") == "active" and cert.get("issuer") in served
    ]
    return service.issue_registered(drafts, actor=actor)
