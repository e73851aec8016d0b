"""My data (我的数据): who read my data, when and why, and my consents.

- **Access receipts.** Every read of a record about the person (their resident identity
  number, or an enterprise's credit code) is logged on-chain before the owner department
  answers it (``sharing.reads``), and so is every yes/no attestation about them
  (``sharing.attestations``). The page lists both from the ledger view the API's
  ``/v1/sharing/subjects/{subject}/receipts`` returns: department, person, case, purpose,
  what was read (resource, fields, how many records), each with its transaction's receipt.
- **Consents.** When applying, a person may consent to a department answering for a material
  it already holds (``consents`` of the case, on-chain). The page lists them per case, with
  whether the department has answered; a consent ends with its case (decided, withdrawn,
  closed). Withdrawing an application that is still open ends its consents at once: the
  department's node stops answering for it (the case worker answers only open cases).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from govchain.errors import GovchainError
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.web import desk_of, language, node_of, render, require

router = APIRouter(include_in_schema=False)

OPEN = ("submitted", "accepted", "supplement_requested")
"""Case statuses in which a consent is in effect (and the application can be withdrawn)."""
MAX_CASES = 1000
"""Cases looked at for consents."""
CONSENT_STATES = {
    "pending": N_("Waiting for the department's answer"),
    "yes": N_("Answered: yes"),
    "no": N_("Answered: no"),
}
"""How far each consent got."""


def subject_of(request: Request, user_id: str) -> str:
    """The person's subject id in the departments' records: the login of a citizen (resident
    identity number) or an enterprise (credit code)."""
    login: str = request.app.state.identity.users.get(user_id).login
    return login


def receipts(request: Request, subject: str, lang: str) -> dict[str, list[dict[str, Any]]]:
    """The subject's reads and attestations, newest first, in words."""
    sharing = request.app.state.sharing
    found = sharing.access_receipts(subject)
    depts = {d.id: d.name for d in node_of(request).genesis.departments}
    names = {r.id: r.name for r in sharing.resources()}
    reads = [
        {
            "time_ms": r["read_ms"],
            "dept": depts.get(r["reader_dept"], r["reader_dept"]),
            "person": r["actor"],
            "member": r["reader"],
            "case": r["case"],
            "purpose": r["purpose"],
            "resource": names.get(r["resource"], r["resource"]),
            "owner": depts.get(r["owner"], r["owner"]),
            "fields": r["fields"],
            "records": len(r["records"]),
            "grant": r["grant"],
            "tx": r["tx_id"],
        }
        for r in reversed(found["reads"])
    ]
    attestations = [
        {
            "time_ms": a["issued_ms"],
            "dept": depts.get(a["issuer"], a["issuer"]),
            "asked_by": a.get("requester", ""),
            "person": a.get("actor", ""),
            "case": a.get("case", ""),
            "purpose": a.get("purpose", ""),
            "resource": names.get(a["resource"], a["resource"]),
            "statement": a.get("statement", ""),
            "answer": a["answer"],
            "tx": a["tx_id"],
        }
        for a in reversed(found["attestations"])
    ]
    return {"reads": reads, "attestations": attestations}


def consents(request: Request, user_id: str, lang: str) -> list[dict[str, Any]]:
    """The consents given in the person's applications, newest case first."""
    node = node_of(request)
    desk = desk_of(request)
    depts = {d.id: d.name for d in node.genesis.departments}
    cases = node.query("cases", "cases_of", {"applicant": user_id, "limit": MAX_CASES})
    out: list[dict[str, Any]] = []
    defns: dict[tuple[str, int], dict[str, Any]] = {}
    for doc in sorted(cases, key=lambda c: c["number"], reverse=True):
        if not doc.get("consents"):
            continue
        which = (doc["service"], doc["version"])
        if which not in defns:
            try:
                defns[which] = desk.definition(*which)["definition"]
            except GovchainError:  # a definition no longer served: list what the case says
                defns[which] = {"materials": [], "name": doc["service"]}
        defn = defns[which]
        materials = {m["id"]: m for m in defn.get("materials", [])}
        for mid in doc.get("consents", []):
            m = materials.get(mid, {})
            held = (m.get("held_by") or {}).get("dept", "")
            answered = doc.get("fetched", {}).get(mid)
            state = "pending" if answered is None else ("yes" if answered["answer"] else "no")
            out.append(
                {
                    "case": doc["number"],
                    "service": i18n.text(lang, defn.get("name") or doc.get("service", "")),
                    "material": i18n.text(lang, m.get("name") or mid),
                    "dept": depts.get(held, held),
                    "state": state,
                    "in_effect": doc["status"] in OPEN and state != "yes",
                    "status": doc["status"],
                }
            )
    return out


@router.get("/me/data")
def my_data(request: Request) -> Response:
    """Who read my data, the attestations about me, and my consents."""
    session = require(request, "public")
    lang = language(request)
    subject = subject_of(request, session.user)
    found = receipts(request, subject, lang)
    return render(
        request,
        "mydata.html",
        session=session,
        reads=found["reads"],
        attestations=found["attestations"],
        consents=consents(request, session.user, lang),
        consent_states=CONSENT_STATES,
    )
