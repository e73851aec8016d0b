"""The click log: what the portal records (views, searches, clicks of a logged-in person who did
not opt out), pseudonyms, the hash chain and its anchors, retention, a person's export and the
personalisation switch (with the home page's suggestions it turns off)."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from conftest import ORIGIN, Client, Site, csrf_of
from govchain.crypto import get_suite
from govchain.errors import GovchainError, IntegrityError, SchemaViolation, Unavailable
from govchain.ledger.encoding import canonical_unchecked
from govchain.ledger.merkle import leaf_hash, root_of
from govchain.portal.clicklog import (
    DAY_MS,
    GENESIS_PREV,
    KEY_FILE,
    PREFIX,
    RESEND_MS,
    TABLE,
    ClickLog,
    batch_key,
    events_key,
    load_or_create_key,
)
from govchain.storage.base import WriteBatch
from govchain.storage.memory import MemoryStore

GUIDE = "330100-XK-0001"
"""A service guide the tests open (食品经营许可)."""
H = get_suite("intl").hash


@pytest.fixture(scope="module", autouse=True)
def stop_writer(site: Site) -> Iterator[None]:
    """Stop this module's click log writer before its node stops."""
    yield
    site.app.state.clicklog.close()


def logged_in(site: Site, who: str) -> tuple[Client, str]:
    """A client logged in as the demo's ``citizen`` or ``enterprise``, and its user id."""
    c = site.client()
    c.login(site.logins[who])
    return c, site.user_id(site.logins[who])


def exported(site: Site, user: str) -> list[dict[str, Any]]:
    """The person's events as the click log exports them."""
    found: list[dict[str, Any]] = site.app.state.clicklog.export(user)
    return found


def wait_for_anchor(log: ClickLog, number: int, timeout: float = 20.0) -> dict[str, Any]:
    """The anchored value of a batch once its transaction is committed."""
    assert log.anchor is not None
    deadline = time.monotonic() + timeout
    while (found := log.anchor.get(number)) is None:
        assert time.monotonic() < deadline, f"batch {number} was not anchored in {timeout} s"
        time.sleep(0.02)
    return found


# --- through the portal ------------------------------------------------------------------------


def test_views_searches_and_clicks_of_a_logged_in_person_are_recorded(site: Site) -> None:
    c, user = logged_in(site, "citizen")
    before = len(exported(site, user))
    assert c.get("/").status_code == 200
    search = c.get(
        "/services", params={"q": " 食品 ", "category": "permit"}, headers={"Referer": f"{ORIGIN}/"}
    )
    assert search.status_code == 200
    guide = c.get(
        f"/services/{GUIDE}", headers={"Referer": f"{ORIGIN}/services?q=%E9%A3%9F%E5%93%81"}
    )
    assert guide.status_code == 200
    # Not pages, or not pages of the portal: nothing recorded.
    assert c.get("/static/portal.css").status_code == 200
    assert c.get("/v1/health").status_code == 200
    assert c.get("/services/no-such-service").status_code == 404
    assert (
        c.get("/services", headers={"Referer": "https://elsewhere.example/page"}).status_code == 200
    )
    mine = exported(site, user)[before:]
    assert [(e["kind"], e["path"], e["detail"]) for e in mine] == [
        ("view", "/", ""),
        ("search", "/services", "食品"),  # the search's own words, nothing else of the query
        ("click", f"/services/{GUIDE}", "/services"),  # the page it came from, without its query
        ("view", "/services", ""),  # a link from another site is no click
    ]
    pseudonym = site.app.state.clicklog.pseudonym(user)
    assert {e["who"] for e in mine} == {pseudonym}
    assert user not in json.dumps(mine) and user.split("/")[-1] not in pseudonym


def test_nobody_is_recorded_before_logging_in(site: Site) -> None:
    log = site.app.state.clicklog
    log.flush()
    size = log.size
    anonymous = site.client()
    assert anonymous.get("/").status_code == 200
    assert anonymous.get("/services", params={"q": "注销"}).status_code == 200
    assert log.pending() == 0 and log.flush() is None and log.size == size


def test_the_pseudonym_is_stable_keyed_and_not_the_user_id(site: Site) -> None:
    log = site.app.state.clicklog
    user = site.user_id(site.logins["citizen"])
    key_path = site.root / KEY_FILE
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    again = ClickLog(MemoryStore(), H, load_or_create_key(site.root))  # the same key file
    assert log.pseudonym(user) == log.pseudonym(user) == again.pseudonym(user)
    assert len(log.pseudonym(user)) == 32 and user not in log.pseudonym(user)
    other_key = ClickLog(MemoryStore(), H, b"k" * 32)
    assert other_key.pseudonym(user) != log.pseudonym(user)
    assert log.pseudonym(user) != log.pseudonym(site.user_id(site.logins["enterprise"]))


def test_each_batch_is_anchored_on_chain_with_its_root(site: Site) -> None:
    c, _ = logged_in(site, "citizen")
    c.get(f"/services/{GUIDE}")
    log = site.app.state.clicklog
    head = log.flush()
    assert head is not None and head.count >= 1
    anchored = wait_for_anchor(log, head.number)
    assert anchored == head.anchor_value() and anchored["root"] == head.root
    public = c.get(f"/v1/kv/clicklog/{head.number}")  # anyone can read the anchor
    assert public.status_code == 200 and head.root in public.text
    check = log.verify_chain()
    assert check.batches == log.size and check.anchored + len(check.pending) == log.size


def test_my_activity_page_and_its_download(site: Site) -> None:
    c, user = logged_in(site, "citizen")
    c.get("/services", params={"q": "注销"})
    page = c.get("/me/activity")
    assert page.status_code == 200
    assert "注销" in page.text and "关闭个性化推荐" in page.text  # Chinese first
    download = c.get("/me/activity.json")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert "attachment" in download.headers["content-disposition"]
    body = download.json()
    assert body["events"] == exported(site, user) and body["retention_days"] == 180
    assert site.client().get("/me/activity").status_code == 303  # log in first


def test_opting_out_stops_logging_and_the_personalised_block(site: Site) -> None:
    c, user = logged_in(site, "enterprise")
    home = c.get("/")
    assert 'id="suggestions"' in home.text and "您可能还需要" in home.text
    assert "您的企业「" in home.text  # the enterprise's permits, with the rule's reason
    refused = c.post("/me/personalisation", data={"on": "0", "csrf": "wrong"})
    assert refused.status_code == 403
    off = c.post("/me/personalisation", data={"on": "0", "csrf": csrf_of(home.text)})
    assert off.status_code == 303 and off.headers["location"] == "/me/activity"
    count = len(exported(site, user))
    home = c.get("/")
    assert 'id="suggestions"' not in home.text and "个性化推荐已关闭" in home.text
    c.get(f"/services/{GUIDE}", headers={"Referer": f"{ORIGIN}/"})
    assert len(exported(site, user)) == count  # nothing logged
    assert site.app.state.clicklog.personalised(user) is False
    on = c.post("/me/personalisation", data={"on": "1", "csrf": csrf_of(home.text)})
    assert on.status_code == 303
    assert 'id="suggestions"' in c.get("/").text
    assert len(exported(site, user)) == count + 1


# --- the store ---------------------------------------------------------------------------------


class Clock:
    """A settable clock (ms)."""

    def __init__(self, ms: int = 1_800_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class FakeAnchor:
    """Anchors kept in a dict; ``failing`` refuses them as a busy node would."""

    def __init__(self) -> None:
        self.values: dict[int, dict[str, Any]] = {}
        self.sent = 0
        self.failing = False

    def put(self, number: int, value: Any) -> str:
        self.sent += 1
        if self.failing:
            raise Unavailable("the node is at capacity")
        self.values[number] = dict(value)
        return f"{number:064x}"

    def get(self, number: int) -> dict[str, Any] | None:
        return self.values.get(number)


def new_log(**kw: Any) -> tuple[ClickLog, MemoryStore, FakeAnchor, Clock]:
    store, anchor, clock = MemoryStore(), FakeAnchor(), Clock()
    return ClickLog(store, H, b"k" * 32, anchor=anchor, clock=clock, **kw), store, anchor, clock


def three_batches() -> tuple[ClickLog, MemoryStore, FakeAnchor, Clock]:
    log, store, anchor, clock = new_log()
    for b in range(3):
        for i in range(4):
            clock.ms += 1000
            log.record(f"citizen/{i % 2}", "view", f"/services/b{b}-{i}")
        assert log.flush() is not None
    return log, store, anchor, clock


def test_batches_chain_hash_and_merkle_root() -> None:
    log, _, anchor, _ = three_batches()
    prev = GENESIS_PREV
    for n in range(3):
        head = log.batch(n)
        events = log.events_of(n)
        assert head.prev == prev and [e["seq"] for e in events] == list(range(4 * n, 4 * n + 4))
        # H(prev ‖ canonical JSON of the events) and the RFC 6962 root of the events.
        assert head.hash == H(bytes.fromhex(prev) + canonical_unchecked(events)).hex()
        leaves = [leaf_hash(H, canonical_unchecked(e)) for e in events]
        assert head.root == root_of(H, leaves).hex()
        assert anchor.values[n] == head.anchor_value()
        prev = head.hash
    check = log.verify_chain()
    assert (check.batches, check.events, check.anchored, check.pending) == (3, 12, 3, ())


def rewrite(store: MemoryStore, key: bytes, change: Any) -> None:
    """Change a stored JSON value in place, as someone with the store's files could."""
    raw = store.get(TABLE, key)
    assert raw is not None
    value = orjson.loads(raw)
    change(value)
    batch = WriteBatch()
    batch.put(TABLE, key, canonical_unchecked(value))
    store.commit(batch)


def _edit_event(events: list[dict[str, Any]]) -> None:
    events[2]["path"] = "/services/forged"


def _drop_event(events: list[dict[str, Any]]) -> None:
    del events[0]


def _edit_root(head: dict[str, Any]) -> None:
    head["root"] = "11" * 32


@pytest.mark.parametrize(
    ("key", "change", "what"),
    [
        (events_key(1), _edit_event, "Merkle root"),
        (events_key(1), _drop_event, "Merkle root"),
        (batch_key(1), _edit_root, "Merkle root"),
    ],
)
def test_tampering_with_a_stored_batch_names_the_batch(key: bytes, change: Any, what: str) -> None:
    log, store, _, _ = three_batches()
    rewrite(store, key, change)
    with pytest.raises(IntegrityError, match=what) as caught:
        log.verify_chain()
    assert caught.value.fields["batch"] == 1


def test_a_consistent_forgery_is_caught_by_the_anchor() -> None:
    """Forged events with a recomputed root and hash, the later batches relinked: only the
    on-chain anchor (and the next batch's anchored prev) can tell."""
    log, store, anchor, _ = three_batches()
    forged = log.events_of(2)
    forged[0]["path"] = "/services/forged"
    root = root_of(H, [leaf_hash(H, canonical_unchecked(e)) for e in forged]).hex()
    digest = H(bytes.fromhex(log.batch(2).prev) + canonical_unchecked(forged)).hex()
    rewrite(store, events_key(2), lambda ev: ev.__setitem__(0, forged[0]))
    rewrite(store, batch_key(2), lambda h: h.update(root=root, hash=digest))
    rewrite(store, PREFIX + b"head", lambda h: h.update(hash=digest))  # the chain head too
    reopened = ClickLog(store, H, b"k" * 32, anchor=anchor)
    with pytest.raises(IntegrityError, match="anchor") as caught:
        reopened.verify_chain()
    assert caught.value.fields["batch"] == 2


def test_a_broken_link_names_the_batch_after_it() -> None:
    log, store, _, _ = three_batches()
    rewrite(store, batch_key(1), lambda h: h.update(prev="22" * 32))
    with pytest.raises(IntegrityError, match="prev") as caught:
        log.verify_chain()
    assert caught.value.fields["batch"] == 1


def test_retention_drops_old_events_and_the_chain_still_verifies() -> None:
    log, store, _, clock = new_log()
    for day in (0, 100, 200):
        clock.ms = 1_800_000_000_000 + day * DAY_MS
        log.record("citizen/a", "view", f"/services/day{day}")
        log.record("citizen/b", "search", "/services", f"day {day}")
        log.flush()
    clock.ms += 100 * DAY_MS  # day 300: the first two batches are older than 180 days
    assert log.purge(clock.ms - 180 * DAY_MS) == 2
    assert log.first_kept == 2 and log.events_of(0) == [] and log.batch(0).purged
    assert [e["path"] for e in log.export("citizen/a")] == ["/services/day200"]
    check = log.verify_chain()
    assert (check.batches, check.events, check.first_kept, check.anchored) == (3, 2, 2, 3)
    assert log.purge(clock.ms - 180 * DAY_MS) == 0  # nothing more is old enough
    rewrite(store, batch_key(0), lambda h: h.update(hash="33" * 32))  # a purged batch's header
    with pytest.raises(IntegrityError) as caught:
        log.verify_chain()
    assert caught.value.fields["batch"] == 1  # batch 1's prev no longer matches


def test_export_returns_exactly_the_persons_events() -> None:
    log, _, _, clock = new_log()
    wanted = []
    for i in range(30):
        clock.ms += 10
        user = f"citizen/{i % 3}"
        log.record(user, "click", f"/services/{i}", "/")
        if user == "citizen/1":
            wanted.append(f"/services/{i}")
        if i % 7 == 6:
            log.flush()
    mine = log.export("citizen/1")  # the events still waiting are written first
    assert [e["path"] for e in mine] == wanted
    assert {e["who"] for e in mine} == {log.pseudonym("citizen/1")}
    assert [e["seq"] for e in mine] == sorted(e["seq"] for e in mine)
    assert [e["path"] for e in log.latest("citizen/1", 3)] == wanted[::-1][:3]
    assert log.export("citizen/nobody") == []


def test_opt_out_and_the_chain_survive_a_restart() -> None:
    log, store, anchor, clock = new_log()
    log.record("citizen/a", "view", "/")
    log.flush()
    log.set_personalised("citizen/b", False)
    assert log.record("citizen/b", "view", "/") is False
    again = ClickLog(store, H, b"k" * 32, anchor=anchor, clock=clock)
    assert again.personalised("citizen/b") is False and again.personalised("citizen/a")
    again.record("citizen/a", "view", "/services")
    head = again.flush()
    assert head is not None and head.number == 1 and head.prev == log.batch(0).hash
    assert again.verify_chain().batches == 2


def test_an_anchor_that_did_not_go_through_is_sent_again() -> None:
    log, _, anchor, clock = new_log()
    anchor.failing = True
    log.record("citizen/a", "view", "/")
    log.flush()
    assert log.verify_chain().pending == (0,) and anchor.sent == 1
    anchor.failing = False
    log.flush()
    assert anchor.values == {}  # not yet: sent again once RESEND_MS has passed
    clock.ms += RESEND_MS + 1
    log.flush()
    assert 0 in anchor.values and log.verify_chain().pending == ()
    clock.ms += RESEND_MS + 1
    log.flush()
    log.flush()
    assert anchor.sent == 2  # on-chain now: not sent again


def test_the_writer_thread_writes_batches_in_the_background() -> None:
    log, _, anchor, _ = new_log(flush_s=0.01)
    log.start()
    try:
        log.record("citizen/a", "view", "/")
        deadline = time.monotonic() + 10
        while log.size == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        log.close()
    assert anchor.values[0]["count"] == 1


def test_bad_events_and_a_full_queue() -> None:
    log, _, _, _ = new_log(max_pending=2)
    with pytest.raises(SchemaViolation):
        log.record("citizen/a", "scroll", "/")
    assert log.record("citizen/a", "view", "/" + "x" * 500)
    assert log.record("citizen/a", "view", "/")
    assert log.record("citizen/a", "view", "/") is False and log.dropped == 1
    head = log.flush()
    assert head is not None and len(log.events_of(0)[0]["path"]) == 200


def test_the_key_file_is_made_once(tmp_path: Any) -> None:
    key = load_or_create_key(tmp_path)
    assert len(key) == 32 and load_or_create_key(tmp_path) == key
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(GovchainError):
        load_or_create_key(tmp_path)


def test_a_failed_write_loses_nothing() -> None:
    log, store, _, _ = new_log()
    log.record("citizen/a", "view", "/")
    real = store.commit

    def broken(batch: WriteBatch) -> None:
        raise OSError("disk full")

    store.commit = broken  # type: ignore[method-assign]
    with pytest.raises(OSError):
        log.flush()
    assert log.size == 0 and log.pending() == 1
    store.commit = real  # type: ignore[method-assign]
    head = log.flush()
    assert head is not None and head.number == 0 and log.verify_chain().events == 1
