"""Ratings (好差评) in the portal: the applicant rates a finished case on its page (errors next
to the field, a forged post refused); the department answers the follow-up of a bad rating; the
figures page counts the portal's own funnel (started and submitted online)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from test_staff_pages import (  # the workbench tests' node, portal and browser
    CITIZEN_ID,
    REGISTRATION,
    Browser,
    app,
    applicant,
    browser,
    case_of,
    clock,
    done,
    node,
    submit,
)

__all__ = ["app", "applicant", "browser", "clock", "node"]  # fixtures used here


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _rejected(app: FastAPI, applicant: str, open_as: Callable[[str], Browser]) -> str:
    number = submit(app, applicant)
    done(open_as("market/officer-1").act(number, "accept"))
    done(open_as("market/approver-1").act(number, "decide", outcome="reject", reason="名称近似"))
    return number


def test_the_applicant_rates_and_the_department_answers(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    number = _rejected(app, applicant, browser)
    citizen = browser(CITIZEN_ID)
    page = citizen.get(f"/cases/{number}").text
    assert f'action="/cases/{number}/rating"' in page and "Rate this service" in page
    csrf = _csrf(page)

    r = citizen.post(f"/cases/{number}/rating", data={"csrf": "forged", "level": "1"})
    assert r.status_code == 403
    r = citizen.post(f"/cases/{number}/rating", data={"csrf": csrf, "comment": "x"})
    assert r.status_code == 422 and 'href="#f-level-5"' in r.text
    assert "Choose how satisfied you are" in r.text
    assert app.state.casedesk.node.query("ratings", "follow_ups", {"dept": "market"}) == []

    r = citizen.post(
        f"/cases/{number}/rating", data={"csrf": csrf, "level": "2", "comment": "没说清楚原因"}
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=rated#rating")
    page = citizen.get(f"/cases/{number}?done=rated").text
    assert "Your rating is recorded" in page or "your rating is recorded" in page
    assert "Dissatisfied (2/5)" in page and "The department will answer by" in page
    assert f'action="/cases/{number}/rating"' not in page  # once only

    officer = browser("market/officer-1")
    waiting = officer.get("/staff/follow-ups").text
    assert f'action="/staff/follow-ups/{number}"' in waiting and "没说清楚原因" in waiting
    r = officer.post(f"/staff/follow-ups/{number}", data={"csrf": _csrf(waiting), "text": ""})
    assert r.status_code == 422 and f'href="#f-text-{number}"' in r.text
    r = officer.post(
        f"/staff/follow-ups/{number}", data={"csrf": _csrf(waiting), "text": "已电话说明"}
    )
    assert r.status_code == 303
    assert "No follow-up is waiting" in officer.get("/staff/follow-ups").text
    assert "已电话说明" in citizen.get(f"/cases/{number}").text
    assert citizen.get("/staff/follow-ups").status_code == 403
    assert case_of(app, number)["status"] == "decided"  # rating changes nothing of the case


def test_figures_count_the_online_funnel(
    app: FastAPI, applicant: str, browser: Callable[[str], Browser]
) -> None:
    citizen = browser(CITIZEN_ID)
    citizen.get(f"/services/{REGISTRATION}/apply")  # started online ...
    number = _rejected(app, applicant, browser)
    citizen.get(f"/cases/{number}/confirmation")  # ... and shown the confirmation
    submit(app, applicant, "杭州明远餐饮管理有限公司")  # a case from another channel
    page = browser("market/officer-1").get("/staff/figures").text
    row = page[page.index(REGISTRATION) :]
    assert "100.0 %" in row and "1 / 1" in row  # completion: 1 of 1 who started
    assert "50.0 %" in row and "1 / 2" in row  # take-up: 1 of 2 cases online
    assert citizen.get("/staff/figures").status_code == 403
