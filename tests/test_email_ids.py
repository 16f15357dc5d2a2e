"""Signed Message-IDs and subject tags: threading that a stranger cannot forge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from intake.email.ids import (
    ThreadRef,
    first_thread,
    make_message_id,
    read_message_id,
    subject_tag,
    tagged_subject,
)

SECRET = "s3cret"


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_our_ids_read_back_to_their_ticket(ticket: int, message: int) -> None:
    mid = make_message_id(SECRET, "helpdesk.example.cn", ticket, message)
    assert read_message_id(SECRET, mid) == ThreadRef(ticket, message)


def test_a_forged_or_foreign_id_names_no_ticket() -> None:
    mid = make_message_id(SECRET, "helpdesk.example.cn", 12, 34)
    forged = mid.replace("t12.", "t13.")
    assert read_message_id(SECRET, forged) is None
    assert read_message_id("other-install", mid) is None
    assert read_message_id(SECRET, "<CAF=abc@mail.gmail.com>") is None
    assert read_message_id(SECRET, None) is None


def test_in_reply_to_first_then_the_newest_reference() -> None:
    old = make_message_id(SECRET, "h.cn", 5, 1)
    new = make_message_id(SECRET, "h.cn", 7, 9)
    assert first_thread(SECRET, None, [old, "<x@y>", new]) == ThreadRef(7, 9)
    assert first_thread(SECRET, old, [new]) == ThreadRef(5, 1)
    assert first_thread(SECRET, "<x@y>", ["<z@w>"]) is None


def test_subject_tags() -> None:
    assert subject_tag("回复：[#123] 挂号系统报错") == 123
    assert subject_tag("Re: ［＃ 45 ］ 打印机") == 45
    assert subject_tag("没有标签 #12") is None
    assert tagged_subject(123, "回复：[#123] 挂号系统报错") == "[#123] 回复： 挂号系统报错"
    assert tagged_subject(45, "Re: ［＃45］ 打印机") == "[#45] Re: 打印机"
    assert tagged_subject(9, "") == "[#9]"
