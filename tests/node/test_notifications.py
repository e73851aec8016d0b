"""The notice board: posting, listing, marking read, persistence, bad input, threads."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.errors import IntegrityError, SchemaViolation
from govchain.node.notifications import (
    FILE_NAME,
    Notice,
    NoticeBoard,
    board_for,
    check_recipient,
    recipients_for,
)

ZH_EN = {"zh": "办件已办结", "en": "Your case was decided"}
BODY = {"zh": "准予许可。", "en": "Approved."}


def ticking_clock(start: int = 1_780_000_000_000) -> object:
    now = [start]

    def clock() -> int:
        now[0] += 1000
        return now[0]

    return clock


def test_post_list_and_mark_read() -> None:
    board = NoticeBoard(clock_ms=ticking_clock())  # type: ignore[arg-type]
    first = board.post("citizen/0123456789abcdef", "case.decided", ZH_EN, BODY, link="/cases/X")
    second = board.post(
        "citizen/0123456789abcdef", "data.read", {"zh": "数据被读取", "en": "Data read"}, BODY
    )
    board.post("dept:market", "case.overdue", ZH_EN, BODY)
    assert isinstance(first, Notice)
    assert first.read is False and first.link == "/cases/X" and first.source == {}
    assert second.created_ms == first.created_ms + 1000
    assert [n.id for n in board.list("citizen/0123456789abcdef")] == [second.id, first.id]
    assert board.unread_count("citizen/0123456789abcdef") == 2
    assert board.unread_count("dept:market") == 1
    assert board.mark_read("citizen/0123456789abcdef", [first.id, first.id, "n999"]) == 1
    assert board.mark_read("citizen/0123456789abcdef", [first.id]) == 0  # already read
    assert board.unread_count("citizen/0123456789abcdef") == 1
    assert [n.id for n in board.list("citizen/0123456789abcdef", unread_only=True)] == [second.id]
    assert board.list("citizen/0123456789abcdef", limit=1)[0].id == second.id
    assert board.mark_all_read("citizen/0123456789abcdef") == 1
    assert board.unread_count("citizen/0123456789abcdef") == 0
    assert board.list("nobody/else") == []


def test_a_recipient_cannot_mark_another_recipients_notices() -> None:
    board = NoticeBoard()
    theirs = board.post("dept:tax", "case.overdue", ZH_EN, BODY)
    assert board.mark_read("citizen/0123456789abcdef", [theirs.id]) == 0
    assert board.unread_count("dept:tax") == 1
    assert board.list("dept:tax")[0].read is False


def test_a_key_makes_posting_idempotent() -> None:
    board = NoticeBoard()
    one = board.post("dept:tax", "case.overdue", ZH_EN, BODY, key="tx:ab12")
    two = board.post("dept:tax", "case.overdue", ZH_EN, BODY, key="tx:ab12")
    other = board.post("dept:market", "case.overdue", ZH_EN, BODY, key="tx:ab12")
    assert one == two and other.id != one.id
    assert board.unread_count("dept:tax") == 1


def test_the_board_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    board = NoticeBoard(path)
    a = board.post(
        "uscc:91310115MA1H3YQY4N", "agent.authorised", ZH_EN, BODY, source={"tx": "ab", "n": 3}
    )
    b = board.post("uscc:91310115MA1H3YQY4N", "case.decided", ZH_EN, BODY, key="k1")
    board.mark_read("uscc:91310115MA1H3YQY4N", [a.id])
    board.close()

    again = NoticeBoard(path)
    listed = again.list("uscc:91310115MA1H3YQY4N")
    assert [n.id for n in listed] == [b.id, a.id]
    assert listed[1].read is True and listed[1].source == {"tx": "ab", "n": 3}
    assert again.unread_count("uscc:91310115MA1H3YQY4N") == 1
    assert again.post("uscc:91310115MA1H3YQY4N", "case.decided", ZH_EN, BODY, key="k1") == b
    c = again.post("uscc:91310115MA1H3YQY4N", "case.decided", ZH_EN, BODY)
    assert c.id not in {a.id, b.id}  # ids continue after the replayed ones
    again.close()


def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    board = NoticeBoard(path)
    kept = board.post("dept:tax", "case.overdue", ZH_EN, BODY)
    board.close()
    with open(path, "ab") as handle:
        handle.write(b'{"op": "post", "id": "n2", "recip')
    again = NoticeBoard(path)
    assert [n.id for n in again.list("dept:tax")] == [kept.id]
    later = again.post("dept:tax", "case.overdue", ZH_EN, BODY)
    again.close()
    third = NoticeBoard(path)
    assert [n.id for n in third.list("dept:tax")] == [later.id, kept.id]
    third.close()


def test_a_corrupt_line_is_an_integrity_error(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    board = NoticeBoard(path)
    board.post("dept:tax", "case.overdue", ZH_EN, BODY)
    board.close()
    path.write_bytes(b"not json\n" + path.read_bytes())
    with pytest.raises(IntegrityError) as caught:
        NoticeBoard(path)
    assert caught.value.fields["line"] == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "case.decided", ZH_EN, BODY), "recipient"),
        (("dept:", "case.decided", ZH_EN, BODY), "recipient"),
        (("uscc:123", "case.decided", ZH_EN, BODY), "recipient"),
        (("has space", "case.decided", ZH_EN, BODY), "recipient"),
        (("dept:tax", "Case Decided", ZH_EN, BODY), "kind"),
        (("dept:tax", "case.decided", {"zh": "只有中文"}, BODY), "title"),
        (("dept:tax", "case.decided", {"zh": " ", "en": "x"}, BODY), "title"),
        (("dept:tax", "case.decided", {**ZH_EN, "fr": "x"}, BODY), "title"),
        (("dept:tax", "case.decided", ZH_EN, {"zh": "x", "en": 3}), "body"),
        (("dept:tax", "case.decided", {"zh": "长" * 2001, "en": "x"}, BODY), "title"),
    ],
)
def test_bad_input_is_refused_and_posts_nothing(args: tuple[object, ...], field: str) -> None:
    board = NoticeBoard()
    with pytest.raises(SchemaViolation) as caught:
        board.post(*args)  # type: ignore[arg-type]
    assert caught.value.fields["field"] == field
    assert board.list("dept:tax") == []


@pytest.mark.parametrize(
    "link", ["https://evil.example/", "//evil.example", "/a\\b", "/a b", "cases/1", "/x\n"]
)
def test_a_link_must_be_a_path_of_this_site(link: str) -> None:
    with pytest.raises(SchemaViolation) as caught:
        NoticeBoard().post("dept:tax", "case.decided", ZH_EN, BODY, link=link)
    assert caught.value.fields["field"] == "link"


def test_source_must_be_small_json() -> None:
    board = NoticeBoard()
    with pytest.raises(SchemaViolation):
        board.post("dept:tax", "k", ZH_EN, BODY, source={"x": object()})
    with pytest.raises(SchemaViolation):
        board.post("dept:tax", "k", ZH_EN, BODY, source={"x": "a" * 5000})
    with pytest.raises(SchemaViolation):
        board.list("dept:tax", limit=0)


def test_recipients() -> None:
    assert check_recipient("tax/officer") == "tax/officer"
    assert check_recipient("uscc:91310115MA1H3YQY4N") == "uscc:91310115MA1H3YQY4N"
    assert recipients_for("market/officer", dept="market") == (
        "market/officer",
        "dept:market",
    )
    assert recipients_for("citizen/ab", usccs=["91310115MA1H3YQY4N"] * 2) == (
        "citizen/ab",
        "uscc:91310115MA1H3YQY4N",
    )


def test_text_falls_back_to_chinese() -> None:
    notice = NoticeBoard().post("dept:tax", "k", ZH_EN, {"zh": "正文", "en": ""})
    assert notice.text("en") == ("Your case was decided", "")
    assert notice.text("fr") == ("办件已办结", "正文")


def test_board_for_keeps_one_board_per_app(tmp_path: Path) -> None:
    closers: list[object] = []
    state = SimpleNamespace(
        settings=SimpleNamespace(data_dir=tmp_path), node=SimpleNamespace(on_close=closers)
    )
    board = board_for(state)
    assert board_for(state) is board and board.path == tmp_path / FILE_NAME
    assert closers == [board.close]
    board.post("dept:tax", "k", ZH_EN, BODY)
    board.close()
    assert (tmp_path / FILE_NAME).exists()
    memory = board_for(SimpleNamespace(settings=SimpleNamespace(data_dir=None)))
    assert memory.path is None


def test_posts_from_many_threads_are_all_kept(tmp_path: Path) -> None:
    board = NoticeBoard(tmp_path / FILE_NAME)

    def post_many(i: int) -> None:
        for j in range(50):
            board.post(f"dept:d{i % 3}", "k", ZH_EN, BODY, key=f"{i}-{j}")

    threads = [threading.Thread(target=post_many, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    board.close()
    again = NoticeBoard(tmp_path / FILE_NAME)
    assert sum(again.unread_count(f"dept:d{i}") for i in range(3)) == 300
    ids = [n.id for i in range(3) for n in again.list(f"dept:d{i}", limit=500)]
    assert len(set(ids)) == 300
    again.close()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["post", "read"]), st.integers(0, 2), st.integers(0, 9))))
def test_unread_count_matches_the_list(ops: list[tuple[str, int, int]]) -> None:
    board = NoticeBoard()
    people = ["dept:a", "dept:b", "dept:c"]
    posted: list[str] = []
    for op, who, pick in ops:
        if op == "post":
            posted.append(board.post(people[who], "k", ZH_EN, BODY).id)
        elif posted:
            board.mark_read(people[who], [posted[pick % len(posted)]])
    for person in people:
        listed = board.list(person, limit=500)
        assert board.unread_count(person) == sum(not n.read for n in listed)
        assert board.list(person, unread_only=True, limit=500) == [n for n in listed if not n.read]
