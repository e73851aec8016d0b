"""Registry entries of the duplication review tests: a few realistic systems, projects and
applications, a builder of variants, and files holding them."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import openpyxl

from govchain.apps.projects.imports import COLUMNS
from govchain.apps.projects.records import LIST_FIELDS

HOSPITAL_BOOKING: dict[str, Any] = {
    "id": "SYS-HEALTH-0001",
    "status": "in_use",
    "department": "health",
    "department_name": "省卫生健康委员会",
    "name": "全省预约挂号服务系统",
    "purpose": "为全省二级以上医疗机构提供统一的预约挂号服务，整合号源，减少患者排队等候时间。",
    "functions": [
        "患者通过手机应用和网站预约门诊号源",
        "医院发布和调整医生出诊排班",
        "全省号源统一汇聚和分配",
        "就诊前短信提醒和取消预约",
        "爽约记录管理和预约信用限制",
    ],
    "uses": ["health.resident_health_records", "医疗机构执业登记信息"],
    "produces": ["health.appointment_records"],
    "users": ["全省二级以上医疗机构", "就诊患者"],
    "user_count": 12_000_000,
    "budget_fen": 860_000_000,
    "platform": "省政务云",
    "start_date": "2021-06-01",
    "end_date": "",
}
SCHOOL_ENROLMENT: dict[str, Any] = {
    "id": "PRJ-EDU-0001",
    "status": "in_development",
    "department": "education",
    "department_name": "省教育厅",
    "name": "义务教育入学一件事平台",
    "purpose": "家长网上办理小学和初中入学报名，学位审核与派位结果在线查询。",
    "functions": [
        "家长在线填报适龄儿童入学信息",
        "学区划分和学位预警",
        "户籍和房产信息自动核验",
        "派位结果在线查询和通知",
    ],
    "uses": ["public_security.household_registration", "natural_resources.property_rights"],
    "produces": ["education.enrolment_records"],
    "users": ["适龄儿童家长", "中小学校"],
    "user_count": 900_000,
    "budget_fen": 350_000_000,
    "platform": "省政务云",
    "start_date": "2026-03-01",
    "end_date": "2027-06-30",
}
FOOD_SAMPLING: dict[str, Any] = {
    "id": "SYS-MARKET-0001",
    "status": "in_use",
    "department": "market",
    "department_name": "省市场监督管理局",
    "name": "食品安全抽检监测系统",
    "purpose": "管理食品安全监督抽检计划、任务、检验结果和不合格食品核查处置。",
    "functions": [
        "制定和下达年度抽检计划",
        "抽样人员现场录入抽样单",
        "检验机构上报检验结果",
        "不合格食品核查处置跟踪",
    ],
    "uses": ["market.enterprise_registry"],
    "produces": ["market.food_sampling_results"],
    "users": ["市场监管执法人员", "食品检验机构"],
    "user_count": 8_000,
    "budget_fen": 120_000_000,
    "platform": "自建机房",
    "start_date": "2019-01-15",
    "end_date": "",
}
BOOKING_APPLICATION: dict[str, Any] = {
    "id": "APP-2027-0001",
    "status": "pending",
    "department": "medical_insurance",
    "department_name": "省医疗保障局",
    "name": "医院预约挂号平台建设项目",
    "purpose": "建设面向全省患者的医院预约挂号平台，统一号源，方便群众就医。",
    "functions": [
        "患者用手机和网站预约医院门诊号源",
        "医院发布和调整医生出诊排班",
        "全省医院号源统一汇聚和分配",
        "就诊前短信提醒以及取消预约",
    ],
    "uses": ["health.resident_health_records"],
    "produces": [],
    "users": ["就诊患者"],
    "user_count": 10_000_000,
    "budget_fen": 500_000_000,
    "platform": "省政务云",
    "start_date": "2027-01-10",
    "end_date": "2027-12-31",
}
SAMPLES = (HOSPITAL_BOOKING, SCHOOL_ENROLMENT, FOOD_SAMPLING, BOOKING_APPLICATION)
"""The sample entries."""


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Return a deep copy of ``base`` with ``changes``."""
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def evidence_for(application: str, **changes: Any) -> dict[str, Any]:
    """A review in its JSON form (the shape of ``Review.to_json()``), for contract tests."""
    doc: dict[str, Any] = {
        "application": application,
        "recommendation": "reuse",
        "target": "SYS-HEALTH-0001",
        "confidence": 870,
        "reasons": ["在用系统「全省预约挂号服务系统」覆盖本申请 4 项功能中的 4 项（100%）。"],
        "candidates": [
            {
                "id": "SYS-HEALTH-0001",
                "name": "全省预约挂号服务系统",
                "department": "health",
                "department_name": "省卫生健康委员会",
                "status": "in_use",
                "score": 812,
                "similarity": 640,
                "coverage": 1000,
                "functions": [
                    {"function": 0, "matches": 0, "score": 910},
                    {"function": 1, "matches": 1, "score": 1000},
                ],
                "shared_resources": ["health.resident_health_records"],
                "department_relation": "related",
                "budget_fen": 860_000_000,
            }
        ],
    }
    doc.update(changes)
    return doc


ENGLISH = [field for field, _ in COLUMNS]
"""The import columns by field name."""
CHINESE = [zh for _, zh in COLUMNS]
"""The import columns by Chinese name."""


def cells(entry: dict[str, Any], sep: str = "\n") -> list[Any]:
    """An entry as a CSV or XLSX row (list fields joined by ``sep``)."""
    return [sep.join(entry[f]) if f in LIST_FIELDS else entry[f] for f in ENGLISH]


def csv_bytes(rows: list[list[Any]], header: list[str] = ENGLISH, encoding: str = "utf-8") -> bytes:
    """A CSV file of ``rows`` under ``header``."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], header: list[str] = ENGLISH) -> bytes:
    """An XLSX workbook of ``rows`` under ``header`` (made with openpyxl)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "登记"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
