"""The demo's permit applications: enterprises apply for the permits their industry or
business scope needs (``permits.permits_for``), with forms filled from what they are.

A permit form asks shared-vocabulary questions (the enterprise's particulars, its contact and
managers, its premises ...) and questions of its own. ``PermitFiller`` answers the vocabulary
from the synthetic enterprise and people, and any other question by its schema (a choice, a
count sized to the enterprise, a date, a document number in its usual shape); an application
whose form still does not validate is not filed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.apps.enterprise.demo_cases import (
    Action,
    Application,
    People,
    document,
    staff_action,
)
from govchain.apps.enterprise.demo_records import JsonObject
from govchain.apps.enterprise.permits import permits_for
from govchain.apps.enterprise.synthetic import Citizen, SyntheticEnterprise
from govchain.node.casedesk import FormInvalid, check_form

PERMITS_EACH = 2
"""Enterprises that apply for each published permit (the first is granted, the second waits
in its first step)."""
PERMITS_FROM = 20
"""Imported enterprises from this index on may apply for permits (the others are busy)."""
ORGANISATION_ITEMS: dict[str, tuple[JsonObject, ...]] = {
    "facilities": (
        {"name": "货架及陈列柜", "count": 12},
        {"name": "冷藏冷冻设备", "count": 3},
        {"name": "温湿度监测设备", "count": 2},
    ),
    "equipment": (
        {
            "name": "乘客电梯",
            "product_number": "DT2024{n:06d}",
            "maker": "浙江恒达电梯股份有限公司",
        },
    ),
    "vehicles": (
        {"plate": "", "kind": "重型厢式货车", "gross_mass_kg": 18_000},
        {"plate": "", "kind": "中型厢式货车", "gross_mass_kg": 9_800},
    ),
}
"""Items of the forms' lists of things, per list."""
DOCUMENT_NUMBERS = {
    "premises_property_cert": "浙（{year}）杭州市不动产权第{n:07d}号",
    "qualification_certificate": "D{n:09d}",
    "land_approval_ref": "浙（{year}）杭州市不动产权第{n:07d}号",
    "planning_permit_ref": "建字第330100{year}{n:05d}号",
    "fire_acceptance_ref": "杭建消验字〔{year}〕第{n:04d}号",
}
"""Document numbers the forms ask for, in their usual shapes."""
TEXTS = {
    "legal_rep_position": "执行董事兼总经理",
    "business_hours": "09:00-21:00",
    "customs_office": "杭州海关",
    "information_system": "进销存及质量追溯管理系统（采购、验收、储存、销售、追溯）",
    "quality_manager_education": "本科 药学",
    "quality_manager_title": "执业药师",
    "dispatch_industries": "制造业；批发和零售业",
    "sewer_connection": "市政污水管网检查井",
    "maintenance_company": "杭州恒达电梯工程有限公司",
    "venue_floors": "第1-2层",
    "postal_code": "310012",
    "enterprise_type": "有限责任公司（自然人投资或控股）",
    "legal_rep_id_type": "居民身份证",
}
"""Fixed answers to questions every applicant answers alike."""
GENERIC_TEXT = "详见申请材料"
"""Answer to a free-text question the seed has no better answer for."""


@dataclass(frozen=True, slots=True)
class PermitFiller:
    """Answers a permit form's questions for one enterprise."""

    e: SyntheticEnterprise
    """The enterprise."""
    uscc: str
    """Its USCC."""
    rep: Citizen
    """Its legal representative (who signs and is the contact)."""
    staff: Sequence[Citizen]
    """People who hold the named posts (quality manager, safety manager ...)."""
    today: dt.date
    """The application date (local)."""
    serial: int
    """A number making its document numbers unique."""

    def person(self, key: str) -> Citizen:
        """Who a ``<post>_name`` / ``_phone`` / ``_id_number`` question is about."""
        post = key.rsplit("_", 2 if key.endswith("_id_number") else 1)[0]
        if post in ("legal_rep", "contact", "principal", "signatory", "agent"):
            return self.rep
        # The same post gets the same person on every form of the enterprise.
        return self.staff[sum(map(ord, post)) % len(self.staff)]

    def known(self, key: str) -> Any:
        """The answer to a question of the shared vocabulary, or ``None``."""
        e, today = self.e, self.today
        authority = f"{'杭州市' if e.district.endswith('区') else ''}{e.district}市场监督管理局"
        lease_end = today + dt.timedelta(days=3 * 365)
        answers: dict[str, Any] = {
            "application_kind": "新办",
            "application_date": today.isoformat(),
            "truthfulness_pledge": True,
            "licence_delivery": "电子证照",
            "enterprise_name": e.name,
            "uscc": self.uscc,
            "registered_address": e.address,
            "registered_capital_fen": e.registered_capital_fen,
            "established_date": e.established.isoformat(),
            "registration_authority": authority,
            "business_scope": e.business_scope,
            "industry_code": e.industry,
            "premises_address": e.address,
            "premises_district": e.district,
            "premises_ownership": "租赁",
            "premises_lease_end": lease_end.isoformat(),
            "storage_address": e.address,
            "parking_address": e.address,
            "project_address": e.address,
            "contractor_name": e.name,
            "contractor_uscc": self.uscc,
            "project_name": f"{e.address}综合楼新建工程",
            "building_name": f"{e.address}综合楼",
            "staff_count": max(1, e.employees),
            "staff_health_certified": max(1, e.employees),
            "paid_in_capital_fen": max(200_000_000, e.registered_capital_fen),
            "opening_date": (today + dt.timedelta(days=15)).isoformat(),
            "planned_start": (today + dt.timedelta(days=30)).isoformat(),
            "planned_completion": (today + dt.timedelta(days=540)).isoformat(),
            "org_departments": ["质量管理部", "采购部", "仓储部", "销售部"],
            **TEXTS,
        }
        if key in answers:
            return answers[key]
        if key.endswith("_name") and key != "online_platform":
            return self.person(key).name
        if key.endswith("_phone"):
            return self.person(key).phone
        if key.endswith("_id_number"):
            return self.person(key).resident_id
        if key in DOCUMENT_NUMBERS:
            return DOCUMENT_NUMBERS[key].format(year=today.year - 1, n=self.serial)
        return None

    def value(self, key: str, schema: Mapping[str, Any]) -> Any:
        """An answer satisfying ``schema``: the vocabulary's, else one of its own kind."""
        found = self.known(key)
        if found is not None:
            return found
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        low = int(schema.get("minimum", 0))
        if kind == "boolean":
            return True
        if kind == "integer":
            size = max(1, self.e.employees)
            guess = {
                "_m2": 20 + 4 * size,
                "_fen": self.e.registered_capital_fen // 20,
                "_litres": 500 * size,
                "_kg": 18_000,
            }
            return max(low, next((v for k, v in guess.items() if key.endswith(k)), min(size, 6)))
        if kind == "array":
            return self.items(key, schema)
        if kind == "string" and schema.get("format") == "date":
            return self.today.isoformat()
        return GENERIC_TEXT

    def items(self, key: str, schema: Mapping[str, Any]) -> list[Any]:
        """The answer to a list question: a few of its choices, or things of its kind."""
        item = schema.get("items", {})
        want = max(1, int(schema.get("minItems", 1)))
        if "enum" in item:
            return list(item["enum"][: max(want, 2)])
        if key in ORGANISATION_ITEMS:
            return [
                {k: v.format(n=self.serial) if type(v) is str else v for k, v in row.items()}
                for row in ORGANISATION_ITEMS[key]
            ]
        if key == "pharmacists":
            p = self.staff[0]
            return [
                {"name": p.name, "registration_number": f"33{self.today.year - 3}{self.serial:06d}"}
            ]
        return [self.value(f"{key}_item", item)] * want

    def form(self, schema: Mapping[str, Any]) -> JsonObject:
        """Fill ``schema``: every required question, and every question of the vocabulary."""
        props: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        out: JsonObject = {}
        for key, sub in props.items():
            if key in required:
                out[key] = self.value(key, sub)
            elif key.startswith(("agent_", "delivery_", "online_", "business_term")):
                continue  # answered only when another answer asks for them
            elif (found := self.known(key)) is not None:
                out[key] = found
        return out


def permit_applications(
    definitions: Sequence[Mapping[str, Any]],
    companies: Sequence[SyntheticEnterprise],
    usccs: Sequence[str],
    who: People,
    people: Sequence[Citizen],
    today: dt.date,
) -> list[tuple[Application, bool]]:
    """Applications for the published permits by enterprises whose industry or business scope
    needs them (``permits.permits_for``): per permit ``PERMITS_EACH`` enterprises, the first to
    be granted (``True``), the next left at its first step."""
    wanted = {d["code"]: d for d in definitions if d.get("category") == "permit"}
    taken: dict[str, int] = {}
    out: list[tuple[Application, bool]] = []
    for i in range(PERMITS_FROM, len(companies)):
        e = companies[i]
        need = [n.code for n in permits_for(e.industry, e.business_scope) if n.code in wanted]
        code = next((c for c in need if taken.get(c, 0) < PERMITS_EACH), None)
        if code is None:
            continue
        defn = wanted[code]
        rep = who.by_id[e.legal_representative_id]
        filler = PermitFiller(e, usccs[i], rep, people[i % 7 :: 7][:5], today, i)
        materials = {
            m["id"]: (
                f"{m['name']['zh']}.txt",
                document(
                    m["name"]["zh"],
                    f"申请人：{e.name}",
                    f"统一社会信用代码：{usccs[i]}",
                    f"经营场所：{e.address}",
                    f"申请事项：{defn['name']['zh']}",
                ),
            )
            for m in defn["materials"]
            if m.get("required") and not m.get("held_by")
        }
        consents = tuple(m["id"] for m in defn["materials"] if m.get("held_by"))
        form = filler.form(defn["form"])
        try:
            check_form(defn["form"], form)
        except FormInvalid:
            continue  # a question the filler cannot answer: this enterprise does not apply
        granted = taken.get(code, 0) == 0
        taken[code] = taken.get(code, 0) + 1
        app = Application(
            code,
            who.pseudonym(rep.resident_id),
            usccs[i],
            form,
            materials,
            permit_script(defn, granted),
            consents,
        )
        out.append((app, granted))
    return out


def permit_script(defn: Mapping[str, Any], granted: bool) -> tuple[Action, ...]:
    """Acceptance, then (``granted``) the staff steps that do not wait for a check (checks are
    the case worker's) in the definition's order, or (not) a claim of the first of them."""
    script = [] if defn.get("auto_accept") else [staff_action(defn["owner"], "officer", "accept")]
    manual: set[str] = set()
    for s in defn["steps"]:
        if s["kind"] in ("review", "inspection") and set(s.get("after", ())) <= manual:
            if not granted:
                return (*script, staff_action(s["dept"], s["role"], "claim", step=s["id"]))
            note = "经现场核查，符合许可条件" if s["kind"] == "inspection" else ""
            script.append(
                staff_action(
                    s["dept"],
                    s["role"],
                    "complete",
                    step=s["id"],
                    result="pass",
                    **({"note": note} if note else {}),
                )
            )
            manual.add(s["id"])
    return tuple(script)
