"""My cases (我的办件): the applicant's cases and those of the enterprises they act for; a case
with its steps, outputs and timeline (each entry a ledger transaction with a link to its
offline-verifiable receipt); answering a supplement request (补正), withdrawing before the
decision, and objecting during a public notice.

Every change is a transaction the case desk signs for the person, committed here the way the
API commits it: submitted, waited for until durable, its receipt read; a failed receipt is
raised as the error it carries.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from govchain.errors import (
    Forbidden,
    GovchainError,
)
from govchain.ledger.transactions import Transaction
from govchain.node.casedesk import FormInvalid, check_form
from govchain.node.materials import MAX_MATERIAL_BYTES
from govchain.node.ratingdesk import rating_of
from govchain.portal import forms, i18n
from govchain.portal.messages import N_
from govchain.portal.security import check_csrf
from govchain.portal.sessions import PortalSession
from govchain.portal.web import desk_of, language, node_of, redirect, render, require
from govchain.procedures.cases import Actor
from govchain.procedures.engine import MAX_TEXT
from govchain.procedures.ratings import RATEABLE
from govchain.sdk import discover_apps

router = APIRouter(include_in_schema=False)

OPEN = ("submitted", "accepted", "supplement_requested")
"""Statuses in which the applicant may still withdraw."""
EVENTS = {
    "submitted": N_("Application submitted"),
    "accepted": N_("Application accepted"),
    "rejected": N_("Application rejected"),
    "approved": N_("Application approved"),
    "supplement_requested": N_("More information requested"),
    "resubmitted": N_("More information supplied"),
    "claimed": N_("An officer took up the step"),
    "reassigned": N_("The step was passed to another officer"),
    "step_pass": N_("Step passed"),
    "step_fail": N_("Step not passed"),
    "check_yes": N_("Check answered: yes"),
    "check_no": N_("Check answered: no"),
    "material_attached": N_("Material answered by the department that holds it"),
    "material_missing": N_("The department that should hold a material has no record of it"),
    "objection": N_("Objection raised"),
    "objection_upheld": N_("Objection upheld"),
    "objection_dismissed": N_("Objection dismissed"),
    "notice_ended": N_("Public notice ended"),
    "commitment_kept": N_("Commitment checked: kept"),
    "commitment_broken": N_("Commitment checked: not kept"),
    "closed": N_("Case closed"),
    "expired": N_("Closed: the information asked for did not come in time"),
    "withdrawn": N_("Application withdrawn"),
    "consent_revoked": N_("Consent revoked"),
}
"""What each timeline entry means, in words."""
DONE = {
    "withdrawn": N_("Your application is withdrawn."),
    "supplied": N_("Your answer is sent to the department."),
    "rated": N_("Thank you: your rating is recorded."),
}
"""Notices shown once after an action."""
LEVEL_NAMES = {
    1: N_("Very dissatisfied"),
    2: N_("Dissatisfied"),
    3: N_("Neither satisfied nor dissatisfied"),
    4: N_("Satisfied"),
    5: N_("Very satisfied"),
}
"""The five levels of a rating (好差评), in words."""


# --- committing ------------------------------------------------------------------------------


async def commit(request: Request, build: Callable[[], Transaction]) -> dict[str, Any]:
    """Build (sign) a transaction and commit it, off the event loop; return its result (a
    refusal is raised as the error it names)."""
    desk = desk_of(request)
    timeout = float(getattr(request.app.state.settings, "wait_timeout_s", 20.0))
    return await run_in_threadpool(lambda: desk.commit_one(build(), timeout))


# --- posted forms ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Posted:
    """A posted form, read whole (its temporary files closed), its CSRF token checked."""

    fields: dict[str, list[str]]
    """Text fields: name -> every value sent under it."""
    files: dict[str, tuple[str, str, bytes]]
    """Files chosen: field name -> (file name, media type, bytes); at most one byte over
    ``MAX_MATERIAL_BYTES`` is read of each (the caller refuses it)."""

    def one(self, name: str) -> str:
        """A text field's first value, stripped ('' if not sent)."""
        values = self.fields.get(name, [])
        return values[0].strip() if values else ""


MAX_FILES = 30
"""Files one post may carry."""


async def read_posted(request: Request, session: PortalSession) -> Posted:
    """Read a posted form (urlencoded or multipart) and check its CSRF token before anything
    else is done with it."""
    fields: dict[str, list[str]] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    async with request.form(max_files=MAX_FILES, max_fields=2000) as data:
        token = data.get("csrf")
        check_csrf(request, session.csrf, token if isinstance(token, str) else None)
        for name, item in data.multi_items():
            if isinstance(item, str):
                fields.setdefault(name, []).append(item)
            elif isinstance(item, UploadFile) and item.filename:
                content = await item.read(MAX_MATERIAL_BYTES + 1)
                if content:
                    base = item.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
                    media = item.content_type or "application/octet-stream"
                    files[name] = (base or "upload", media, content)
    return Posted(fields, files)


# --- reading ---------------------------------------------------------------------------------


def dept_names(request: Request) -> dict[str, str]:
    """Department id -> name."""
    return {d.id: d.name for d in node_of(request).genesis.departments}


def day_of(ms: int, with_time: bool = False) -> str:
    """A block time as a China Standard Time date (and time)."""
    fmt = "%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d"
    return time.strftime(fmt, time.gmtime(ms / 1000 + 8 * 3600)) if ms else "—"


def acting_for(request: Request, session: PortalSession) -> list[dict[str, Any]]:
    """The enterprises the person acts for."""
    found: list[dict[str, Any]] = node_of(request).query(
        "registry", "acting_for", {"agent": session.user}
    )
    return found


def may_see(request: Request, case: Mapping[str, Any], session: PortalSession) -> bool:
    """The applicant, or a person acting for the enterprise the case is about."""
    if case["applicant"] == session.user:
        return True
    if case["subject"]:
        ent = node_of(request).query("registry", "enterprise", {"uscc": case["subject"]})
        return session.user in ent["agents"]
    return False


def case_of(request: Request, number: str, session: PortalSession) -> dict[str, Any]:
    """A case the person may see (``Forbidden`` otherwise)."""
    case = desk_of(request).case(number)
    if not may_see(request, case, session):
        raise Forbidden(f"case {number} is not yours", case=number)
    return case


def definition_of(request: Request, case: Mapping[str, Any]) -> dict[str, Any]:
    """The definition (version) a case runs under, its form in the author's order."""
    found: dict[str, Any] = desk_of(request).definition(case["service"], case["version"])[
        "definition"
    ]
    return with_form_order(found)


@functools.cache
def _authored_forms() -> dict[tuple[str, int], dict[str, Any]]:
    """The forms of the definitions the installed services ship, by (code, version)."""
    return {(d["code"], d["version"]): d["form"] for a in discover_apps() for d in a.definitions()}


def with_form_order(defn: Mapping[str, Any]) -> dict[str, Any]:
    """A published definition with its form's fields in the order the service's author wrote
    them (the ledger keeps keys sorted): the order of the definition the installed service
    ships, when it is the same form."""
    authored = _authored_forms().get((defn["code"], defn["version"]))
    return {**defn, "form": forms.order_like(defn["form"], authored)}


def waits_for(
    request: Request, case: Mapping[str, Any], defn: Mapping[str, Any], depts: Mapping[str, str]
) -> str:
    """What the case waits for, in words ('' once it is over)."""
    lang = language(request)
    tr = i18n.translations(lang)
    owner = depts.get(defn["owner"], defn["owner"])
    status = case["status"]
    if status == "submitted":
        return tr.gettext(N_("Waiting for %(dept)s to accept the application")) % {"dept": owner}
    if status == "supplement_requested":
        due = (case.get("supplement") or {}).get("deadline_ms", 0)
        return tr.gettext(N_("Waiting for you: send what is asked by %(date)s")) % {
            "date": day_of(due)
        }
    if status == "accepted":
        declared = {d["id"]: d for d in defn["steps"]}
        working = [
            f"{i18n.text(lang, declared[s['id']]['name'])} "
            f"({depts.get(declared[s['id']]['dept'], declared[s['id']]['dept'])})"
            for s in case["steps"]
            if s["status"] in ("open", "blocked") and s["id"] in declared
        ]
        if working:
            return tr.gettext(N_("Being handled: %(steps)s")) % {"steps": "; ".join(working)}
        return tr.gettext(N_("Waiting for the decision of %(dept)s")) % {"dept": owner}
    if status == "issued" and case.get("commitment_deadline_ms"):
        return tr.gettext(N_("Approved on your commitment: %(dept)s checks it by %(date)s")) % {
            "dept": owner,
            "date": day_of(case["commitment_deadline_ms"]),
        }
    if status in ("issued", "decided"):
        return tr.gettext(N_("Waiting for %(dept)s to close the case")) % {"dept": owner}
    return ""


def case_view(request: Request, case: dict[str, Any], session: PortalSession) -> dict[str, Any]:
    """A case as its page shows it: steps with their names and departments, the timeline
    with receipt links, materials with their file names."""
    desk = desk_of(request)
    defn = definition_of(request, case)
    depts = dept_names(request)
    declared = {d["id"]: d for d in defn["steps"]}
    now = node_of(request).clock_ms()
    steps = []
    for st in case["steps"]:
        d = declared.get(st["id"], {})
        steps.append(
            {
                **st,
                "name": d.get("name", st["id"]),
                "kind": d.get("kind", "review"),
                "dept": d.get("dept", ""),
                "overdue": st["status"] in ("open", "blocked") and 0 < st["deadline_ms"] < now,
            }
        )
    timeline = [
        {
            **h,
            "words": EVENTS.get(h["event"], h["event"]),
            "step_name": declared.get(h["step"], {}).get("name", "") if h["step"] else "",
            "receipt": f"/v1/transactions/{h['tx']}/receipt",
            "mine": h["actor"] == session.user,
        }
        for h in case["history"]
    ]
    names = {m["id"]: m for m in defn["materials"]}
    materials = []
    for mid, digest in case["materials"].items():
        try:
            filename = str(desk.materials.meta(defn["owner"], digest)["name"])
        except GovchainError:  # kept by another node of the department
            filename = ""
        materials.append({"id": mid, "name": names.get(mid, {}).get("name", mid), "file": filename})
    for mid in case["consents"]:
        m = names.get(mid, {})
        held = m.get("held_by") or {}
        materials.append(
            {
                "id": mid,
                "name": m.get("name", mid),
                "held_by": held.get("dept", ""),
                "answered": case.get("fetched", {}).get(mid),
            }
        )
    notice_open = [s for s in steps if s["kind"] == "notice" and s["status"] == "open"]
    return {
        "case": case,
        "defn": defn,
        "depts": depts,
        "steps": steps,
        "timeline": timeline,
        "materials": materials,
        "waits": waits_for(request, case, defn, depts),
        "is_applicant": case["applicant"] == session.user,
        "notice_open": notice_open,
        "events": EVENTS,
        "rating": rating_of(desk, case["number"]),
        "may_rate": case["status"] in RATEABLE and case["applicant"] == session.user,
        "levels": LEVEL_NAMES,
    }


# --- pages -----------------------------------------------------------------------------------


@router.get("/cases")
def my_cases(request: Request) -> Response:
    """The person's cases and those about the enterprises they act for, newest first."""
    session = require(request, "public")
    node = node_of(request)
    found = {
        c["number"]: c
        for c in node.query("cases", "cases_of", {"applicant": session.user, "limit": 1000})
    }
    enterprises = acting_for(request, session)
    for ent in enterprises:
        for c in node.query("cases", "cases_about", {"subject": ent["uscc"], "limit": 1000}):
            found.setdefault(c["number"], c)
    names = {e["uscc"]: e["name"] for e in enterprises}
    depts = dept_names(request)
    defs: dict[tuple[str, int], dict[str, Any]] = {}
    rows = []
    for c in sorted(found.values(), key=lambda c: (c["submitted_ms"], c["number"]), reverse=True):
        key = (c["service"], c["version"])
        if key not in defs:
            defs[key] = definition_of(request, c)
        rows.append(
            {
                "case": c,
                "service_name": defs[key]["name"],
                "waits": waits_for(request, c, defs[key], depts),
                "for": names.get(c["subject"], c["subject"]),
            }
        )
    return render(request, "cases.html", rows=rows)


@router.get("/cases/{number}")
def show_case(number: str, request: Request) -> Response:
    """A case: status, outcome, steps, outputs, materials and the timeline."""
    session = require(request, "public")
    case = case_of(request, number, session)
    done = request.query_params.get("done", "")
    return render(
        request, "case.html", notice=DONE.get(done, ""), **case_view(request, case, session)
    )


@router.get("/cases/{number}/confirmation")
def confirmation(number: str, request: Request) -> Response:
    """After submitting: the case number, what happens next, the receipt."""
    session = require(request, "public")
    case = case_of(request, number, session)
    defn = definition_of(request, case)
    return render(
        request,
        "case_confirmation.html",
        case=case,
        defn=defn,
        depts=dept_names(request),
        receipt=f"/v1/transactions/{case['history'][0]['tx']}/receipt",
    )


# --- withdrawing -----------------------------------------------------------------------------


def _own_open_case(request: Request, number: str, session: PortalSession) -> dict[str, Any]:
    case = case_of(request, number, session)
    if case["applicant"] != session.user:
        raise Forbidden(f"only the person who applied may change case {number}", case=number)
    return case


@router.get("/cases/{number}/withdraw")
def withdraw_page(number: str, request: Request) -> Response:
    """Are you sure? (with an optional reason)."""
    session = require(request, "public")
    case = _own_open_case(request, number, session)
    if case["status"] not in OPEN:
        return redirect(f"/cases/{number}")
    return render(
        request, "case_withdraw.html", case=case, defn=definition_of(request, case), errors=[]
    )


@router.post("/cases/{number}/withdraw")
async def withdraw(number: str, request: Request) -> Response:
    """Withdraw the application (a ledger transaction)."""
    session = require(request, "public")
    data = await read_posted(request, session)
    case = _own_open_case(request, number, session)
    reason = data.one("reason")
    if len(reason) > MAX_TEXT:
        tr = i18n.translations(language(request))
        text = tr.gettext(N_("The reason must be at most %(n)s characters")) % {"n": MAX_TEXT}
        return render(
            request,
            "case_withdraw.html",
            status=422,
            case=case,
            defn=definition_of(request, case),
            reason=reason,
            errors=[{"field": "reason", "id": "f-reason", "text": text}],
        )
    desk = desk_of(request)
    await commit(
        request,
        lambda: desk.applicant_step(
            session.user, session.provider_sid, number, "withdraw", {"reason": reason}
        ),
    )
    return redirect(f"/cases/{number}?done=withdrawn")


# --- answering a supplement request ----------------------------------------------------------


def submitted_form(request: Request, case: Mapping[str, Any], dept: str, user: str) -> Any:
    """The form the applicant sent (kept by the handling department), to change it; ``None``
    if this node does not hold it."""
    materials = desk_of(request).materials
    try:
        meta = materials.meta(dept, case["form_hash"])
        if meta.get("applicant") != user:
            return None
        return orjson.loads(materials.read(dept, case["form_hash"], dept)[1])
    except GovchainError:
        return None


def _supplement_page(
    request: Request,
    case: Mapping[str, Any],
    defn: Mapping[str, Any],
    original: Any,
    raw: Mapping[str, list[str]],
    errors: list[dict[str, str]],
    status: int = 200,
) -> Response:
    known = forms.fields(defn["form"])
    editable = [f for f in known if f.widget != "readonly"]
    return render(
        request,
        "case_supplement.html",
        status=status,
        case=case,
        defn=defn,
        uploads=[m for m in defn["materials"] if not m.get("held_by")],
        fields=editable if isinstance(original, Mapping) else [],
        raw=raw,
        rows={f.name: forms.row_count(f, raw) for f in editable},
        register={},
        errors=errors,
        limit_mib=MAX_MATERIAL_BYTES // (1024 * 1024),
    )


@router.get("/cases/{number}/supplement")
def supplement_page(number: str, request: Request) -> Response:
    """What is asked, and a form to send new materials and/or a changed application form."""
    session = require(request, "public")
    case = _own_open_case(request, number, session)
    if case["status"] != "supplement_requested":
        return redirect(f"/cases/{number}")
    defn = definition_of(request, case)
    original = submitted_form(request, case, defn["owner"], session.user)
    raw = forms.posted_of(defn["form"], original) if isinstance(original, Mapping) else {}
    return _supplement_page(request, case, defn, original, raw, [])


@router.post("/cases/{number}/supplement")
async def supplement(number: str, request: Request) -> Response:
    """Send the supplement (a ``resubmit`` ledger transaction)."""
    session = require(request, "public")
    data = await read_posted(request, session)
    case = _own_open_case(request, number, session)
    if case["status"] != "supplement_requested":
        return redirect(f"/cases/{number}")
    desk = desk_of(request)
    defn = definition_of(request, case)
    dept = defn["owner"]
    lang = language(request)
    tr = i18n.translations(lang)
    errors: list[dict[str, str]] = []
    new: dict[str, str] = {}
    for m in defn["materials"]:
        if m.get("held_by"):
            continue
        upload = data.files.get(f"file-{m['id']}")
        if upload is None:
            continue
        if len(upload[2]) > MAX_MATERIAL_BYTES:
            text = tr.gettext(N_("%(material)s: the file must be at most %(n)s MiB")) % {
                "material": i18n.text(lang, m["name"]),
                "n": MAX_MATERIAL_BYTES // (1024 * 1024),
            }
            errors.append({"field": f"material.{m['id']}", "id": f"m-{m['id']}", "text": text})
            continue
        stored = await run_in_threadpool(desk.upload, dept, session.user, *upload)
        new[m["id"]] = stored["hash"]
    original = submitted_form(request, case, dept, session.user)
    skip = {"csrf"}
    posted = {k: v for k, v in data.fields.items() if k not in skip}
    raw = forms.tidy(defn["form"], posted)
    args: dict[str, Any] = {"materials": new}
    if isinstance(original, Mapping):
        schema = defn["form"]
        value, problems = forms.parse(schema, raw)
        kept = {
            f.name: original[f.name]
            for f in forms.fields(schema)
            if f.widget == "readonly" and f.name in original
        }
        changed = {**kept, **value}
        try:
            check_form(schema, changed)
        except FormInvalid as exc:
            problems += forms.from_validator(
                exc.fields.get("errors", []), forms.fields(schema), problems
            )
        errors += forms.describe(problems, forms.fields(schema), lang, tr)
        if changed != dict(original):
            args["form"] = changed
    if not errors and not new and "form" not in args:
        text = tr.gettext(N_("Upload a new material or change the form"))
        errors.append({"field": "", "id": "supplement", "text": text})
    if errors:
        return _supplement_page(request, case, defn, original, raw, errors, status=422)
    await commit(
        request,
        lambda: desk.applicant_step(session.user, session.provider_sid, number, "resubmit", args),
    )
    return redirect(f"/cases/{number}?done=supplied")


# --- objecting to a public notice ------------------------------------------------------------


def _notice(request: Request, number: str) -> tuple[dict[str, Any], list[Any]]:
    """A case's definition and its notice steps open to objections."""
    case = desk_of(request).case(number)
    defn = definition_of(request, case)
    declared = {d["id"]: d for d in defn["steps"]}
    open_steps = [
        {**declared[s["id"]], "id": s["id"], "deadline_ms": s["deadline_ms"]}
        for s in case["steps"]
        if s["status"] == "open" and declared.get(s["id"], {}).get("kind") == "notice"
    ]
    return defn, open_steps


@router.get("/cases/{number}/object")
def object_page(number: str, request: Request) -> Response:
    """For anyone (a creditor, an employee …) who knows the case number: object while its
    public notice runs. Only the service and the notice are shown, nothing of the applicant."""
    require(request, "public")
    defn, open_steps = _notice(request, number)
    done = request.query_params.get("done") == "1"
    return render(
        request,
        "case_object.html",
        number=number,
        defn=defn,
        open_steps=open_steps,
        errors=[],
        done=done,
    )


@router.post("/cases/{number}/object")
async def object_to(number: str, request: Request) -> Response:
    """Record an objection (a ledger transaction)."""
    session = require(request, "public")
    data = await read_posted(request, session)
    defn, open_steps = _notice(request, number)
    step = data.one("step")
    text = data.one("text")
    tr = i18n.translations(language(request))
    errors = []
    if not any(s["id"] == step for s in open_steps):
        errors.append(
            {"field": "step", "id": "f-step", "text": tr.gettext(N_("Select the notice"))}
        )
    if not text or len(text) > MAX_TEXT:
        message = tr.gettext(N_("Write your objection in at most %(n)s characters"))
        errors.append({"field": "text", "id": "f-text", "text": message % {"n": MAX_TEXT}})
    if errors:
        return render(
            request,
            "case_object.html",
            status=422,
            number=number,
            defn=defn,
            open_steps=open_steps,
            errors=errors,
            done=False,
            text=text,
        )
    desk = desk_of(request)
    chosen = str(step)

    def build() -> Transaction:
        desk.preview(
            number,
            "object",
            Actor("public", session.user, "", "", ""),
            {"step": chosen, "text": text},
        )
        return desk.objection(session.user, number, chosen, text)

    await commit(request, build)
    return redirect(f"/cases/{number}/object?done=1")
