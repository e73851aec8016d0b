"""Home, the service catalogue and a service's guide (办事指南)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from govchain.errors import GovchainError
from govchain.portal.routes import me
from govchain.portal.web import desk_of, language, render, session_of

router = APIRouter(include_in_schema=False)

LIFE_EVENTS = (
    ("start_business", {"zh": "开办企业", "en": "Start a business"}),
    ("close_business", {"zh": "企业注销", "en": "Close a business"}),
    ("school_enrolment", {"zh": "子女入学", "en": "A child's school enrolment"}),
    ("buy_home", {"zh": "购房", "en": "Buying a home"}),
    ("newborn", {"zh": "新生儿出生", "en": "A new-born"}),
)
"""Life events (一件事) the home page offers, each with the services published for it."""
CATEGORY_NAMES = {
    "registration": {"zh": "登记", "en": "Registration"},
    "permit": {"zh": "许可", "en": "Permit"},
    "filing": {"zh": "备案", "en": "Filing"},
    "deregistration": {"zh": "注销", "en": "Deregistration"},
    "certification": {"zh": "证明", "en": "Certification"},
    "payment": {"zh": "缴费", "en": "Payment"},
    "other": {"zh": "其他", "en": "Other"},
}


def life_events(request: Request) -> list[dict[str, Any]]:
    """The life events that have published services, with those services."""
    catalogue = desk_of(request).catalogue()
    everything = catalogue.list()
    out = []
    for key, name in LIFE_EVENTS:
        services = [d for d in everything if key in d.get("life_events", [])]
        if services:
            out.append({"key": key, "name": name, "services": services})
    return out


@router.get("/")
def home(request: Request) -> Response:
    """Search, life events, and the person's own matters."""
    session = session_of(request)
    mine: list[dict[str, Any]] = []
    suggestions: list[dict[str, Any]] | None = []
    if session is not None and session.kind != "staff":
        mine = desk_of(request).node.query("cases", "cases_of", {"applicant": session.user})
        suggestions = me.suggestions_for(request, session, mine)  # None: personalisation off
    return render(
        request,
        "home.html",
        session=session,
        events=life_events(request),
        mine=mine,
        suggestions=suggestions,
    )


@router.get("/services")
def services(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=32)] = "",
    event: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """The catalogue: search (中文 or English), by category or by life event."""
    catalogue = desk_of(request).catalogue()
    problem = ""
    hits: list[Mapping[str, Any]] = []
    if q.strip():
        try:
            found = catalogue.search(q, limit=50, category=category or None)
            hits = [{**catalogue.get(h.code), "matched": h.matched} for h in found]
        except GovchainError as exc:
            problem = exc.message
    else:
        hits = [
            d
            for d in catalogue.list(category=category or None)
            if not event or event in d.get("life_events", [])
        ]
    return render(
        request,
        "services.html",
        q=q,
        category=category,
        event=event,
        hits=hits,
        problem=problem,
        categories=CATEGORY_NAMES,
        events=life_events(request),
    )


@router.get("/services/{code}")
def guide(code: str, request: Request) -> Response:
    """A service's guide: materials, time limit, fee, departments, legal basis, steps."""
    found = desk_of(request).definition(code)
    defn = found["definition"]
    depts = {d.id: d.name for d in desk_of(request).node.genesis.departments}
    return render(
        request,
        "guide.html",
        defn=defn,
        head=found["current"],
        depts=depts,
        lang_code=language(request),
        categories=CATEGORY_NAMES,
    )
