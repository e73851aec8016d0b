"""The portal's application pages and "my cases", in process (httpx ``ASGITransport``, no
sockets) on an embedded network of the four demo departments with the enterprise services
published: a citizen registers a company through every page and follows the case; forms with
errors, forged posts and other people's cases are refused; an agent of an enterprise applies
for the customs filing with consent to the business licence the register holds."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.cli.apps import publish_definitions
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, init_network
from govchain.node.node import Node
from govchain.portal.app import mount_portal
from govchain.portal.forms import Field, fields, parse, posted_of, tidy
from govchain.procedures.uscc import issue_uscc
from govchain.sdk import find_app

PASSWORD = "Portal-test-2026"
CITIZEN = "11010519491231002X"  # GB 11643-1999 example number (valid check digit)
OTHER = "110105198001010016"  # check character by ISO 7064 MOD 11-2 (GB 11643)
REGISTRATION = "330100-DJ-0001"
CUSTOMS = "330100-BA-0003"
DAY_MS = 86_400_000
FORM = {
    "name": "杭州恒瑞餐饮管理有限公司",
    "division": "330106",
    "legal_rep_name": "王伟",
    "legal_rep_id": CITIZEN,
    "industry": "6210",
    "capital_fen": "100000000",
    "address": "杭州市西湖区文三路100号",
    "scope": "餐饮服务；食品销售",
    "contact_phone": "13800001234",
    # Row 0 blank: blank rows are left out and the others numbered from 0.
    "shareholders.1.name": "王伟",
    "shareholders.1.contribution_fen": "100000000",
}
CUSTOMS_FORM = {
    "application_kind": "新办",
    "application_date": "2026-12-07",
    "signatory_name": "王伟",
    "truthfulness_pledge": "true",
    "licence_delivery": "电子证照",
    "contact_name": "李娜",
    "contact_phone": "13900002222",
    "declarant_kind": "进出口货物收发货人",
    "customs_office": "杭州海关",
    "trade_kind": ["一般贸易", "跨境电子商务"],
}


class Browser:
    """A browser with cookies, calling the ASGI app from synchronous tests."""

    def __init__(self, app: FastAPI) -> None:
        self._cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._cm.__enter__()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        call = functools.partial(self._http.request, method, url, **kwargs)
        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._cm.__exit__(None, None, None)

    def csrf(self, url: str = "/") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.get(url).text)
        assert found, url
        return found.group(1)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    root = tmp_path / "net"
    init_network(
        root,
        chain_id="portal-apply",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    n = open_embedded(root, in_memory=True)
    n.start()
    try:
        service = find_app("enterprise")
        publish_definitions(n, root, service.definitions(), service.resources())
        yield n
    finally:
        n.close()


@pytest.fixture
def app(node: Node, tmp_path: Path) -> FastAPI:
    settings = ApiSettings(
        network_dir=tmp_path / "net", wait_timeout_s=20.0, issuer="http://testserver"
    )
    application = create_app(node, settings)
    mount_portal(application, secure_cookies=False)
    return application


@pytest.fixture
def browsers(app: FastAPI) -> Iterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for b in made:
        b.close()


def login(app: FastAPI, made: list[Browser], resident_id: str, name: str) -> tuple[Browser, str]:
    """A citizen logged in to the portal through the provider; return the browser and the
    citizen's user id."""
    user = app.state.identity.users.create_citizen(resident_id, name, PASSWORD)
    b = Browser(app)
    made.append(b)
    r = b.get("/login/start?next=/cases")
    assert r.status_code == 302
    query = dict(httpx.URL(r.headers["location"]).params)
    r = b.post("/oidc/authorize", data={**query, "login": resident_id, "password": PASSWORD})
    r = b.get(r.headers["location"].replace("http://testserver", ""))
    assert r.status_code == 303 and r.headers["location"] == "/cases"
    return b, user.id


def files(*names: str) -> dict[str, tuple[str, bytes, str]]:
    return {f"file-{n}": (f"{n}.pdf", f"%PDF {n}".encode(), "application/pdf") for n in names}


def apply_for_registration(b: Browser) -> str:
    """Go through every page of the registration; return the case number."""
    r = b.get(f"/services/{REGISTRATION}/apply")
    assert r.status_code == 200
    assert f'href="/services/{REGISTRATION}/apply/form"' in r.text
    assert "/apply/who" not in r.text and "/apply/consent" not in r.text  # a citizen's service
    r = b.get(f"/services/{REGISTRATION}/apply/form")
    assert r.status_code == 200 and 'name="shareholders.2.contribution_fen"' in r.text
    assert 'pattern="^3301[0-9]{2}$"' in r.text and 'maxlength="60"' in r.text
    csrf = b.csrf(f"/services/{REGISTRATION}/apply/form")
    r = b.post(f"/services/{REGISTRATION}/apply/form", data={**FORM, "csrf": csrf})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/services/{REGISTRATION}/apply/materials"
    names = ("application", "articles", "shareholders", "appointments", "premises")
    r = b.post(
        f"/services/{REGISTRATION}/apply/materials", data={"csrf": csrf}, files=files(*names)
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/services/{REGISTRATION}/apply/check"
    r = b.get(f"/services/{REGISTRATION}/apply/check")
    assert r.status_code == 200
    assert "杭州恒瑞餐饮管理有限公司" in r.text and "articles.pdf" in r.text
    assert "1,000,000.00" in r.text  # the capital in fen, also shown in yuan
    assert f'href="/services/{REGISTRATION}/apply/form?return=check#f-scope"' in r.text
    r = b.post(f"/services/{REGISTRATION}/apply/check", data={"csrf": csrf})
    assert r.status_code == 303, r.text
    found = re.fullmatch(r"/cases/([0-9-]+)/confirmation", r.headers["location"])
    assert found, r.headers["location"]
    return found.group(1)


def test_citizen_registers_a_company_and_follows_the_case(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, user = login(app, browsers, CITIZEN, "王伟")
    number = apply_for_registration(b)

    r = b.get(f"/cases/{number}/confirmation")
    assert r.status_code == 200 and f"<strong>{number}</strong>" in r.text
    receipt = re.search(r'href="(/v1/transactions/[0-9a-f]{64}/receipt)"', r.text)
    assert receipt
    r = b.get(receipt.group(1))
    assert r.status_code == 200 and r.json()["entry"]["receipt"]["status"] == "ok"

    case = node.query("cases", "case", {"case": number})
    assert case["applicant"] == user and case["status"] == "submitted"
    assert set(case["materials"]) == {
        "application",
        "articles",
        "shareholders",
        "appointments",
        "premises",
    }
    assert case["particulars"]["name"] == "杭州恒瑞餐饮管理有限公司"

    r = b.get(f"/cases/{number}")
    assert r.status_code == 200
    assert "有限责任公司设立登记" in r.text and "名称与登记材料审查" in r.text
    links = re.findall(r'href="/v1/transactions/([0-9a-f]{64})/receipt"', r.text)
    assert links == [h["tx"] for h in case["history"]]
    assert "articles.pdf" in r.text  # the material's file name

    r = b.get("/cases")
    assert r.status_code == 200 and f'href="/cases/{number}"' in r.text

    # The draft is gone once submitted: the task list starts again.
    r = b.get(f"/services/{REGISTRATION}/apply/check", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/apply/form")

    # Withdraw: a confirmation page, then the ledger transaction.
    r = b.get(f"/cases/{number}/withdraw")
    assert r.status_code == 200 and 'name="reason"' in r.text
    r = b.post(f"/cases/{number}/withdraw", data={"csrf": b.csrf(), "reason": "名称另议"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{number}?done=withdrawn"
    case = node.query("cases", "case", {"case": number})
    assert case["status"] == "withdrawn" and case["reason"] == "名称另议"
    r = b.get(r.headers["location"])
    assert "已撤回" in r.text and "/withdraw" not in r.text
    assert len(re.findall(r"/v1/transactions/[0-9a-f]{64}/receipt", r.text)) == 2


def test_form_errors_are_summarised_and_linked_to_their_fields(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, _ = login(app, browsers, CITIZEN, "王伟")
    b.get("/lang/en")
    csrf = b.csrf(f"/services/{REGISTRATION}/apply/form")
    bad = {
        **FORM,
        "name": "",
        "legal_rep_id": "110105194912310021",  # wrong check digit
        "capital_fen": "a lot",
        "shareholders.1.contribution_fen": "",
        "csrf": csrf,
    }
    r = b.post(f"/services/{REGISTRATION}/apply/form", data=bad)
    assert r.status_code == 422
    summary = r.text.split('class="error-summary"')[1].split("</div>")[0]
    targets = re.findall(r'href="#([^"]+)"', summary)
    assert targets == [
        "f-name",
        "f-legal_rep_id",
        "f-capital_fen",
        "f-shareholders-0-contribution_fen",
    ]
    assert "Enter Enterprise name" in summary
    assert "Registered capital in fen must be a whole number" in summary
    assert "Shareholders and contributions 1: 认缴出资额（分）" in summary
    assert 'id="f-legal_rep_id-error"' in r.text  # next to the field too
    assert 'value="杭州市西湖区文三路100号"' in r.text  # what was typed stays
    # Still on the form: nothing can be submitted.
    r = b.get(f"/services/{REGISTRATION}/apply/check", follow_redirects=False)
    assert r.headers["location"].endswith("/apply/form")

    # In Chinese, with the validator's own reason where no message of ours fits.
    b.get("/lang/zh")
    r = b.post(f"/services/{REGISTRATION}/apply/form", data=bad)
    assert "请填写企业名称" in r.text and "法定代表人公民身份号码：" in r.text


def test_forged_posts_and_other_peoples_cases_are_refused(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, user = login(app, browsers, CITIZEN, "王伟")
    csrf = b.csrf(f"/services/{REGISTRATION}/apply/form")
    r = b.post(f"/services/{REGISTRATION}/apply/form", data={**FORM, "csrf": "forged"})
    assert r.status_code == 403
    r = b.get(f"/services/{REGISTRATION}/apply/form")
    assert "杭州恒瑞餐饮管理有限公司" not in r.text  # the forged post saved nothing
    number = apply_for_registration(b)
    before = node.query("cases", "cases_of", {"applicant": user})
    # A forged submit (a new draft, complete) writes nothing to the ledger.
    b.post(f"/services/{REGISTRATION}/apply/form", data={**FORM, "csrf": csrf})
    b.post(
        f"/services/{REGISTRATION}/apply/materials",
        data={"csrf": csrf},
        files=files("application", "articles", "shareholders", "appointments", "premises"),
    )
    height = node.ledger.height
    r = b.post(f"/services/{REGISTRATION}/apply/check", data={"csrf": "forged"})
    assert r.status_code == 403
    r = b.post(
        f"/services/{REGISTRATION}/apply/check",
        data={"csrf": csrf},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert node.query("cases", "cases_of", {"applicant": user}) == before
    assert node.ledger.height == height
    r = b.post(f"/cases/{number}/withdraw", data={"csrf": "forged", "reason": "x"})
    assert r.status_code == 403
    assert node.query("cases", "case", {"case": number})["status"] == "submitted"

    other, _ = login(app, browsers, OTHER, "李娜")
    r = other.get(f"/cases/{number}")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert other.get(f"/cases/{number}/withdraw").status_code == 403
    r = other.post(f"/cases/{number}/withdraw", data={"csrf": other.csrf()})
    assert r.status_code == 403
    assert node.query("cases", "case", {"case": number})["status"] == "submitted"
    assert f"/cases/{number}" not in other.get("/cases").text

    anonymous = Browser(app)
    browsers.append(anonymous)
    r = anonymous.get(f"/cases/{number}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def _import(app: FastAPI, node: Node, uscc: str, agent: str) -> None:
    """The registration authority brings an existing enterprise into the registry (as
    ``tests/procedures/test_contracts.py`` does), with ``agent`` acting for it."""
    ent = {
        "uscc": uscc,
        "name": "杭州瑞丰科技有限公司",
        "division": "330106",
        "legal_rep_name": "张敏",
        "legal_rep_ref": "cd" * 32,
        "industry": "65",
        "capital_fen": 5_000_000_00,
        "address": "杭州市西湖区天目山路1号",
        "scope": "软件开发；信息技术咨询服务",
        "agents": [agent],
        "established_ms": node.clock_ms() - 400 * DAY_MS,
    }
    desk = app.state.casedesk
    tx = desk.sign("market", "registry", "import_enterprise", {"enterprise": ent}, "market/admin")
    node.submit([tx.envelope()], raw=False, wait=True, timeout=20)
    assert node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]["status"] == "ok"


def test_agent_applies_for_the_customs_filing_with_consent(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, user = login(app, browsers, CITIZEN, "王伟")
    base = f"/services/{CUSTOMS}/apply"
    r = b.get(f"{base}/who")
    assert "你尚未代理任何企业" in r.text and user in r.text  # how to be authorised

    uscc = issue_uscc("330106", 9_000_001)
    _import(app, node, uscc, user)
    csrf = b.csrf(f"{base}/who")
    assert "杭州瑞丰科技有限公司" in b.get(f"{base}/who").text
    r = b.post(f"{base}/who", data={"csrf": csrf})
    assert r.status_code == 422 and 'href="#f-subject"' in r.text
    r = b.post(f"{base}/who", data={"csrf": csrf, "subject": uscc})
    assert r.status_code == 303 and r.headers["location"] == f"{base}/consent"

    r = b.get(f"{base}/consent")
    assert "营业执照" in r.text and "市场监督管理局" in r.text and "报关单位备案" in r.text
    r = b.post(f"{base}/consent", data={"csrf": csrf})
    assert r.status_code == 422 and 'href="#consent-business_licence"' in r.text
    r = b.post(f"{base}/consent", data={"csrf": csrf, "consent": "business_licence"})
    assert r.status_code == 303 and r.headers["location"] == f"{base}/form"

    r = b.get(f"{base}/form")
    assert "杭州瑞丰科技有限公司" in r.text and uscc in r.text  # from the register
    assert 'name="enterprise_name"' not in r.text  # not editable
    assert 'type="date"' in r.text and 'name="trade_kind"' in r.text
    r = b.post(f"{base}/form", data={**CUSTOMS_FORM, "csrf": csrf})
    assert r.status_code == 303, r.text
    r = b.post(f"{base}/materials", data={"csrf": csrf}, files=files("application"))
    assert r.status_code == 303 and r.headers["location"] == f"{base}/check"
    r = b.get(f"{base}/check")
    assert "一般贸易、跨境电子商务" in r.text and "杭州瑞丰科技有限公司" in r.text
    r = b.post(f"{base}/check", data={"csrf": csrf})
    assert r.status_code == 303, r.text
    number = r.headers["location"].split("/")[2]

    case = node.query("cases", "case", {"case": number})
    assert case["subject"] == uscc and case["applicant_kind"] == "enterprise"
    assert case["consents"] == ["business_licence"]
    r = b.get("/cases")
    assert f'href="/cases/{number}"' in r.text and "杭州瑞丰科技有限公司" in r.text


def test_too_large_a_material_is_refused_next_to_its_field(
    app: FastAPI, node: Node, browsers: list[Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    from govchain.portal.routes import apply, cases

    monkeypatch.setattr(apply, "MAX_MATERIAL_BYTES", 8)
    monkeypatch.setattr(cases, "MAX_MATERIAL_BYTES", 8)
    b, _ = login(app, browsers, CITIZEN, "王伟")
    csrf = b.csrf(f"/services/{REGISTRATION}/apply/form")
    b.post(f"/services/{REGISTRATION}/apply/form", data={**FORM, "csrf": csrf})
    big = {"file-articles": ("articles.pdf", b"0123456789", "application/pdf")}
    r = b.post(f"/services/{REGISTRATION}/apply/materials", data={"csrf": csrf}, files=big)
    assert r.status_code == 422
    assert 'href="#m-articles"' in r.text and 'href="#m-application"' in r.text


def _staff(app: FastAPI, node: Node, number: str, transition: str, **args: Any) -> None:
    """A market officer acts on a case (signed by the department's key, as the API does)."""
    tx = app.state.casedesk.staff_step(
        "market", "market/officer-1", "officer", number, transition, args
    )
    node.submit([tx.envelope()], raw=False, wait=True, timeout=20)
    assert node.ledger.receipt_bundle(tx.tx_id)["entry"]["receipt"]["status"] == "ok"


def test_applicant_answers_a_supplement_request(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, _ = login(app, browsers, CITIZEN, "王伟")
    number = apply_for_registration(b)
    assert b.get(f"/cases/{number}/supplement", follow_redirects=False).status_code == 303
    before = node.query("cases", "case", {"case": number})
    _staff(
        app, node, number, "request_supplement", items=["公司章程（签字页）"], reason="章程缺签字"
    )

    r = b.get(f"/cases/{number}")
    assert "公司章程（签字页）" in r.text and "章程缺签字" in r.text
    assert f'href="/cases/{number}/supplement"' in r.text
    r = b.get(f"/cases/{number}/supplement")
    assert r.status_code == 200
    assert 'value="杭州恒瑞餐饮管理有限公司"' in r.text  # the form as sent, to change
    csrf = b.csrf(f"/cases/{number}")
    r = b.post(f"/cases/{number}/supplement", data={**FORM, "csrf": csrf})
    assert r.status_code == 422 and "请上传新的材料或修改申请表" in r.text  # nothing changed

    changed = {**FORM, "scope": "餐饮服务；食品销售；会议服务", "csrf": csrf}
    new = {"file-articles": ("articles-signed.pdf", b"%PDF signed", "application/pdf")}
    r = b.post(f"/cases/{number}/supplement", data=changed, files=new)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{number}?done=supplied"
    after = node.query("cases", "case", {"case": number})
    assert after["status"] == "submitted" and after["supplement"] is None
    assert after["materials"]["articles"] != before["materials"]["articles"]
    assert after["materials"]["premises"] == before["materials"]["premises"]
    assert after["form_hash"] != before["form_hash"]
    assert [h["event"] for h in after["history"]] == [
        "submitted",
        "supplement_requested",
        "resubmitted",
    ]


def test_a_creditor_objects_during_the_public_notice(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, user = login(app, browsers, CITIZEN, "王伟")
    uscc = issue_uscc("330106", 9_000_002)
    _import(app, node, uscc, user)
    base = "/services/330100-ZX-0001/apply"
    csrf = b.csrf(base)
    assert b.post(f"{base}/who", data={"csrf": csrf, "subject": uscc}).status_code == 303
    form = {"reason": "决议解散", "contact_phone": "13800001234", "no_debts": "true"}
    assert b.post(f"{base}/form", data={**form, "csrf": csrf}).status_code == 303
    r = b.post(f"{base}/materials", data={"csrf": csrf}, files=files("application", "commitment"))
    assert r.status_code == 303
    r = b.post(f"{base}/check", data={"csrf": csrf})
    assert r.status_code == 303, r.text
    number = r.headers["location"].split("/")[2]
    assert "公示" in b.get(f"/cases/{number}").text  # the notice runs

    creditor, creditor_id = login(app, browsers, OTHER, "李娜")
    assert creditor.get(f"/cases/{number}").status_code == 403  # the case is not theirs
    r = creditor.get(f"/cases/{number}/object")
    assert r.status_code == 200 and 'name="step" value="notice"' in r.text
    csrf = creditor.csrf(f"/cases/{number}/object")
    r = creditor.post(f"/cases/{number}/object", data={"csrf": csrf, "step": "notice"})
    assert r.status_code == 422 and 'href="#f-text"' in r.text
    text = "本人系该企业债权人，尚有货款未清偿"
    r = creditor.post(
        f"/cases/{number}/object", data={"csrf": csrf, "step": "notice", "text": text}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{number}/object?done=1"
    case = node.query("cases", "case", {"case": number})
    notice = next(s for s in case["steps"] if s["id"] == "notice")
    assert [(o["by"], o["text"]) for o in notice["objections"]] == [(creditor_id, text)]


def test_a_list_gets_another_row_without_javascript(
    app: FastAPI, node: Node, browsers: list[Browser]
) -> None:
    b, _ = login(app, browsers, CITIZEN, "王伟")
    csrf = b.csrf(f"/services/{REGISTRATION}/apply/form")
    r = b.post(
        f"/services/{REGISTRATION}/apply/form",
        data={**FORM, "csrf": csrf, "more": "shareholders"},
    )
    assert r.status_code == 200 and "error-summary" not in r.text
    assert 'name="shareholders.3.name"' in r.text and 'name="shareholders.4.name"' not in r.text
    assert 'name="shareholders.0.name" type="text" value="王伟"' in r.text  # blank row 0 gone


def _value_of(f: Field) -> st.SearchStrategy[Any]:
    """Values a person can give a field (constraints of length, pattern and range aside)."""
    text = st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=12,
    )
    if f.widget in ("radios", "select"):
        return st.sampled_from(f.options)
    if f.widget == "checkboxes":
        chosen = st.sets(st.sampled_from(f.options), min_size=1)
        return chosen.map(lambda s: [o for o in f.options if o in s])
    if f.widget == "checkbox":
        return st.booleans()
    if f.widget == "pledge":
        return st.just(True)
    if f.widget == "integer":
        return st.integers(-(10**17), 10**17)
    if f.widget == "date":
        return st.dates().map(lambda d: d.isoformat())
    if f.widget == "list":
        return st.lists(text, min_size=1, max_size=5)
    if f.widget == "rows":
        row = st.fixed_dictionaries({c.name: _value_of(c) for c in f.columns})
        return st.lists(row, min_size=1, max_size=5)
    return text


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_parse_reads_back_every_value_posted_of_writes(data: st.DataObject) -> None:
    """Property: whatever a page shows for a value (``posted_of``) is read back as that value
    (``tidy`` then ``parse``), field by field, for every form the enterprise services ship."""
    for defn in find_app("enterprise").definitions():
        schema = defn["form"]
        editable = [f for f in fields(schema) if f.widget != "readonly"]
        value = {f.name: data.draw(_value_of(f), label=f.name) for f in editable}
        back, _ = parse(schema, tidy(schema, posted_of(schema, value)))
        for f in editable:
            assert back.get(f.name) == value[f.name], (defn["code"], f.name)
