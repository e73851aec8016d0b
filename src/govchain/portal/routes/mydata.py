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
  closed) or when the person revokes it.
- **Revoking a consent.** Until the decision, ``/me/data/consents/<case>/<material>`` asks
  "are you sure?" and posts the case engine's ``revoke_consent`` (a ledger transaction the
  handling department signs for the person): the holding department may no longer answer for
  the material and an answer it gave no longer counts. A required material needs the person's
  own file, chosen on the same page (uploaded to the handling department first); without it
  the page says so next to the field, and the other way out is withdrawing the application.
  Revoked consents stay listed, with the time and the transaction's receipt (from the case's
  timeline).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from govchain.errors import Forbidden, GovchainError, NotFound
from govchain.node.materials import MAX_MATERIAL_BYTES
from govchain.portal import i18n
from govchain.portal.messages import N_
from govchain.portal.routes.cases import case_of, commit, definition_of, read_posted
from govchain.portal.sessions import PortalSession
from govchain.portal.web import desk_of, language, node_of, redirect, render, require

router = APIRouter(include_in_schema=False)

OPEN = ("submitted", "accepted", "supplement_requested")
"""Case statuses in which a consent is in effect (and the application can be withdrawn)."""
MAX_CASES = 1000
"""Cases looked at for consents."""
CONSENT_STATES = {
    "pending": N_("Waiting for the department's answer"),
    "yes": N_("Answered: yes"),
    "no": N_("Answered: no"),
    "revoked": N_("Revoked by you"),
}
"""How far each consent got."""
DONE = {
    "revoked": N_("Your consent is revoked: the department may no longer answer for it."),
}
"""Notices shown once after an action."""


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
        revoked = [h for h in doc.get("history", []) if h["event"] == "consent_revoked"]
        if not doc.get("consents") and not revoked:
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
                    "material_id": mid,
                    "dept": depts.get(held, held),
                    "state": state,
                    # Until the decision the consent stands (and an answer given counts).
                    "in_effect": doc["status"] in OPEN,
                    "status": doc["status"],
                    "tx": "",
                }
            )
        for h in revoked:
            m = materials.get(h["step"], {})
            held = (m.get("held_by") or {}).get("dept", "")
            out.append(
                {
                    "case": doc["number"],
                    "service": i18n.text(lang, defn.get("name") or doc.get("service", "")),
                    "material": i18n.text(lang, m.get("name") or h["step"]),
                    "material_id": h["step"],
                    "dept": depts.get(held, held),
                    "state": "revoked",
                    "in_effect": False,
                    "status": doc["status"],
                    "time_ms": h["time_ms"],
                    "tx": h["tx"],
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
        done=DONE.get(request.query_params.get("done", "")),
        done_tx=_tx_param(request),
    )


def _tx_param(request: Request) -> str:
    """The transaction named after an action (64 hex digits, or '')."""
    tx = request.query_params.get("tx", "")
    return tx if len(tx) == 64 and all(ch in "0123456789abcdef" for ch in tx) else ""


# --- revoking a consent -----------------------------------------------------------------------


def _consent(
    request: Request, number: str, material: str, session: PortalSession
) -> tuple[dict[str, Any], dict[str, Any], Mapping[str, Any]]:
    """The person's own case, its definition and the material, with the consent in effect
    (``NotFound`` otherwise: nothing to revoke)."""
    case = case_of(request, number, session)
    if case["applicant"] != session.user:
        raise Forbidden(f"only the person who applied may change case {number}", case=number)
    if case["status"] not in OPEN or material not in case.get("consents", []):
        raise NotFound(f"case {number} has no consent in effect for {material}", case=number)
    defn = definition_of(request, case)
    found = next((m for m in defn["materials"] if m["id"] == material), None)
    if found is None:
        raise NotFound(f"case {number} has no material {material}", case=number)
    return case, defn, found


def _revoke_page(
    request: Request,
    case: Mapping[str, Any],
    defn: Mapping[str, Any],
    material: Mapping[str, Any],
    errors: list[dict[str, str]],
    status: int = 200,
) -> Response:
    held = (material.get("held_by") or {}).get("dept", "")
    depts = {d.id: d.name for d in node_of(request).genesis.departments}
    return render(
        request,
        "consent_revoke.html",
        status=status,
        case=case,
        defn=defn,
        material=material,
        dept=depts.get(held, held),
        answered=case.get("fetched", {}).get(material["id"]),
        errors=errors,
        limit_mib=MAX_MATERIAL_BYTES // (1024 * 1024),
    )


@router.get("/me/data/consents/{number}/{material}")
def revoke_page(number: str, material: str, request: Request) -> Response:
    """Are you sure? What revoking means, and the person's own file for a required material."""
    session = require(request, "public")
    case, defn, found = _consent(request, number, material, session)
    return _revoke_page(request, case, defn, found, [])


@router.post("/me/data/consents/{number}/{material}")
async def revoke(number: str, material: str, request: Request) -> Response:
    """Revoke the consent (a ledger transaction), with the person's own file if one is chosen
    (required for a required material)."""
    session = require(request, "public")
    data = await read_posted(request, session)
    case, defn, found = _consent(request, number, material, session)
    tr = i18n.translations(language(request))
    lang = language(request)
    upload = data.files.get("file")
    errors: list[dict[str, str]] = []
    if upload is None and found.get("required"):
        text = tr.gettext(N_("%(material)s is required: choose your own file for it")) % {
            "material": i18n.text(lang, found["name"])
        }
        errors.append({"field": "file", "id": "f-file", "text": text})
    elif upload is not None and len(upload[2]) > MAX_MATERIAL_BYTES:
        text = tr.gettext(N_("%(material)s: the file must be at most %(n)s MiB")) % {
            "material": i18n.text(lang, found["name"]),
            "n": MAX_MATERIAL_BYTES // (1024 * 1024),
        }
        errors.append({"field": "file", "id": "f-file", "text": text})
    if errors:
        return _revoke_page(request, case, defn, found, errors, status=422)
    desk = desk_of(request)
    args: dict[str, Any] = {"material": material}
    if upload is not None:
        stored = await run_in_threadpool(desk.upload, defn["owner"], session.user, *upload)
        args["replacement"] = stored["hash"]
    result = await commit(
        request,
        lambda: desk.applicant_step(
            session.user, session.provider_sid, number, "revoke_consent", args
        ),
    )
    tx = result["history"][-1]["tx"]
    return redirect(f"/me/data?done=revoked&tx={tx}#consents-title")
