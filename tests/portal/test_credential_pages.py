"""My credentials (我的证照) and the public verification page, driven like a browser
(in-process ASGI, the login through the node's own OpenID Connect provider): a person lists the
licence of the enterprise they represent, their own certificate and their bill; downloads the
JSON-LD and SD-JWT files; gets QR codes that decode back to the credential; presents only the
claims they tick; and anyone checks a file or a QR picture, a tampered file refused with the
failing check named. Forms without their CSRF token are refused."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio.from_thread
import httpx
import orjson
import pytest
from fastapi import FastAPI

from govchain.api.app import create_app
from govchain.api.settings import ApiSettings
from govchain.credentials import ebills, qr
from govchain.credentials.ebills import parse_items
from govchain.credentials.issuance import certificate_draft
from govchain.credentials.service import CredentialService
from govchain.ledger.genesis import Params
from govchain.node.embedded import open_embedded
from govchain.node.network import DEMO_DEPARTMENTS, init_network
from govchain.portal.app import mount_portal
from govchain.procedures.uscc import issue_uscc

PASSWORD = "Test-password-2026"
CITIZEN_ID = "11010519491231002X"  # GB 11643 example number (valid check character)
OTHER_ID = "110105198001010032"
ENTERPRISE = "杭州瑞丰科技有限公司"


class Browser:
    """One browser of the portal (its cookies kept), calling the app in-process."""

    def __init__(self, app: FastAPI, lang: str = "en") -> None:
        self._portal_cm: AbstractContextManager[Any] = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
            cookies={"govchain_lang": lang},
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self.http.get, url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self.http.post, url, **kwargs))

    def login(self, login: str) -> Browser:
        r = self.get("/login/start?next=/me/credentials")
        query = dict(httpx.URL(r.headers["location"]).params)
        r = self.post("/oidc/authorize", data={**query, "login": login, "password": PASSWORD})
        assert r.status_code == 302, r.text
        r = self.get(r.headers["location"].replace("http://testserver", ""))
        assert r.status_code == 303, r.text
        return self

    def close(self) -> None:
        self._portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A node with the portal; a citizen who represents an enterprise (whose business licence
    the node issues by itself), holds a social insurance certificate and a receipt."""
    root = tmp_path_factory.mktemp("credential-pages") / "net"
    init_network(
        root,
        chain_id="credential-pages",
        suite_name="intl",
        departments=list(DEMO_DEPARTMENTS),
        params=Params(state_buckets=256, block_max_ms=5),
    )
    node = open_embedded(root, in_memory=True)
    node.start()
    browsers: list[Browser] = []
    try:
        app = create_app(
            node, ApiSettings(network_dir=root, wait_timeout_s=20.0, issuer="http://testserver")
        )
        mount_portal(app, secure_cookies=False)
        users = app.state.identity.users
        rep = users.create_citizen(CITIZEN_ID, "王伟", PASSWORD)
        users.create_citizen(OTHER_ID, "李娜", PASSWORD)
        uscc = issue_uscc("330106", 9_300_001)
        enterprise = {
            "uscc": uscc, "name": ENTERPRISE, "division": "330106", "legal_rep_name": "王伟",
            "legal_rep_ref": "cd" * 32, "industry": "65", "capital_fen": 5_000_000_00,
            "address": "杭州市西湖区天目山路1号", "scope": "软件开发", "agents": [rep.id],
            "established_ms": node.clock_ms() - 86_400_000,
        }  # fmt: skip
        signer = app.state.sharing.signer
        args = {"enterprise": enterprise}
        call = signer.call("market", "registry", "import_enterprise", args, actor="market/sharing")
        signer.commit_one(call)
        assert app.state.credential_feed.wait_idle()
        svc: CredentialService = app.state.credentials
        draft = certificate_draft(
            "social_insurance_record", network=svc.network, issuer_did=svc.did("hrss"),
            authority="人力资源和社会保障局", holder=rep.id, holder_name="王伟",
            holder_id_number=CITIZEN_ID, serial="000001",
            facts={"months_paid": 36, "city": "杭州"}, now_ms=node.clock_ms(),
        )  # fmt: skip
        (cert,) = svc.issue("hrss", [draft], actor="hrss/sharing")
        bill = ebills.issue_bill(
            svc, "market", bill_type="non_tax", payer="王伟", payer_id=CITIZEN_ID, holder=rep.id,
            payee="市场监督管理局", payee_id="market",
            items=parse_items([{"name": "登记费", "quantity": 1, "amount_fen": 12_000}]),
            actor="market/sharing",
        )  # fmt: skip
        (licence,) = [r for r in svc.held([uscc])]

        def browser(login: str | None = None, lang: str = "en") -> Browser:
            b = Browser(app, lang)
            browsers.append(b)
            return b.login(login) if login else b

        yield {
            "app": app, "svc": svc, "browser": browser, "licence": licence["hash"],
            "certificate": cert.hash, "bill": bill.hash, "uscc": uscc,
        }  # fmt: skip
    finally:
        for b in browsers:
            b.close()
        node.stop(drain=True)


def test_my_credentials_lists_licences_certificates_and_bills(site: dict[str, Any]) -> None:
    me = site["browser"](CITIZEN_ID)
    page = me.get("/me/credentials")
    assert page.status_code == 200, page.text
    for digest in (site["licence"], site["certificate"], site["bill"]):
        assert f'href="/me/credentials/{digest}"' in page.text
    assert "营业执照" in page.text and "社会保险参保缴费证明" in page.text
    assert f"Held by {ENTERPRISE}" in page.text and "120.00" in page.text
    assert 'href="/me/credentials" aria-current="page"' in page.text  # the nav link
    # Chinese by default.
    zh = site["browser"](CITIZEN_ID, lang="zh").get("/me/credentials")
    assert "我的证照" in zh.text and '<html lang="zh' in zh.text
    # Nobody else sees them, and logging in comes first.
    other = site["browser"](OTHER_ID)
    assert site["licence"] not in other.get("/me/credentials").text
    assert other.get(f"/me/credentials/{site['licence']}").status_code == 404
    assert site["browser"]().get("/me/credentials").status_code in (302, 303)


def test_download_both_forms_with_their_receipts(site: dict[str, Any]) -> None:
    me = site["browser"](CITIZEN_ID)
    digest = site["licence"]
    page = me.get(f"/me/credentials/{digest}")
    assert page.status_code == 200 and ENTERPRISE in page.text
    r = me.get(f"/me/credentials/{digest}/download?format=jsonld")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    file = orjson.loads(r.content)
    assert file["credential"] == site["svc"].document(digest)
    assert file["evidence"]["tx_id"] == site["svc"].record(digest)["tx_id"]
    sd = orjson.loads(me.get(f"/me/credentials/{digest}/download?format=sd-jwt").content)
    assert isinstance(sd["credential"], str) and sd["credential"].count("~") > 5
    other = site["browser"](OTHER_ID)
    assert other.get(f"/me/credentials/{digest}/download?format=jsonld").status_code == 404


def test_qr_codes_decode_back_to_the_credential(site: dict[str, Any]) -> None:
    me = site["browser"](CITIZEN_ID)
    digest = site["certificate"]
    sizes = {}
    for size in ("screen", "print"):
        r = me.get(f"/me/credentials/{digest}/qr.png?size={size}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        content = qr.decode_payload(qr.read_png(r.content))
        assert content.credential == site["svc"].document(digest)
        sizes[size] = len(r.content)
    assert sizes["print"] > sizes["screen"]
    assert me.get(f"/me/credentials/{digest}/qr.png?size=huge").status_code == 422


def test_present_only_the_ticked_claims(site: dict[str, Any]) -> None:
    me = site["browser"](CITIZEN_ID)
    digest = site["licence"]
    page = me.get(f"/me/credentials/{digest}").text
    assert 'name="disclose" value="licenceNumber"' in page
    form = {"csrf": _csrf(page), "disclose": ["licenceName", "holder"]}
    shown = me.post(f"/me/credentials/{digest}/present", data=form)
    assert shown.status_code == 200, shown.text
    assert "Presentation ready" in shown.text
    query = "disclose=holder&disclose=licenceName"
    token = me.get(f"/me/credentials/{digest}/presentation.txt?{query}").text
    assert len(token.split("~")) == 4  # issuer JWT, two disclosures, no key binding
    report = site["browser"]().post("/v1/credentials/verify", json={"credential": token}).json()
    assert report["ok"] is True, report
    png = me.get(f"/me/credentials/{digest}/presentation.png?{query}&size=screen")
    assert qr.decode_payload(qr.read_png(png.content)).sd_jwt == token
    # Nothing ticked: the page says what to do; no token: refused.
    empty = me.post(f"/me/credentials/{digest}/present", data={"csrf": form["csrf"]})
    assert "Choose at least one claim to show." in empty.text
    forged = me.post(f"/me/credentials/{digest}/present", data={"disclose": ["holder"]})
    assert forged.status_code == 403


def test_anyone_verifies_a_file_or_a_qr_picture_and_a_tampered_file_is_refused(
    site: dict[str, Any],
) -> None:
    me = site["browser"](CITIZEN_ID)
    digest = site["licence"]
    file = me.get(f"/me/credentials/{digest}/download?format=jsonld").content
    png = me.get(f"/me/credentials/{site['certificate']}/qr.png?size=screen").content

    anyone = site["browser"]()
    form = anyone.get("/verify")
    assert form.status_code == 200 and 'type="file"' in form.text
    token = _csrf(form.text)
    good = anyone.post(
        "/verify", data={"csrf": token}, files={"file": ("licence.json", file, "application/json")}
    )
    assert good.status_code == 200 and "Valid: every check passed." in good.text
    picture = anyone.post(
        "/verify", data={"csrf": token}, files={"file": ("qr.png", png, "image/png")}
    )
    assert "Valid: every check passed." in picture.text and "qr_hash" in picture.text

    tampered = orjson.loads(file)
    changed = copy.deepcopy(tampered)
    changed["credential"]["credentialSubject"]["holder"] = "某某公司"
    bad = anyone.post(
        "/verify",
        data={"csrf": token},
        files={"file": ("licence.json", orjson.dumps(changed), "application/json")},
    )
    assert bad.status_code == 200
    assert "Not valid: the check “The issuer's signature matches its content” failed." in bad.text
    assert re.search(r"<code>proof</code></span></td>\s*<td><strong class=\"status", bad.text)
    # A form without its token, and one that is not a credential.
    assert anyone.post("/verify", files={"file": ("x.json", file)}).status_code == 403
    junk = anyone.post("/verify", data={"csrf": token}, files={"file": ("x.txt", b"hello")})
    assert junk.status_code == 422 and "This is not a credential file or a QR code." in junk.text
