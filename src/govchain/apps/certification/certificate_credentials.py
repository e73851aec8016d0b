"""The verifiable credential (电子证照) of a certificate a case issued.

A certificate issued by the decision of a matter is in the certificate registry
(``registry.certificate``) with a credential status index allocated in the deciding
transaction, as a licence is. ``certificate_draft`` maps the registry record onto the
GB/T 36903 e-licence terms the credentials package signs (``credentials.licence_terms``), puts
in ``licenceData`` the facts it rests on, each with the attestation that established it
(``certificates.certificate_of``), and keeps the record's status index: issuing it allocates
no index, and the registry's revocation of the certificate (a broken commitment) is the
credential's revocation bit. ``issue_certificate_credentials`` issues the credentials of a
holder's active certificates that have none yet, as ``CredentialService.issue_licences`` does
for an enterprise's licences.

The holder's name and resident identity number are personal data the identity directory keeps
off-chain: the caller passes them; the registry knows the holder only by their on-chain id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govchain.apps.certification.certificates import certificate_of
from govchain.credentials.issuance import Draft, china_date, iso_datetime
from govchain.credentials.licence_terms import LicenceMetadata, licence_credential
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
    number = str(record["number"])
    since, until = int(record["valid_from_ms"]), int(record["valid_until_ms"])
    metadata = LicenceMetadata(
        licence_identifier=f"{network}-{number}",
        licence_name=str(record["name"]["zh"]),
        licence_number=number,
        licence_type_code=stated.kind.type_code,
        holder=holder_name,
        holder_identifier=holder_id_number,
        holder_identifier_type="RIN",
        issuing_authority=authority,
        issuing_authority_code=issuer_did,
        issue_date=china_date(since),
        valid_from=china_date(since),
        valid_until=china_date(until) if until else None,
    )
    credential = licence_credential(
        credential_id=f"urn:govchain:{network}:certificate:{number}",
        issuer=issuer_did,
        metadata=metadata,
        valid_from=iso_datetime(since),
        valid_until=iso_datetime(until) if until else None,
    )
    # What the certificate rests on: each condition with the attestation (or the examiner's
    # step) that established it, so a verifier can ask the ledger for the answer it cites.
    credential["credentialSubject"]["licenceData"] = {
        "case": stated.case,
        "commitment": bool(record.get("commitment")),
        "facts": [
            {"step": f.step, "dept": f.dept, "statement": f.statement, "attestation": f.attestation}
            for f in stated.facts
        ],
    }
    return Draft(
        str(record["type"]), str(record["holder"]), credential, int(record["status_index"])
    )


def issue_certificate_credentials(
    service: CredentialService,
    certificates: Sequence[Mapping[str, Any]],
    cases: Mapping[str, Mapping[str, Any]],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    holder_name: str,
    holder_id_number: str,
    actor: str,
) -> list[Issued | dict[str, Any]]:
    """Issue the credential of each active certificate of one holder that has none yet (of the
    departments ``service`` issues for); ``cases`` by number, ``definitions`` by case number
    (the version each ran under); ``actor`` is the staff member issuing them. Returns the new
    ``Issued`` or, for a certificate already issued, its on-chain credential record."""
    names = {d.id: d.name for d in service.genesis.departments}
    served = set(service.served())
    done: list[Issued | dict[str, Any]] = []
    by_dept: dict[str, list[Draft]] = {}
    for cert in certificates:
        dept = str(cert["issuer"])
        if cert.get("status") != "active" or dept not in served:
            continue
        existing = [
            r
            for r in service.held([str(cert["holder"])])
            if r["issuer"] == dept and r["index"] == cert["status_index"]
        ]
        if existing:
            done.append(existing[0])
            continue
        number = str(cert["case"])
        by_dept.setdefault(dept, []).append(
            certificate_draft(
                cert,
                cases[number],
                definitions[number],
                network=service.network,
                issuer_did=service.did(dept),
                authority=names.get(dept, dept),
                holder_name=holder_name,
                holder_id_number=holder_id_number,
            )
        )
    for dept, drafts in sorted(by_dept.items()):
        done.extend(service.issue(dept, drafts, actor=actor))
    return done
