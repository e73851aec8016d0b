"""Revoking a consent on the "my data" page: the demo citizen applies, for the demo
enterprise, for a customs filing whose business licence the market department answers for
with their consent; on ``/me/data`` the consent has a "revoke" link leading to an "are you
sure?" page. Without a file of their own for the (required) licence the page says so next
to the field and in the summary (422, nothing written); a post without its CSRF token, and
anyone else's, are refused; with a file, the ledger records the revocation, the page says so
with the receipt, and the consent is listed as revoked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import ORIGIN, Client, Site, csrf_of
from govchain.portal import i18n

FILING = "330100-BA-0003"
"""报关单位备案: the business licence is held by market (answered by attestation)."""
FORM = {
    "application_kind": "新办",
    "application_date": "2026-12-07",
    "signatory_name": "肖慧",
    "truthfulness_pledge": True,
    "licence_delivery": "电子证照",
    "contact_name": "肖慧",
    "contact_phone": "13800138000",
    "declarant_kind": "进出口货物收发货人",
    "customs_office": "杭州海关",
    "trade_kind": ["一般贸易"],
}
"""The filing's form (the register fills in the enterprise's particulars)."""
PDF = b"%PDF-1.4\n% govchain test: my own business licence\n%%EOF\n"
ZH = i18n.translations("zh")


def logged_in(site: Site, who: str) -> Client:
    c = site.client()
    c.login(site.logins.get(who, who))
    return c


@pytest.fixture(scope="module")
def applied(site: Site) -> tuple[Client, str]:
    """The demo citizen, logged in, and a filing of theirs with the consent in effect."""
    c = logged_in(site, "citizen")
    session = c.session()
    desk = site.app.state.casedesk
    upload = desk.upload("customs", session.user, "form.pdf", "application/pdf", PDF)
    tx = desk.submission(
        session.user,
        session.provider_sid,
        FILING,
        FORM,
        {"application": upload["hash"]},
        ["business_licence"],
        subject=site.logins["enterprise"],
    )
    case = desk.commit_one(tx, 20.0)
    assert case["consents"] == ["business_licence"]
    return c, case["number"]


def case_now(site: Site, number: str) -> Any:
    return site.node.query("cases", "case", {"case": number})


def test_my_data_links_each_consent_in_effect_to_its_revocation(
    site: Site, applied: tuple[Client, str]
) -> None:
    c, number = applied
    page = c.get("/me/data")
    assert page.status_code == 200
    assert f'href="/me/data/consents/{number}/business_licence"' in page.text
    form = c.get(f"/me/data/consents/{number}/business_licence")
    assert form.status_code == 200
    assert ZH.gettext("Are you sure you want to revoke the consent?") in form.text
    assert 'enctype="multipart/form-data"' in form.text and 'name="file"' in form.text
    assert 'href="/cases/' + number + '/withdraw"' in form.text  # the other way out


def test_a_required_material_needs_a_file_and_nothing_is_written_without_it(
    site: Site, applied: tuple[Client, str]
) -> None:
    c, number = applied
    url = f"/me/data/consents/{number}/business_licence"
    before = case_now(site, number)
    token = csrf_of(c.get(url).text)
    refused = c.post(url, data={"csrf": token}, headers={"Origin": ORIGIN})
    assert refused.status_code == 422
    assert 'class="error-summary"' in refused.text and 'href="#f-file"' in refused.text
    assert 'id="f-file-error"' in refused.text and "营业执照" in refused.text
    # A forged post (no token) and a post from another site are refused before anything.
    files = {"file": ("licence.pdf", PDF, "application/pdf")}
    forged = c.post(url, files=files, headers={"Origin": ORIGIN})
    assert forged.status_code == 403
    other_site = c.post(
        url, data={"csrf": token}, files=files, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    # Someone else: the enterprise's own login did not apply; staff have no such page.
    for who in ("enterprise", "market/officer"):
        other = logged_in(site, who)
        assert other.get(url).status_code == 403
    assert case_now(site, number) == before


def test_revoking_with_a_file_is_recorded_and_listed(
    site: Site, applied: tuple[Client, str]
) -> None:
    c, number = applied
    url = f"/me/data/consents/{number}/business_licence"
    token = csrf_of(c.get(url).text)
    done = c.post(
        url,
        data={"csrf": token},
        files={"file": ("licence.pdf", PDF, "application/pdf")},
        headers={"Origin": ORIGIN},
    )
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    found = re.fullmatch(r"/me/data\?done=revoked&tx=([0-9a-f]{64})#consents-title", location)
    assert found, location
    case = case_now(site, number)
    assert case["consents"] == [] and "business_licence" not in case["fetched"]
    assert case["history"][-1]["event"] == "consent_revoked"
    assert case["history"][-1]["tx"] == found.group(1)
    mine = site.app.state.casedesk.materials.meta("customs", case["materials"]["business_licence"])
    assert mine["applicant"] == c.session().user and mine["name"] == "licence.pdf"
    page = c.get(location.split("#")[0])
    assert ZH.gettext("Your consent is revoked: the department may no longer answer for it.") in (
        page.text
    )
    assert page.text.count(f"/v1/transactions/{found.group(1)}/receipt") == 2  # banner, row
    assert ZH.gettext("Revoked by you") in page.text
    assert f'href="/me/data/consents/{number}/business_licence"' not in page.text
    # Nothing left to revoke: the page is gone, and a second post changes nothing.
    assert c.get(url).status_code == 404
    again = c.post(
        url,
        data={"csrf": token},
        files={"file": ("licence.pdf", PDF, "application/pdf")},
        headers={"Origin": ORIGIN},
    )
    assert again.status_code == 404
    assert case_now(site, number) == case
    english = c.get("/me/data", headers={"Accept-Language": "en"})
    assert "Revoked by you" in english.text


def test_the_revocation_page_has_the_strict_csp(site: Site, applied: tuple[Client, str]) -> None:
    from test_security import check_page

    c = applied[0]
    fresh = site.app.state.casedesk
    session = c.session()
    upload = fresh.upload("customs", session.user, "form.pdf", "application/pdf", PDF)
    tx = fresh.submission(
        session.user, session.provider_sid, FILING, FORM, {"application": upload["hash"]},
        ["business_licence"], subject=site.logins["enterprise"],
    )  # fmt: skip
    other = fresh.commit_one(tx, 20.0)["number"]
    page = c.get(f"/me/data/consents/{other}/business_licence")
    assert page.status_code == 200
    assert not check_page(page)
