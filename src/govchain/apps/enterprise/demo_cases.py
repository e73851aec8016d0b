"""The demo's cases: who applies for what, with which form and materials, and what happens next.

Each ``Application`` is filed as its applicant would file it (form, uploaded materials) and then
moved by its ``script``: the transitions staff, the applicant or the public make, in order.
Registrations cover every state a case can be in; deregistrations follow ``DEREGISTRATIONS``.
Materials are short text documents worded like the real ones, naming the enterprise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govchain.apps.enterprise.demo_records import SEED, DeregistrationPlan, JsonObject
from govchain.apps.enterprise.synthetic import Citizen, SyntheticEnterprise
from govchain.identity.users import User

REGISTRATION, SIMPLIFIED, ORDINARY = "330100-DJ-0001", "330100-ZX-0001", "330100-ZX-0002"
"""The enterprise app's registration and deregistration services."""


@dataclass(frozen=True, slots=True)
class Action:
    """One transition of a seeded case after its submission."""

    transition: str
    """Engine transition: a staff one (``accept``, ``complete`` ...), ``resubmit``,
    ``withdraw`` (the applicant) or ``object`` (a member of the public)."""
    dept: str = ""
    """Department of the staff member acting ('' for the applicant and the public)."""
    role: str = ""
    """Their role (their login is ``<dept>/<role>``)."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """Arguments of the transition (``resubmit``: the ``material`` corrected and the ``note``
    added to it; ``object``: the objecting ``person``, ``step`` and ``text``)."""


@dataclass(frozen=True, slots=True)
class Application:
    """A case the seed files as its applicant would, and the transitions that follow it."""

    service: str
    """Service code."""
    applicant: str
    """Pseudonymous id of the applicant (for an enterprise: the person acting for it)."""
    subject: str
    """USCC of the enterprise the case is about ('' for a registration)."""
    form: JsonObject
    """Application form."""
    materials: Mapping[str, tuple[str, str]]
    """Material id -> (file name, text) uploaded before submitting."""
    script: tuple[Action, ...]
    """Transitions after the submission, in order."""
    consents: tuple[str, ...] = ()
    """Materials another department holds, which the applicant lets it vouch for."""

    @property
    def session(self) -> str:
        """The seed's stand-in for the applicant's login session."""
        return "demo-seed/" + self.applicant.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class People:
    """Who acts in the demo."""

    pseudonym: Callable[[str], str]
    """Resident identity number -> the id that person acts under on-chain."""
    ref: Callable[[str], str]
    """Resident identity number -> ``legal_rep_ref``."""
    by_id: Mapping[str, Citizen]
    """Synthetic citizens by resident identity number."""
    demo: Citizen
    """The synthetic citizen the demo citizen is."""
    citizen: User
    """The demo citizen's login."""
    enterprise: User
    """The demo enterprise."""
    staff: tuple[User, ...]
    """The demo staff."""


def staff_action(dept: str, role: str, transition: str, **args: Any) -> Action:
    """A transition made by ``<dept>/<role>``."""
    return Action(transition, dept, role, args)


ACCEPT = staff_action("market", "officer", "accept")
REVIEW = staff_action("market", "officer", "complete", step="review", result="pass")
TAX = staff_action("tax", "officer", "complete", step="tax_setup", result="pass")
HRSS = staff_action("hrss", "officer", "complete", step="social_insurance", result="pass")
APPROVE = staff_action("market", "approver", "decide", outcome="approve")
CLOSE = staff_action("market", "officer", "close")
SUPPLEMENT = staff_action(
    "market",
    "officer",
    "request_supplement",
    items=["住所使用证明：租赁合同未附出租方产权证明，请补充上传"],
    reason="住所使用相关文件不完整 / proof of the right to use the address is incomplete",
)
RESUBMIT = Action(
    "resubmit", args={"material": "premises", "note": "补正：已附出租方不动产权证书复印件。"}
)
TAX_SUPPLEMENT = staff_action(
    "tax",
    "officer",
    "request_supplement",
    items=["财务负责人姓名、身份证件号码及联系电话"],
    reason="税务信息确认缺少财务负责人信息 / the finance officer's details are missing",
)
REJECT_INTAKE = staff_action(
    "market",
    "officer",
    "reject",
    reason="经营范围含“医疗器械经营”，须先取得前置许可，申请材料中未见许可文件",
)
REJECT_DECISION = staff_action(
    "market",
    "approver",
    "decide",
    outcome="reject",
    reason="企业名称与本登记机关已登记的企业名称近似，易引起公众误认",
)
REVIEW_FAIL = staff_action(
    "market",
    "officer",
    "complete",
    step="review",
    result="fail",
    note="公司章程未载明股东的出资方式和出资期限",
)
WITHDRAW = Action("withdraw", args={"reason": "经营计划调整，暂不设立"})

REGISTRATION_PLANS: tuple[tuple[Action, ...], ...] = (
    *((),) * 8,  # submitted, waiting for intake
    (SUPPLEMENT, RESUBMIT),  # supplemented at intake, submitted again
    *((SUPPLEMENT,),) * 4,
    (ACCEPT, REVIEW, TAX_SUPPLEMENT),  # tax asks for a supplement during its step
    *((ACCEPT,),) * 3,
    *((ACCEPT, staff_action("market", "officer", "claim", step="review")),) * 3,
    *((ACCEPT, REVIEW, staff_action("tax", "officer", "claim", step="tax_setup")),) * 3,
    *((ACCEPT, REVIEW, TAX, HRSS),) * 3,  # waiting for the decision
    *((ACCEPT, REVIEW, TAX, HRSS, APPROVE),) * 5,  # business licence issued
    *((ACCEPT, REVIEW, REJECT_DECISION),) * 2,
    (REJECT_INTAKE,),
    (ACCEPT, REVIEW_FAIL, REJECT_DECISION),
    *((ACCEPT, REVIEW, TAX, HRSS, APPROVE, CLOSE),) * 4,
    (REJECT_INTAKE, CLOSE),
    (WITHDRAW,),
    (ACCEPT, WITHDRAW),
    (SUPPLEMENT, WITHDRAW),
)
"""The registration cases: the transitions after each submission."""
DEMO_CITIZEN_CASES = (0, 9, 27)
"""Registration cases the demo citizen files: one waiting, one with a supplement asked for,
one approved."""


def document(title: str, *lines: str) -> str:
    """A material's text: title, lines, and a footer saying it is demo data."""
    return "\n".join((title, "", *lines, "", f"生成于演示数据 / demo data, {SEED}")) + "\n"


def _yuan(fen: int) -> str:
    """An amount in fen written in yuan."""
    return f"{fen // 100:,}.{fen % 100:02d} 元"


def registrations(companies: Sequence[SyntheticEnterprise], who: People) -> list[Application]:
    """The registration cases of the synthetic founders (see ``REGISTRATION_PLANS``)."""
    out = []
    for k, (e, script) in enumerate(zip(companies, REGISTRATION_PLANS, strict=True)):
        rep = who.by_id[e.legal_representative_id]
        if k in DEMO_CITIZEN_CASES:
            rep = who.demo
        form = {
            "name": e.name,
            "division": e.division_code,
            "legal_rep_name": rep.name,
            "legal_rep_id": rep.resident_id,
            "industry": e.industry,
            "capital_fen": e.registered_capital_fen,
            "address": e.address,
            "scope": e.business_scope,
            "employees": e.employees,
            "contact_phone": rep.phone,
            "shareholders": [{"name": rep.name, "contribution_fen": e.registered_capital_fen}],
        }
        materials = {
            "application": (
                "公司登记（备案）申请书.txt",
                document(
                    "公司登记（备案）申请书",
                    f"企业名称：{e.name}",
                    f"住所：{e.address}",
                    f"法定代表人：{rep.name}",
                    f"注册资本：{_yuan(e.registered_capital_fen)}",
                    f"经营范围：{e.business_scope}",
                    f"联系电话：{rep.phone}",
                ),
            ),
            "articles": (
                "公司章程.txt",
                document(
                    f"{e.name}章程",
                    "第一章 总则",
                    "第一条 为规范公司的组织和行为，根据《中华人民共和国公司法》制定本章程。",
                    f"第二条 公司名称：{e.name}。",
                    f"第三条 公司住所：{e.address}。",
                    f"第四条 公司注册资本为{_yuan(e.registered_capital_fen)}，股东{rep.name}"
                    "以货币出资。",
                ),
            ),
            "shareholders": (
                "股东身份证明.txt",
                document(
                    "自然人股东身份证件复印件",
                    f"姓名：{rep.name}",
                    f"公民身份号码：{rep.resident_id[:6]}********{rep.resident_id[-4:]}",
                    f"住址：{rep.address}",
                ),
            ),
            "appointments": (
                "任职文件.txt",
                document("股东决定", f"任命{rep.name}为{e.name}执行董事兼经理，担任法定代表人。"),
            ),
            "premises": (
                "住所使用证明.txt",
                document(
                    "房屋租赁合同",
                    f"承租方：{e.name}（筹）",
                    f"房屋坐落：{e.address}",
                    "租赁期限：三年",
                ),
            ),
        }
        applicant = who.pseudonym(rep.resident_id)
        # The case desk makes the public particulars from the form, as for any applicant.
        out.append(Application(REGISTRATION, applicant, "", form, materials, script))
    return out


def deregistrations(
    companies: Sequence[SyntheticEnterprise],
    usccs: Sequence[str],
    plan: DeregistrationPlan,
    who: People,
    creditor: Citizen,
) -> list[Application]:
    """The deregistration cases the plan names, each filed by the enterprise's legal
    representative (the demo citizen for the demo citizen's enterprise)."""
    objection = Action(
        "object",
        args={
            "person": who.pseudonym(creditor.resident_id),
            "step": "notice",
            "text": "本人系该公司供应商，尚有货款人民币38,500元未结清，请暂缓注销。",
        },
    )
    cases: list[tuple[int, str, tuple[Action, ...]]] = [
        *((i, SIMPLIFIED, (objection,) if k == 0 else ()) for k, i in enumerate(plan.clear)),
        *((i, SIMPLIFIED, ()) for i, _ in plan.blocked),
        (plan.withdrawn, SIMPLIFIED, (Action("withdraw", args={"reason": "先办理社保账户注销"}),)),
        (plan.ordinary[0], ORDINARY, ()),
        (plan.ordinary[1], ORDINARY, (ACCEPT,)),
        (
            plan.ordinary[2],
            ORDINARY,
            (
                staff_action(
                    "market",
                    "officer",
                    "request_supplement",
                    items=["经全体股东签字确认的清算报告"],
                    reason="清算报告缺少股东签字 / the liquidation report is not signed",
                ),
            ),
        ),
    ]
    out = []
    for i, service, script in cases:
        e, uscc = companies[i], usccs[i]
        rep = who.by_id[e.legal_representative_id]
        applicant = who.citizen.id if i == 1 else who.pseudonym(rep.resident_id)
        materials: dict[str, tuple[str, str]] = {
            "application": (
                "注销登记申请书.txt",
                document(
                    "注销登记申请书",
                    f"企业名称：{e.name}",
                    f"统一社会信用代码：{uscc}",
                    f"法定代表人：{rep.name}",
                    f"联系电话：{rep.phone}",
                ),
            ),
        }
        if service == SIMPLIFIED:
            form: JsonObject = {
                "reason": ("决议解散", "未开业")[i % 2],
                "contact_phone": rep.phone,
                "no_debts": True,
            }
            materials["commitment"] = (
                "全体投资人承诺书.txt",
                document(
                    "全体投资人承诺书",
                    f"本企业{e.name}申请简易注销登记，全体投资人承诺：企业不存在"
                    "未结清清算费用、职工工资、社会保险费用、法定补偿金、应缴纳税款（滞纳金、罚款）"
                    "等债权债务，或者已清偿完毕。",
                    f"投资人：{rep.name}",
                ),
            )
        else:
            form = {"reason": "决议解散", "contact_phone": rep.phone, "liquidation_head": rep.name}
            materials |= {
                "resolution": (
                    "股东会决议.txt",
                    document(
                        "股东会决议",
                        f"经全体股东一致同意，{e.name}解散，成立清算组，"
                        f"由{rep.name}担任清算组负责人。",
                    ),
                ),
                "liquidation_report": (
                    "清算报告.txt",
                    document(
                        "清算报告", f"{e.name}清算组已清理公司财产，清偿全部债务，剩余财产已分配。"
                    ),
                ),
                "creditor_notice": (
                    "债权人公告.txt",
                    document(
                        "注销公告",
                        f"{e.name}已于国家企业信用信息公示系统发布债权人公告，公告期45日。",
                    ),
                ),
            }
        out.append(Application(service, applicant, uscc, form, materials, script))
    return out
