"""Reading raw mail: the corpus of realistic hospital mail, then the rules one by one.

Pure functions only (no IMAP, no database): :func:`intake.email.parse_mail` and
:func:`intake.email.classify` against the bytes in :mod:`tests.fakes.mail_corpus`.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import random
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.email import Attachment, Noise, OwnMail, ParsedMail, classify, parse_mail
from intake.email.noise import bounced_message_id, is_own_message_id
from intake.email.parse import (
    QUOTE_MARK,
    decode_bytes,
    decode_header_value,
    html_to_text,
    normalise_message_id,
    python_charset,
    strip_quoted,
    ticket_number_in_subject,
)
from tests.fakes.mail_corpus import (
    BIG_ATTACHMENT_SIZE,
    CORPUS,
    DOCX_BYTES,
    OUR_ACK,
    OUR_ADDRESS,
    OUR_DOMAIN,
    OUR_ID_PREFIX,
    OUR_REPLY,
    MailCase,
    big_attachment_bytes,
    by_name,
)

OWN = OwnMail.of(domains=[OUR_DOMAIN], prefix=OUR_ID_PREFIX, addresses=[OUR_ADDRESS])
CST = timezone(timedelta(hours=8))

_PARSED: dict[str, ParsedMail] = {}


def parsed(case: MailCase) -> ParsedMail:
    """Each corpus mail is parsed once per session (the 20 MB one is not cheap to build)."""
    if case.name not in _PARSED:
        _PARSED[case.name] = parse_mail(case.raw())
    return _PARSED[case.name]


def _id(case: MailCase) -> str:
    return case.name


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_big_and_varied() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    kinds = {case.noise for case in CORPUS}
    assert kinds == {"ok", "auto_reply", "bulk", "list", "bounce", "loop"}
    assert any(case.big for case in CORPUS)
    assert any(case.forged_tag for case in CORPUS)
    assert all(case.about for case in CORPUS), "every mail says what it is"


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_corpus_headers(case: MailCase) -> None:
    mail = parsed(case)
    assert mail.subject == case.subject
    assert mail.from_addr == case.from_addr
    if case.from_name is not None:
        assert mail.from_name == case.from_name
    assert mail.message_id == case.message_id
    assert mail.in_reply_to == case.in_reply_to
    assert mail.references == case.references
    if case.to is not None:
        assert mail.to == case.to
    if case.cc is not None:
        assert mail.cc == case.cc
    assert mail.subject_ticket_number == case.ticket_number


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_corpus_times(case: MailCase) -> None:
    """Top Received is our server's receipt; Date is the sender's claim. Both aware, both exact."""
    mail = parsed(case)
    assert mail.received_at_header == case.received
    assert mail.date_header == case.date
    for stamp in (mail.received_at_header, mail.date_header):
        assert stamp is None or stamp.tzinfo is not None


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_corpus_text(case: MailCase) -> None:
    mail = parsed(case)
    if case.text is not None:
        assert mail.text == case.text
    for fragment in case.text_has:
        assert fragment in mail.text
    for fragment in case.text_lacks:
        assert fragment not in mail.text, f"quoted history left in: {fragment!r}"
    for fragment in case.full_text_has:
        assert fragment in mail.full_text
    assert QUOTE_MARK not in mail.text + mail.full_text
    assert "\ufffd" not in mail.subject + mail.text + mail.from_name, "garbled decoding"
    assert mail.text.strip(), "a body that reads as nothing"


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_corpus_attachments_and_defects(case: MailCase) -> None:
    mail = parsed(case)
    assert [a.filename for a in mail.attachments] == list(case.attachments)
    for attachment in mail.attachments:
        assert attachment.size == len(attachment.data) == len(attachment.payload())
        assert attachment.content_type == attachment.content_type.lower()
    assert mail.raw_size == len(case.raw())
    if case.defects:
        for expected in case.defects:
            assert any(expected in found for found in mail.defects), (expected, mail.defects)
    else:
        assert mail.defects == ()


@pytest.mark.parametrize("case", CORPUS, ids=_id)
def test_corpus_noise(case: MailCase) -> None:
    verdict = classify(parsed(case), own=OWN)
    assert verdict.kind == case.noise, verdict
    assert verdict.is_noise == (case.noise != "ok")
    assert verdict.reason and verdict.reason_zh
    assert verdict.bounced_message_id == case.bounced_message_id


# --------------------------------------------------------------------------- Chinese charsets


def test_stdlib_garbles_gbk_labelled_gb2312_and_we_do_not() -> None:
    """The failure the reference verified, reproduced, so the fix below is known to matter."""
    raw = by_name("gbk_labelled_gb2312").raw()
    stdlib = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(stdlib["Subject"]) != "王堃报修：CT室电脑蓝屏"
    mail = parse_mail(raw)
    assert mail.subject == "王堃报修：CT室电脑蓝屏"
    assert "王镕" in mail.text


@pytest.mark.parametrize(
    "label",
    ["gb2312", "GB2312", "gbk", "cp936", "x-gbk", "euc-cn", "csgb2312", "gb_2312-80", "chinese", "GB18030"],
)
def test_every_gbk_label_decodes_as_gb18030(label: str) -> None:
    assert python_charset(label) == "gb18030"
    assert decode_bytes("王堃、朱镕基".encode("gbk"), label) == "王堃、朱镕基"


def test_unlabelled_and_mislabelled_bytes() -> None:
    assert decode_bytes("急诊".encode(), None) == "急诊"
    assert decode_bytes("急诊".encode("gbk"), None) == "急诊"
    defects: list[str] = []
    assert decode_bytes("急诊王堃".encode("gbk"), "utf-8", defects) == "急诊王堃"
    assert defects == ["labelled utf-8 but is GB18030"]
    assert decode_bytes("急诊".encode(), "us-ascii") == "急诊"
    defects = []
    assert decode_bytes(b"abc", "x-no-such-charset", defects) == "abc"
    assert "unknown charset" in defects[0]


def test_encoded_words_join_bytes_of_one_charset_and_drop_whitespace_between() -> None:
    data = "王堃".encode("gbk")  # 4 bytes; split inside the second character
    import base64

    first, second = base64.b64encode(data[:3]).decode(), base64.b64encode(data[3:]).decode()
    assert decode_header_value(f"=?gb2312?B?{first}?= =?gb2312?B?{second}?=") == "王堃"
    assert decode_header_value("=?utf-8?Q?=E6=80=A5_=E8=AF=8A?= ward 3") == "急 诊 ward 3"
    assert decode_header_value("plain ascii") == "plain ascii"
    assert decode_header_value("=?utf-8*zh?B?5oCl6K+K?=") == "急诊"  # RFC 2231 language suffix


def test_bad_encoded_word_is_repaired_not_raised() -> None:
    defects: list[str] = []
    assert decode_header_value("=?utf-8?B?5oCl6K+K!?=", defects) == "急诊"
    assert defects


# --------------------------------------------------------------------------- quoted history


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("好的\n\n------------------ 原始邮件 ------------------\n发件人: a", "好的"),
        ("好的\n------------------&nbsp;原始邮件&nbsp;------------------\n发件人: a", "好的"),
        ("好的\n\xa0\n------------------\xa0原始邮件\xa0------------------\nx", "好的"),
        ('好的\n在 2026-11-20 10:00:00，"张三" <a@b.cn> 写道：\n旧内容', "好的"),
        ("好的\n张三 <a@b.cn> 于2026年11月20日周五 10:00写道：\n旧内容", "好的"),
        ("好的\n\n发件人: 张三 <a@b.cn>\n发送时间: 2026年11月20日 10:00\n收件人: x\n主题: y\n\n旧", "好的"),
        ("好的\n\n发件人：张三\n发送日期：2026-11-20\n旧", "好的"),
        ("好的\n*发件人:* 张三\n*发送时间:* 2026年11月20日\n旧", "好的"),
        ("OK\n________________________________\nFrom: A <a@b.cn>\nSent: Friday\nTo: b\n\nold", "OK"),
        ("OK\n\n-----Original Message-----\nFrom: a\nold", "OK"),
        ("OK\n-----原始邮件-----\n发件人: a\nold", "OK"),
        ("On Fri, Nov 20, 2026 at 10:00 AM 张三 <a@b.cn>\nwrote:\nold text", ""),
        ("答复\n\nOn Fri, Nov 20, 2026 at 10:00 AM 张三 <a@b.cn> wrote:\n> old\n> older", "答复"),
        ("> 第一问\n答一\n> 第二问\n答二", "答一\n答二"),
        (f"新内容\n{QUOTE_MARK}\n旧内容", "新内容"),
        ("From: 2026-11-01 to 2026-11-05 the printer failed.\nStill broken.", None),
        ("他在病历里写道\n第二行", None),
    ],
)
def test_strip_quoted(text: str, expected: str | None) -> None:
    result = strip_quoted(text)
    if expected is None:
        assert result == text  # nothing here is a quote marker
    elif expected == "":
        assert result == text.replace(QUOTE_MARK, "").strip()  # nothing above the quote: keep it all
    else:
        assert result == expected


def test_from_line_without_a_sent_line_is_not_a_quote() -> None:
    text = "From: 急诊科\n急诊分诊台电脑无法开机。"
    assert strip_quoted(text) == text


def test_forward_keeps_the_forwarded_message() -> None:
    mail = parsed(by_name("forwarded_foxmail"))
    assert mail.text == mail.full_text
    assert "报警代码 E-203" in mail.text


# --------------------------------------------------------------------------- HTML


def test_html_to_text_drops_markup_keeps_lines() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><p>第一行&nbsp;&amp;&lt;b&gt;</p><div>第二行<br>第三行</div><p>&nbsp;</p>"
        "<table><tr><td>科室</td><td>放射科</td></tr></table><!-- comment --></body></html>"
    )
    assert html_to_text(html) == "第一行 &<b>\n第二行\n第三行\n\n科室 放射科"


def test_html_quote_containers_become_marks() -> None:
    for html in (
        '<div>新</div><blockquote id="isReplyContent">旧</blockquote>',
        '<div>新</div><div class="gmail_quote">旧</div>',
        '<div>新</div><blockquote type="cite">旧</blockquote>',
        '<div>新</div><hr id="replySplit"><div>旧</div>',
        '<div>新</div><div id="divRplyFwdMsg">旧</div>',
    ):
        text = html_to_text(html)
        assert text.split("\n")[0] == "新" and QUOTE_MARK in text, html
        assert strip_quoted(text) == "新"


def test_unclosed_head_does_not_hide_the_body() -> None:
    assert html_to_text("<head><title>x<body><p>正文</p>") == "正文"


def test_html_only_mail_keeps_original_html() -> None:
    mail = parsed(by_name("outlook_html_reply_zh"))
    assert mail.html is not None and "MsoNormal" in mail.html
    assert "设备科同意更换" in mail.full_text and "发件人" in mail.full_text


# --------------------------------------------------------------------------- attachments


def test_small_attachment_payloads_are_exact() -> None:
    mail = parsed(by_name("attachments_rfc2231"))
    docx = mail.attachments[1]
    assert docx.data == DOCX_BYTES
    assert docx.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert mail.attachments[0].data.startswith(b"\x89PNG")


def test_inline_image_is_marked_inline_with_its_content_id() -> None:
    image, photo = parsed(by_name("inline_images_outlook")).attachments
    assert image.inline and image.content_id == "<image001.png@01DB5B1C.2A3B4C50>"
    assert image.content_type == "image/png"
    assert not photo.inline and photo.content_type == "image/jpeg"


def test_twenty_megabyte_attachment_is_read_whole() -> None:
    raw = by_name("attachment_20mb").raw()  # built (and cached) before the clock starts
    started = time.perf_counter()
    mail = parse_mail(raw)
    (zip_file,) = mail.attachments
    assert zip_file.size == BIG_ATTACHMENT_SIZE
    assert hashlib.sha256(zip_file.data).digest() == hashlib.sha256(big_attachment_bytes()).digest()
    assert mail.raw_size > BIG_ATTACHMENT_SIZE  # base64 grows it by a third
    assert time.perf_counter() - started < 10  # about 1 s here; a poller must not stall on one big mail


def test_path_in_attachment_name_is_dropped() -> None:
    raw = (
        b"From: a@b.cn\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
        b"--x\r\nContent-Type: text/plain\r\n\r\n"
        b"hi\r\n--x\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="..\\\\..\\\\evil.exe"\r\n\r\nMZ\r\n--x--\r\n'
    )
    (attachment,) = parse_mail(raw).attachments
    assert attachment.filename == "evil.exe"


def test_unnamed_parts_get_a_name() -> None:
    raw = (
        b"From: a@b.cn\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
        b"--x\r\nContent-Type: text/plain\r\n\r\n"
        b"hi\r\n--x\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"iVBORw0KGgo=\r\n--x--\r\n"
    )
    (attachment,) = parse_mail(raw).attachments
    assert attachment.filename == "part-2.png" and attachment.data == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- headers, ids, dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b.cn>", "<a@b.cn>"),
        ("  <a@b.cn>  ", "<a@b.cn>"),
        ("<a@b.cn> (王堃's message of Fri, 20 Nov)", "<a@b.cn>"),
        ("a@b.cn", "<a@b.cn>"),
        ("< a@b.cn >", "<a@b.cn>"),
        ("", None),
        ("no id here", None),
        (None, None),
    ],
)
def test_normalise_message_id(value: str | None, expected: str | None) -> None:
    assert normalise_message_id(value) == expected


def test_references_keep_order_and_tolerate_commas_and_folding() -> None:
    raw = (
        b"From: a@b.cn\r\nMessage-ID: <m@b.cn>\r\nIn-Reply-To: <3@x> <2@x>\r\n"
        b"References: <1@x>,\r\n\t<2@x>\r\n <3@x> <2@x>\r\n\r\nhi"
    )
    mail = parse_mail(raw)
    assert mail.references == ("<1@x>", "<2@x>", "<3@x>")
    assert mail.in_reply_to == "<3@x>"


def test_top_received_wins_over_lower_hops() -> None:
    raw = (
        b"Received: from a by ours; Mon, 23 Nov 2026 09:05:12 +0800\r\n"
        b"Received: from b by relay; Mon, 23 Nov 2026 01:00:00 +0000\r\n"
        b"From: a@b.cn\r\nDate: Mon, 23 Nov 2026 07:05:12 +0800\r\n\r\nhi"
    )
    mail = parse_mail(raw)
    assert mail.received_at_header == datetime(2026, 11, 23, 1, 5, 12, tzinfo=UTC)
    assert mail.date_header is not None
    assert mail.received_at_header - mail.date_header == timedelta(hours=2)


def test_date_skew_case_is_two_hours() -> None:
    mail = parsed(by_name("date_skew_2h"))
    assert mail.received_at_header and mail.date_header
    assert mail.received_at_header - mail.date_header == timedelta(hours=2)


@pytest.mark.parametrize(
    ("header", "expected", "defect"),
    [
        ("Fri, 20 Nov 2026 10:00:05 +0800 (CST)", datetime(2026, 11, 20, 10, 0, 5, tzinfo=CST), None),
        (
            "Fri, 20 Nov 2026 10:00:05 -0000",
            datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC),
            "without a time zone",
        ),
        ("Fri, 20 Nov 2026 10:00:05", datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC), "without a time zone"),
        ("2026年11月20日 上午10:00", None, "unreadable Date"),
    ],
)
def test_date_header_forms(header: str, expected: datetime | None, defect: str | None) -> None:
    mail = parse_mail(f"From: a@b.cn\r\nMessage-ID: <x@y>\r\nDate: {header}\r\n\r\nhi".encode())
    assert mail.date_header == expected
    if defect:
        assert any(defect in d for d in mail.defects)
    else:
        assert mail.defects == ()


def test_address_lists_with_encoded_names_holding_commas() -> None:
    mail = parsed(by_name("reply_all_with_cc"))
    assert len(mail.cc) == 3
    assert mail.from_name == "李娜"


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[#12] 蓝屏", 12),
        ("回复：[#12] 蓝屏", 12),
        ("Re: 蓝屏 [ # 12 ]", 12),
        ("回复：［＃12］蓝屏", 12),
        ("回复：［＃ １２ ］蓝屏", 12),
        ("[#123456] x", 123456),
        ("[#12] and [#15]", 12),
        ("#12 蓝屏", None),
        ("[12] 蓝屏", None),
        ("[#] 蓝屏", None),
        ("", None),
    ],
)
def test_ticket_number_in_subject(subject: str, number: int | None) -> None:
    assert ticket_number_in_subject(subject) == number


def test_header_lookup_is_case_insensitive_and_decoded() -> None:
    mail = parsed(by_name("foxmail_reply"))
    assert mail.header("x-mailer") == "Foxmail 7.2.25.228[cn]"
    assert mail.header("SUBJECT") == mail.subject
    assert mail.header("X-Nothing") is None
    assert len(mail.header_all("Received")) == 2


# --------------------------------------------------------------------------- never raises


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"no headers at all, just text",
        b"Subject: =?utf-8?B?!!!?=\r\nFrom: <<<>>>\r\nDate: yesterday\r\nMessage-ID: <>\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter",
        b"Content-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\n--z--\r\n",
        b"Content-Type: message/rfc822\r\n\r\nnot really a message",
        b'Content-Type: text/plain; charset="\xff\xfe"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=",
        b"Content-Type: text/html\r\n\r\n<div><p><<<>>></p></div></span><script>",
        b"From: a@b.cn\r\nReceived: no date here\r\n\r\nx",
        b'Subject: =?gb\x002312?B?zfWI0g==?=\r\nContent-Type: text/plain; charset="a\x00b"\r\n\r\nx',
    ],
)
def test_odd_input_parses_without_raising(raw: bytes) -> None:
    mail = parse_mail(raw)
    assert isinstance(mail, ParsedMail)
    assert isinstance(classify(mail, own=OWN), Noise)


def test_truncations_and_bit_flips_of_the_corpus_never_raise() -> None:
    rng = random.Random(5)
    for case in CORPUS:
        if case.big:
            continue
        raw = case.raw()
        for cut in (len(raw) // 7, len(raw) // 3, len(raw) // 2, len(raw) - 3):
            assert isinstance(parse_mail(raw[:cut]), ParsedMail)
        for _ in range(5):
            flipped = bytearray(raw)
            for _ in range(20):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            mail = parse_mail(flipped)
            classify(mail, own=OWN)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    mail = parse_mail(raw)
    assert mail.raw_size == len(raw)
    classify(mail)


def test_bytearray_from_aioimaplib_is_accepted() -> None:
    raw = by_name("plain_utf8").raw()
    assert parse_mail(bytearray(raw)) == parse_mail(raw)


def test_malformed_mail_still_yields_its_text_and_attachment() -> None:
    mail = parsed(by_name("malformed_mime"))
    (log,) = mail.attachments
    assert log.data.startswith("2026-11-20 11:58 财务系统启动失败".encode())
    assert mail.from_addr == "" and mail.message_id is None


# --------------------------------------------------------------------------- noise rules


def _mail(headers: str, body: str = "您好，CT室电脑蓝屏。", subject: str = "CT室电脑蓝屏") -> ParsedMail:
    head = (
        f"From: wangkun@rmyy.example.cn\r\nSubject: {subject}\r\nMessage-ID: <n@rmyy.example.cn>\r\n{headers}"
    )
    mail = parse_mail(f"{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}".encode())
    assert mail.full_text == body
    return mail


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("", "ok"),
        ("Auto-Submitted: no\r\n", "ok"),
        ("Auto-Submitted: auto-replied\r\n", "auto_reply"),
        ("Auto-Submitted: auto-generated\r\n", "auto_reply"),
        ("Auto-Submitted: auto-notified; owner-email=a@b\r\n", "auto_reply"),
        ("Precedence: bulk\r\n", "bulk"),
        ("Precedence: junk\r\n", "bulk"),
        ("Precedence: list\r\n", "list"),
        ("Precedence: auto_reply\r\n", "auto_reply"),
        ("X-Precedence: bulk\r\n", "bulk"),
        ("X-Autoreply: yes\r\n", "auto_reply"),
        ("X-Autorespond: vacation\r\n", "auto_reply"),
        ("X-Autoresponder: yes\r\n", "auto_reply"),
        ("X-Autogenerated: Reply\r\n", "auto_reply"),
        ("List-Id: <his.lists.example.org>\r\n", "list"),
        ("List-Unsubscribe: <mailto:x@y>\r\n", "list"),
        ("Return-Path: <>\r\n", "bounce"),
        ("X-Failed-Recipients: a@b.cn\r\n", "bounce"),
        ("Return-Path: <>\r\nAuto-Submitted: auto-replied\r\n", "auto_reply"),
        ("X-Auto-Response-Suppress: All\r\n", "ok"),
    ],
)
def test_header_rules(headers: str, kind: str) -> None:
    assert classify(_mail(headers), own=OWN).kind == kind


def test_suppress_header_alone_is_recorded_but_not_decisive() -> None:
    verdict = classify(_mail("X-Auto-Response-Suppress: All\r\n"))
    assert verdict.kind == "ok"
    assert any("X-Auto-Response-Suppress" in s for s in verdict.signals)


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("自动回复：CT室电脑蓝屏", "auto_reply"),
        ("自动回复: CT室电脑蓝屏", "auto_reply"),
        ("自动答复: CT室电脑蓝屏", "auto_reply"),
        ("自動回覆：CT", "auto_reply"),
        ("Auto Reply: CT", "auto_reply"),
        ("Automatic reply: CT", "auto_reply"),
        ("Out of Office: CT", "auto_reply"),
        ("休假：11月23日至27日", "auto_reply"),
        ("【休假】11月23日至27日", "auto_reply"),
        ("休假中", "auto_reply"),
        ("休假期间系统账号如何处理", "ok"),
        ("关于自动回复功能的咨询", "ok"),
        ("回复：CT室电脑蓝屏", "ok"),
    ],
)
def test_out_of_office_subjects(subject: str, kind: str) -> None:
    mail = _mail("", subject="=?utf-8?B?" + __import__("base64").b64encode(subject.encode()).decode() + "?=")
    assert mail.subject == subject
    assert classify(mail).kind == kind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("这是来自QQ邮箱的假期自动回复邮件。\n您好，我最近正在休假中。", "auto_reply"),
        ("这是来自QQ邮箱的自动回复邮件。\n您好。", "auto_reply"),
        ("您好，QQ邮箱收不到邮件，这是来自QQ邮箱的截图吗？", "ok"),
        ("CT室电脑蓝屏。\n\n引用：\n这是来自QQ邮箱的自动回复邮件", "ok"),
    ],
)
def test_qq_auto_reply_body(body: str, kind: str) -> None:
    assert classify(_mail("", body=body)).kind == kind


def test_mailer_daemon_and_postmaster_senders_are_bounces() -> None:
    for sender in ("MAILER-DAEMON@mx.example.cn", "postmaster@rmyy.example.cn", "PostMaster@qq.com"):
        mail = parse_mail(f"From: {sender}\r\nSubject: x\r\n\r\nundeliverable".encode())
        assert classify(mail).kind == "bounce", sender


def test_loop_needs_configuration_and_matches_prefix_and_domain() -> None:
    mail = parsed(by_name("own_ack_loop"))
    assert classify(mail).kind == "auto_reply"  # without OwnMail nothing is a loop
    assert classify(mail, own=OWN).kind == "loop"
    assert classify(mail, own=OwnMail.of(domains=[OUR_DOMAIN])).kind == "loop"
    assert classify(mail, own=OwnMail.of(addresses=[OUR_ADDRESS])).kind == "loop"
    assert not is_own_message_id("<20261120021505.3A1B2C0F12@weibao.example>", OWN)  # our relay's DSN id
    assert is_own_message_id(OUR_ACK, OWN)
    assert not is_own_message_id("<t12.m1.0123456789abcdef@other.example>", OWN)
    assert not is_own_message_id(None, OWN)


def test_engineer_on_our_domain_is_not_a_loop() -> None:
    mail = parse_mail(
        b"From: chenjing@weibao.example\r\nMessage-ID: <abc@weibao.example>\r\nSubject: x\r\n\r\nhi"
    )
    assert classify(mail, own=OWN).kind == "ok"


def test_bounce_of_our_mail_is_a_bounce_not_a_loop_and_names_the_mail() -> None:
    verdict = classify(parsed(by_name("dsn_bounce_of_our_reply")), own=OWN)
    assert verdict.kind == "bounce"
    assert verdict.bounced_message_id == OUR_REPLY
    assert OUR_REPLY in verdict.reason_zh and "退信" in verdict.reason_zh
    assert any("Auto-Submitted" in s for s in verdict.signals)  # every sign is kept
    # Configured by domain alone, our relay's DSN id looks like ours: still a bounce, not a loop.
    domain_only = classify(parsed(by_name("dsn_bounce_of_our_reply")), own=OwnMail.of(domains=[OUR_DOMAIN]))
    assert domain_only.kind == "bounce"
    assert any("our own Message-ID" in s for s in domain_only.signals)


def test_bounced_message_id_fallbacks() -> None:
    assert bounced_message_id(parsed(by_name("exchange_ndr_headers_only"))) == OUR_ACK
    assert bounced_message_id(parsed(by_name("dsn_original_message_id_only"))) == OUR_REPLY
    assert bounced_message_id(parsed(by_name("bounce_null_sender_plain"))) == OUR_ACK
    assert bounced_message_id(parsed(by_name("plain_utf8"))) is None


def test_bounce_without_a_findable_original_says_so() -> None:
    mail = parse_mail(b"From: MAILER-DAEMON@mx.example.cn\r\nSubject: failure\r\n\r\nundeliverable")
    verdict = classify(mail)
    assert verdict.kind == "bounce" and verdict.bounced_message_id is None
    assert "未找到" in verdict.reason_zh


def test_raw_headers_may_be_passed_separately() -> None:
    mail = _mail("")
    assert classify(mail, {"Auto-Submitted": "auto-replied"}).kind == "auto_reply"
    assert classify(mail, [("List-Id", "<x.example>")]).kind == "list"
    message = email.message_from_string("Precedence: bulk\n\nx")
    assert classify(mail, message).kind == "bulk"
    assert classify(mail, {}).kind == "ok"


def test_attachment_is_frozen() -> None:
    attachment = Attachment(filename="a.txt", content_type="text/plain", size=1, data=b"a")
    with pytest.raises(AttributeError):
        attachment.size = 2  # type: ignore[misc]
