"""Applying for a service (申请办理), one short page at a time, each posting only its part:

1. *who* applies — the enterprise the person acts for (services for enterprises only);
2. *consent* to materials other departments already hold being answered by them;
3. the *form*, generated from the service's JSON Schema (``portal.forms``);
4. the *materials* the applicant uploads;
5. *check* the answers, then submit: the case desk checks and signs the application, the
   node commits it, and the person sees the case number.

The application in progress stays on the server, in a ``DraftStore`` keyed by the portal
session and the service (the browser holds nothing but the session cookie).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from govchain.errors import Forbidden
from govchain.node.casedesk import PREFILL_DEFAULTS, FormInvalid, check_form
from govchain.node.materials import MAX_MATERIAL_BYTES
from govchain.portal import forms, i18n
from govchain.portal.messages import N_
from govchain.portal.routes.cases import commit, dept_names, read_posted, with_form_order
from govchain.portal.sessions import MAX_S, PortalSession
from govchain.portal.web import desk_of, language, node_of, redirect, render, require

router = APIRouter(include_in_schema=False)

STEP_NAMES = {
    "who": N_("Who is applying"),
    "consent": N_("Data other departments hold"),
    "form": N_("Application form"),
    "materials": N_("Upload materials"),
    "check": N_("Check your answers and submit"),
}
"""The pages of an application, in order (a service skips those it does not need)."""
MAX_DRAFTS = 10_000
"""Applications in progress kept at most (the oldest are dropped)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An application in progress."""

    code: str
    """Service code."""
    chosen: bool = False
    """Whether the *who* page was answered."""
    subject: str = ""
    """USCC of the enterprise applied for ('' for the person themself)."""
    subject_name: str = ""
    """Its name."""
    consented: bool = False
    """Whether the consent page was answered."""
    consents: tuple[str, ...] = ()
    """Materials held by other departments the applicant lets them answer for."""
    posted: Mapping[str, list[str]] = field(default_factory=dict)
    """The form page's fields as last posted (shown again as typed)."""
    form: Mapping[str, Any] | None = None
    """The form as checked JSON (``None`` until the form page passes)."""
    uploaded: bool = False
    """Whether the materials page was answered."""
    materials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Material id -> ``{hash, name, size}`` of the file uploaded."""
    touched: float = 0.0
    """When it was last saved (monotonic seconds)."""


class DraftStore:
    """Applications in progress per (portal session, service) (thread-safe, in memory)."""

    def __init__(self) -> None:
        self._drafts: dict[tuple[str, str], Draft] = {}
        self._lock = threading.Lock()

    def get(self, sid: str, code: str) -> Draft:
        """The draft of a session's application for a service (a new one if none)."""
        with self._lock:
            found = self._drafts.get((sid, code))
        if found is None or time.monotonic() - found.touched > MAX_S:
            return Draft(code)
        return found

    def put(self, sid: str, draft: Draft) -> None:
        """Save a draft."""
        now = time.monotonic()
        with self._lock:
            if len(self._drafts) >= MAX_DRAFTS:
                stale = [k for k, d in self._drafts.items() if now - d.touched > MAX_S]
                for k in stale or [min(self._drafts, key=lambda k: self._drafts[k].touched)]:
                    del self._drafts[k]
            self._drafts[(sid, draft.code)] = replace(draft, touched=now)

    def drop(self, sid: str, code: str) -> None:
        """Forget a draft (submitted or discarded)."""
        with self._lock:
            self._drafts.pop((sid, code), None)


_STORE_LOCK = threading.Lock()


def drafts_of(request: Request) -> DraftStore:
    """The application's draft store (made on first use)."""
    with _STORE_LOCK:
        store = getattr(request.app.state, "portal_drafts", None)
        if store is None:
            store = DraftStore()
            request.app.state.portal_drafts = store
    found: DraftStore = store
    return found


# --- the service and where the application stands -------------------------------------------


@dataclass(frozen=True, slots=True)
class Application:
    """A service's definition and the pages its application has."""

    code: str
    """Service code."""
    defn: Mapping[str, Any]
    """The published definition."""
    steps: tuple[str, ...]
    """Pages of this application, in order."""

    @property
    def held(self) -> list[Mapping[str, Any]]:
        """Materials other departments hold (answered with consent)."""
        return [m for m in self.defn["materials"] if m.get("held_by")]

    @property
    def uploads(self) -> list[Mapping[str, Any]]:
        """Materials the applicant uploads."""
        return [m for m in self.defn["materials"] if not m.get("held_by")]


def application_of(request: Request, code: str, session: PortalSession) -> Application:
    """The service's application pages, or ``Forbidden`` if this person cannot apply."""
    defn = with_form_order(desk_of(request).definition(code)["definition"])
    applicants = defn["applicants"]
    if "enterprise" not in applicants and session.kind not in applicants:
        raise Forbidden(
            f"{code} is for {', '.join(applicants)} applicants, not {session.kind}", service=code
        )
    steps = []
    if "enterprise" in applicants:
        steps.append("who")
    if any(m.get("held_by") for m in defn["materials"]):
        steps.append("consent")
    steps.append("form")
    if any(not m.get("held_by") for m in defn["materials"]):
        steps.append("materials")
    steps.append("check")
    return Application(code, defn, tuple(steps))


def done(draft: Draft, step: str) -> bool:
    """Whether a page of the application is answered."""
    return {
        "who": draft.chosen,
        "consent": draft.consented,
        "form": draft.form is not None,
        "materials": draft.uploaded,
    }.get(step, False)


def first_open(app: Application, draft: Draft) -> str:
    """The first page not answered yet (``check`` when all are)."""
    return next((s for s in app.steps if not done(draft, s)), "check")


def reachable(app: Application, draft: Draft, step: str) -> bool:
    """A page can be opened once every page before it is answered."""
    return all(done(draft, s) for s in app.steps[: app.steps.index(step)])


def url(code: str, step: str = "") -> str:
    """The address of an application page."""
    return f"/services/{code}/apply" + (f"/{step}" if step else "")


def _after(app: Application, draft: Draft, step: str, back_to_check: bool) -> str:
    """Where Continue goes: when changing an answer from the check page, back there (or to
    the first page the change left unanswered); else the next page."""
    if back_to_check:
        return url(app.code, first_open(app, draft))
    return url(app.code, app.steps[app.steps.index(step) + 1])


def _back(app: Application, step: str) -> str:
    i = app.steps.index(step)
    return url(app.code) if i == 0 else url(app.code, app.steps[i - 1])


def _say(request: Request, message: str, **params: Any) -> str:
    """A message in the request's language."""
    text: str = i18n.translations(language(request)).gettext(message)
    return text % params if params else text


def _start(request: Request, code: str, step: str) -> tuple[PortalSession, Application, Draft]:
    session = require(request, "public")
    app = application_of(request, code, session)
    if step not in app.steps:
        raise Forbidden(f"{code} has no page {step!r} in its application", service=code)
    return session, app, drafts_of(request).get(session.sid, code)


def _page(
    request: Request, template: str, app: Application, draft: Draft, step: str, **context: Any
) -> Response:
    status = int(context.pop("status", 200))
    back_to_check = bool(context.pop("back_to_check", False))
    back_to_check = back_to_check or request.query_params.get("return") == "check"
    return render(
        request,
        template,
        status=status,
        app=app,
        defn=app.defn,
        draft=draft,
        step=step,
        step_names=STEP_NAMES,
        back=_back(app, step),
        back_to_check=back_to_check,
        depts=dept_names(request),
        **context,
    )


# --- task list -------------------------------------------------------------------------------


@router.get("/services/{code}/apply")
def tasks(code: str, request: Request) -> Response:
    """The application's pages and how far the person has got (a task list)."""
    session = require(request, "public")
    app = application_of(request, code, session)
    draft = drafts_of(request).get(session.sid, code)
    return render(
        request,
        "apply_tasks.html",
        app=app,
        defn=app.defn,
        draft=draft,
        step_names=STEP_NAMES,
        done={s: done(draft, s) for s in app.steps},
        reachable={s: reachable(app, draft, s) for s in app.steps},
        next_url=url(code, first_open(app, draft)),
    )


@router.post("/services/{code}/apply/discard")
async def discard(code: str, request: Request) -> Response:
    """Forget the application in progress."""
    session = require(request, "public")
    await read_posted(request, session)
    drafts_of(request).drop(session.sid, code)
    return redirect(f"/services/{code}")


# --- who -------------------------------------------------------------------------------------


def _choices(request: Request, app: Application, session: PortalSession) -> list[dict[str, str]]:
    """Who may apply: the person (a citizen, if the service is for citizens) and the active
    enterprises they act for (an enterprise's own account acts for it as its agent)."""
    out = []
    if session.kind == "citizen" and "citizen" in app.defn["applicants"]:
        out.append({"value": "", "name": session.name, "uscc": ""})
    acting = node_of(request).query("registry", "acting_for", {"agent": session.user})
    for ent in acting:
        if ent.get("status", "active") == "active":
            out.append({"value": ent["uscc"], "name": ent["name"], "uscc": ent["uscc"]})
    return out


@router.get("/services/{code}/apply/who")
def who_page(code: str, request: Request) -> Response:
    """Choose the enterprise to apply for."""
    session, app, draft = _start(request, code, "who")
    return _page(
        request,
        "apply_who.html",
        app,
        draft,
        "who",
        choices=_choices(request, app, session),
        errors=[],
    )


@router.post("/services/{code}/apply/who")
async def who_post(code: str, request: Request) -> Response:
    """Save who applies."""
    session, app, draft = _start(request, code, "who")
    data = await read_posted(request, session)
    choices = _choices(request, app, session)
    picked = data.fields.get("subject", [None])[0]
    chosen = next((c for c in choices if c["value"] == picked), None)
    back_to_check = data.one("return") == "check"
    if chosen is None:
        text = _say(request, N_("Select who is applying"))
        return _page(
            request,
            "apply_who.html",
            app,
            draft,
            "who",
            status=422,
            choices=choices,
            errors=[{"field": "subject", "id": "f-subject", "text": text}],
            back_to_check=back_to_check,
        )
    if chosen["value"] != draft.subject or not draft.chosen:
        # The register answers part of the form for an enterprise: check it again.
        draft = replace(draft, form=None)
    draft = replace(draft, chosen=True, subject=chosen["value"], subject_name=chosen["name"])
    drafts_of(request).put(session.sid, draft)
    return redirect(_after(app, draft, "who", back_to_check))


# --- consent ---------------------------------------------------------------------------------


@router.get("/services/{code}/apply/consent")
def consent_page(code: str, request: Request) -> Response:
    """What other departments will be asked, by whom, for what: ticked one by one."""
    _, app, draft = _start(request, code, "consent")
    if not reachable(app, draft, "consent"):
        return redirect(url(code, first_open(app, draft)))
    return _page(request, "apply_consent.html", app, draft, "consent", errors=[])


@router.post("/services/{code}/apply/consent")
async def consent_post(code: str, request: Request) -> Response:
    """Save the consents; a required material without consent stops the application."""
    session, app, draft = _start(request, code, "consent")
    data = await read_posted(request, session)
    ticked = set(data.fields.get("consent", []))
    held = app.held
    consents = tuple(m["id"] for m in held if m["id"] in ticked)
    errors = [
        {
            "field": f"consent.{m['id']}",
            "id": f"consent-{m['id']}",
            "text": _say(
                request,
                N_("%(material)s is required: without your consent the application cannot go on"),
                material=i18n.text(language(request), m["name"]),
            ),
        }
        for m in held
        if m.get("required") and m["id"] not in ticked
    ]
    back_to_check = data.one("return") == "check"
    draft = replace(draft, consents=consents, consented=not errors)
    drafts_of(request).put(session.sid, draft)
    if errors:
        return _page(
            request,
            "apply_consent.html",
            app,
            draft,
            "consent",
            status=422,
            errors=errors,
            back_to_check=back_to_check,
        )
    return redirect(_after(app, draft, "consent", back_to_check))


# --- form ------------------------------------------------------------------------------------


def register_values(request: Request, app: Application, draft: Draft) -> dict[str, Any]:
    """The read-only fields the enterprise register answers for the chosen enterprise."""
    if not draft.subject:
        return {}
    found: dict[str, Any] = desk_of(request).prefill(app.code, draft.subject)
    return found


def full_form(
    app: Application, value: Mapping[str, Any], register: Mapping[str, Any]
) -> dict[str, Any]:
    """The form as the case desk will check it: the register's answers over the applicant's
    (the same merge as ``CaseDesk.submission``)."""
    register = dict(register)
    defaults = {k: register.pop(k) for k in PREFILL_DEFAULTS if k in register}
    return {**defaults, **value, **register}


def form_errors(
    app: Application,
    raw: Mapping[str, list[str]],
    register: Mapping[str, Any],
) -> tuple[dict[str, Any], list[forms.FieldError]]:
    """Parse a posted form and check it as the case desk will."""
    schema = app.defn["form"]
    value, errors = forms.parse(schema, raw)
    try:
        check_form(schema, full_form(app, value, register))
    except FormInvalid as exc:
        errors += forms.from_validator(exc.fields.get("errors", []), forms.fields(schema), errors)
    return value, errors


def render_form(
    request: Request,
    app: Application,
    draft: Draft,
    raw: Mapping[str, list[str]],
    errors: list[forms.FieldError],
    more: str = "",
    back_to_check: bool = False,
) -> Response:
    """The form page, with what was posted and its problems."""
    known = forms.fields(app.defn["form"])
    lang = language(request)
    return _page(
        request,
        "apply_form.html",
        app,
        draft,
        "form",
        status=422 if errors else 200,
        fields=known,
        raw=raw,
        rows={f.name: forms.row_count(f, raw, more) for f in known},
        errors=forms.describe(errors, known, lang, i18n.translations(lang)),
        register=register_values(request, app, draft),
        back_to_check=back_to_check,
    )


@router.get("/services/{code}/apply/form")
def form_page(code: str, request: Request) -> Response:
    """The application form."""
    _, app, draft = _start(request, code, "form")
    if not reachable(app, draft, "form"):
        return redirect(url(code, first_open(app, draft)))
    return render_form(request, app, draft, draft.posted, [])


@router.post("/services/{code}/apply/form")
async def form_post(code: str, request: Request) -> Response:
    """Check and save the form (or add a row to a list and show it again)."""
    session, app, draft = _start(request, code, "form")
    data = await read_posted(request, session)
    if not reachable(app, draft, "form"):
        return redirect(url(code, first_open(app, draft)))
    skip = {"csrf", "more", "return"}
    posted = {k: v for k, v in data.fields.items() if k not in skip}
    raw = forms.tidy(app.defn["form"], posted)
    back_to_check = data.one("return") == "check"
    more = data.one("more")
    if more:
        draft = replace(draft, posted=raw, form=None)
        drafts_of(request).put(session.sid, draft)
        return render_form(request, app, draft, raw, [], more, back_to_check)
    value, errors = form_errors(app, raw, register_values(request, app, draft))
    draft = replace(draft, posted=raw, form=None if errors else value)
    drafts_of(request).put(session.sid, draft)
    if errors:
        return render_form(request, app, draft, raw, errors, back_to_check=back_to_check)
    return redirect(_after(app, draft, "form", back_to_check))


# --- materials -------------------------------------------------------------------------------


@router.get("/services/{code}/apply/materials")
def materials_page(code: str, request: Request) -> Response:
    """One file input per material to upload."""
    _, app, draft = _start(request, code, "materials")
    if not reachable(app, draft, "materials"):
        return redirect(url(code, first_open(app, draft)))
    return _page(
        request,
        "apply_materials.html",
        app,
        draft,
        "materials",
        errors=[],
        limit_mib=MAX_MATERIAL_BYTES // (1024 * 1024),
    )


@router.post("/services/{code}/apply/materials")
async def materials_post(code: str, request: Request) -> Response:
    """Keep each file chosen with the handling department; every required one must be
    there."""
    session, app, draft = _start(request, code, "materials")
    data = await read_posted(request, session)
    if not reachable(app, draft, "materials"):
        return redirect(url(code, first_open(app, draft)))
    desk = desk_of(request)
    dept = app.defn["owner"]
    lang = language(request)
    kept = dict(draft.materials)
    errors = []
    limit_mib = MAX_MATERIAL_BYTES // (1024 * 1024)
    for m in app.uploads:
        mid, name = m["id"], i18n.text(lang, m["name"])
        upload = data.files.get(f"file-{mid}")
        problem = ""
        if upload is not None and len(upload[2]) > MAX_MATERIAL_BYTES:
            problem = _say(
                request,
                N_("%(material)s: the file must be at most %(n)s MiB"),
                material=name,
                n=limit_mib,
            )
        elif upload is not None:
            filename, media, content = upload
            stored = await run_in_threadpool(
                desk.upload, dept, session.user, filename, media, content
            )
            kept[mid] = {"hash": stored["hash"], "name": filename, "size": stored["size"]}
        elif m.get("required") and mid not in kept:
            problem = _say(request, N_("Upload %(material)s"), material=name)
        if problem:
            errors.append({"field": f"material.{mid}", "id": f"m-{mid}", "text": problem})
    back_to_check = data.one("return") == "check"
    draft = replace(draft, materials=kept, uploaded=not errors)
    drafts_of(request).put(session.sid, draft)
    if errors:
        return _page(
            request,
            "apply_materials.html",
            app,
            draft,
            "materials",
            status=422,
            errors=errors,
            limit_mib=limit_mib,
            back_to_check=back_to_check,
        )
    return redirect(_after(app, draft, "materials", back_to_check))


# --- check and submit ------------------------------------------------------------------------


@router.get("/services/{code}/apply/check")
def check_page(code: str, request: Request) -> Response:
    """Every answer, each with a link to change it."""
    _, app, draft = _start(request, code, "check")
    if not reachable(app, draft, "check"):
        return redirect(url(code, first_open(app, draft)))
    return _check(request, app, draft)


def _check(request: Request, app: Application, draft: Draft) -> Response:
    known = forms.fields(app.defn["form"])
    return _page(
        request,
        "apply_check.html",
        app,
        draft,
        "check",
        fields=known,
        form=draft.form or {},
        register=register_values(request, app, draft),
    )


@router.post("/services/{code}/apply/check")
async def submit(code: str, request: Request) -> Response:
    """Submit the application: the case desk checks and signs it, the node commits it."""
    session, app, draft = _start(request, code, "check")
    await read_posted(request, session)
    if not reachable(app, draft, "check") or draft.form is None:
        return redirect(url(code, first_open(app, draft)))
    desk = desk_of(request)
    form, subject = dict(draft.form), draft.subject
    materials = {mid: str(m["hash"]) for mid, m in draft.materials.items()}
    consents = list(draft.consents)
    try:
        result = await commit(
            request,
            lambda: desk.submission(
                session.user, session.provider_sid, code, form, materials, consents, subject
            ),
        )
    except FormInvalid as exc:  # the register changed since the form page: show it again
        _, errors = form_errors(app, draft.posted, register_values(request, app, draft))
        if not errors:
            errors = forms.from_validator(
                exc.fields.get("errors", []), forms.fields(app.defn["form"]), []
            )
        draft = replace(draft, form=None)
        drafts_of(request).put(session.sid, draft)
        return render_form(request, app, draft, draft.posted, errors)
    drafts_of(request).drop(session.sid, code)
    return redirect(f"/cases/{result['number']}/confirmation")
