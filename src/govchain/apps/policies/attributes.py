"""The enterprise attribute catalogue: what a policy's rules may read, of which type and unit,
and which department holds each fact (by the registry or by an attestation it signs).

The names, types, bounds and holders are the contract's ``ATTRIBUTES`` (one table, read on
chain and here); this module adds what people read: labels, units and where the fact comes
from in the department's own records.
"""

from __future__ import annotations

from dataclasses import dataclass

from govchain.apps.policies.contract import ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of an enterprise that rules may read."""

    name: str
    """Name in rules (``{"var": name}``)."""
    kind: str
    """``int``, ``bool`` or ``enum``."""
    holder: str
    """Department holding the fact (``registry`` facts are read from the enterprise registry,
    which the market regulator keeps)."""
    minimum: int
    """Smallest value (integers)."""
    maximum: int
    """Largest value (integers)."""
    values: tuple[str, ...]
    """Allowed values (enums)."""
    unit: str
    """Unit of an integer: ``fen``, ``bps`` (1/10,000), ``persons``, ``years`` or ``code``."""
    zh: str
    """Chinese label."""
    en: str
    """English label."""
    source: str
    """Where the holder takes the fact from."""


_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "industry_section": ("code", "行业门类", "Industry section (GB/T 4754)", "enterprise register"),
    "industry_division": (
        "code",
        "行业大类",
        "Industry division (GB/T 4754)",
        "enterprise register",
    ),
    "district": ("code", "所在区县", "District (GB/T 2260)", "enterprise register"),
    "years_in_business": ("years", "成立年限", "Years in business", "enterprise register"),
    "registered_capital_fen": ("fen", "注册资本", "Registered capital", "enterprise register"),
    "size_class": ("", "企业规模", "Size class (micro/small/medium/large)", "小微企业名录"),
    "revenue_fen": ("fen", "上年营业收入", "Revenue, last year", "企业所得税年度申报"),
    "tax_paid_fen": ("fen", "上年纳税额", "Tax paid, last year", "税款征收记录"),
    "rd_expense_fen": ("fen", "上年研发费用", "R&D expense, last year", "研发费用加计扣除申报"),
    "rd_share_bps": ("bps", "研发费用占比", "R&D expense share of revenue", "研发费用加计扣除申报"),
    "tax_credit_rating": ("", "纳税信用等级", "Tax credit rating", "纳税信用评价"),
    "high_tech": ("", "高新技术企业", "High-tech enterprise", "高新技术企业优惠备案"),
    "tax_arrears": ("", "欠税", "Overdue tax", "欠税公告"),
    "employees": ("persons", "参保职工人数", "Insured employees", "社会保险参保登记"),
    "graduates_hired": ("persons", "当年招用高校毕业生", "Graduates hired this year", "就业登记"),
    "social_insurance_arrears": ("", "社保欠费", "Social insurance arrears", "社会保险费征缴"),
    "export_fen": ("fen", "上年出口额", "Exports, last year", "海关报关单"),
    "aeo_certified": ("", "海关高级认证企业", "AEO certified", "海关企业信用管理"),
}


def _catalogue() -> tuple[Attribute, ...]:
    out = []
    for name, kind, holder, lo, hi, values in ATTRIBUTES:
        unit, zh, en, source = _TEXTS[name]
        out.append(Attribute(name, kind, holder, lo, hi, tuple(values), unit, zh, en, source))
    return tuple(out)


CATALOGUE: tuple[Attribute, ...] = _catalogue()
"""Every attribute, in the contract's order."""
BY_NAME: dict[str, Attribute] = {a.name: a for a in CATALOGUE}
"""Attribute by name."""


def holder_label(attr: Attribute) -> str:
    """Who holds the fact, for people: the registry or the attesting department."""
    return "market (registry)" if attr.holder == "registry" else attr.holder
