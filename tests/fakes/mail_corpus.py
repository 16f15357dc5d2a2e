"""A corpus of realistic raw mails as a hospital helpdesk mailbox receives them.

Each :class:`MailCase` builds the exact bytes IMAP would hand the intake (our own
mail server's ``Received:`` stamp on top) and names what reading it must give:
noise kind, subject, thread headers, text that must and must not survive quote
cutting, attachment names, the bounced Message-ID. Tests iterate over
:data:`CORPUS`.

Where the stdlib would "fix" what real clients get wrong (GBK labelled gb2312,
``=?gb2312?`` words holding GBK-only characters, raw 8-bit headers, broken
boundaries, bad base64) the bytes are written by hand; elsewhere
``email.message.EmailMessage`` builds them. Like the WeCom fakes, this module does
not import the product: the corpus states facts about mail, independently.

The story behind most mails: ticket 12, 王堃 (radiology, CT room) reported a blue
screen by mail; the helpdesk acknowledged (:data:`OUR_ACK`) and engineer 陈静 replied
(:data:`OUR_REPLY`); replies, auto-replies and bounces follow from many clients.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import quopri
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

__all__ = [
    "BIG_ATTACHMENT_SIZE",
    "CORPUS",
    "CORPUS_SECRET",
    "DOCX_BYTES",
    "OUR_ACK",
    "OUR_ADDRESS",
    "OUR_DOMAIN",
    "OUR_ID_PREFIX",
    "OUR_REPLY",
    "REPORT_ID",
    "MailCase",
    "big_attachment_bytes",
    "by_name",
    "our_message_id",
]

CST = timezone(timedelta(hours=8))
OUR_DOMAIN = "weibao.example"
OUR_ADDRESS = "helpdesk@weibao.example"
OUR_ID_PREFIX = "t"  # our Message-IDs: <t{ticket}.m{message}.{hmac16}@weibao.example>
HOSPITAL = "rmyy.example.cn"

REPORT_ID = "<20261120093012.4F2A1C@rmyy.example.cn>"  # 王堃's first report (Foxmail)
CORPUS_SECRET = "corpus-secret"  # the installation secret our Message-IDs below are signed with


def our_message_id(ticket: int, message: int) -> str:
    """An id of ours: ``<t{ticket}.m{message}.{hmac16}@weibao.example>``, the HMAC-SHA256 of
    ``"{ticket}.{message}"`` under :data:`CORPUS_SECRET` computed here, not by the product."""
    signature = hmac.new(CORPUS_SECRET.encode(), f"{ticket}.{message}".encode(), hashlib.sha256).hexdigest()
    return f"<t{ticket}.m{message}.{signature[:16]}@{OUR_DOMAIN}>"


OUR_ACK = our_message_id(12, 1)  # our automatic acknowledgement
OUR_REPLY = our_message_id(12, 2)  # engineer 陈静's reply
THREAD_12 = (REPORT_ID, OUR_ACK, OUR_REPLY)
SUBJECT_12 = "[#12] CT室电脑蓝屏"
OUR_REPLY_TEXT = "您好，请先重启电脑，如仍蓝屏请回复本邮件。"  # what the quoted history says

BIG_ATTACHMENT_SIZE = 20 * 1024 * 1024


@dataclass(frozen=True)
class MailCase:
    """One mail and what reading it must give. ``None`` in an optional field means "not checked";
    the always-checked fields (thread headers, dates, attachments, ticket number, noise) state
    their expected value, including "none"."""

    name: str
    build: Callable[[], bytes]
    about: str
    subject: str
    from_addr: str
    message_id: str | None
    received: datetime | None
    date: datetime | None
    noise: str = "ok"
    from_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    to: tuple[str, ...] | None = None
    cc: tuple[str, ...] | None = None
    text: str | None = None  # exact text after quote cutting
    text_has: tuple[str, ...] = ()
    text_lacks: tuple[str, ...] = ()
    full_text_has: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()  # file names, in order
    ticket_number: int | None = None
    bounced_message_id: str | None = None
    defects: tuple[str, ...] = ()  # substrings that must appear; empty: the mail must parse clean
    forged_tag: bool = False  # the subject tag is not the sender's to use (threading must refuse it)
    big: bool = False

    def raw(self) -> bytes:
        return self.build()


CORPUS: list[MailCase] = []


def by_name(name: str) -> MailCase:
    return next(case for case in CORPUS if case.name == name)


def _case(name: str, **expect: object) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        cached = functools.cache(build)
        CORPUS.append(MailCase(name=name, build=cached, about=(build.__doc__ or "").strip(), **expect))  # type: ignore[arg-type]
        return cached

    return register


# --------------------------------------------------------------------------- byte-level helpers

CRLF = b"\r\n"


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _head(headers: list[tuple[str, str | bytes]]) -> bytes:
    return b"".join(_b(name) + b": " + _b(value) + CRLF for name, value in headers)


def _mail(headers: list[tuple[str, str | bytes]], body: bytes) -> bytes:
    return _head(headers) + CRLF + body


def _part(headers: list[tuple[str, str | bytes]], body: bytes) -> bytes:
    return _head(headers) + CRLF + body


def _multipart(boundary: str, parts: list[bytes], closed: bool = True) -> bytes:
    out = b"This is a multi-part message in MIME format." + CRLF + CRLF
    for part in parts:
        out += b"--" + boundary.encode() + CRLF + part + CRLF
    if closed:
        out += b"--" + boundary.encode() + b"--" + CRLF
    return out


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _qp(data: bytes) -> bytes:
    return quopri.encodestring(data).replace(b"\n", CRLF)


def _crlf(text: str, codec: str = "utf-8") -> bytes:
    return text.replace("\n", "\r\n").encode(codec)


def _codec(charset: str) -> str:
    # What the sending client really encodes with when it writes that label.
    return {"gb2312": "gbk", "gbk": "gbk", "gb18030": "gb18030", "big5": "big5"}.get(charset.lower(), charset)


def _ew(text: str, charset: str = "utf-8", kind: str = "B") -> str:
    """One RFC 2047 encoded word, encoded the way the client actually does it."""
    data = text.encode(_codec(charset))
    if kind == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    safe = b"".join(
        bytes([c]) if (chr(c).isalnum() and c < 128) else (b"_" if c == 32 else f"={c:02X}".encode())
        for c in data
    )
    return f"=?{charset}?Q?{safe.decode()}?="


def _date(dt: datetime) -> str:
    return format_datetime(dt)


def _deliver(message: bytes, at: datetime, return_path: str, via: str = "mx.example.net") -> bytes:
    """What our server adds on delivery: Return-Path, then its own Received stamps (LMTP on top)."""
    stamp = format_datetime(at.astimezone(CST))
    top = [
        ("Return-Path", return_path),
        ("Delivered-To", OUR_ADDRESS),
        (
            "Received",
            f"from mail.{OUR_DOMAIN}\r\n\tby mail.{OUR_DOMAIN} with LMTP\r\n\tid 6Kx0AXxPPmnUBQAA"
            f" (envelope-from {return_path})\r\n\tfor <{OUR_ADDRESS}>; {stamp} (CST)",
        ),
        (
            "Received",
            f"from {via} ({via} [203.0.113.25])\r\n\tby mail.{OUR_DOMAIN} (Postfix) with ESMTPS id "
            f"4Fq2Yd0Xz3z9\r\n\tfor <{OUR_ADDRESS}>; {stamp}",
        ),
    ]
    return _head(top) + message


def _email_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP)


def _at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=CST)


def _quoted_foxmail(sep: str = "------------------ 原始邮件 ------------------") -> str:
    return (
        f"{sep}\n"
        '发件人: "维保服务台"<helpdesk@weibao.example>;\n'
        "发送时间: 2026年11月20日(星期五) 上午10:15\n"
        '收件人: "王堃"<wangkun@rmyy.example.cn>;\n'
        f"主题: {SUBJECT_12}\n\n"
        f"{OUR_REPLY_TEXT}\n"
        "维保服务台 工程师 陈静\n"
    )


def _quoted_html_zh_headers() -> str:
    return (
        '<div><b>发件人:</b>&nbsp;"维保服务台"&lt;helpdesk@weibao.example&gt;;</div>'
        "<div><b>发送时间:</b>&nbsp;2026年11月20日(星期五) 上午10:15</div>"
        '<div><b>收件人:</b>&nbsp;"王堃"&lt;wangkun@rmyy.example.cn&gt;;</div>'
        f"<div><b>主题:</b>&nbsp;{SUBJECT_12}</div><div><br></div>"
        f"<div>{OUR_REPLY_TEXT}</div>"
    )


def _thread_headers(refs: tuple[str, ...] = THREAD_12) -> list[tuple[str, str | bytes]]:
    return [("In-Reply-To", refs[-1]), ("References", "\r\n ".join(refs))]


# --------------------------------------------------------------------------- plain reports and charsets

R_PLAIN = _at(20, 9, 30, 14)


@_case(
    "plain_utf8",
    subject="CT室工作站无法登录PACS",
    from_addr="wangfang@rmyy.example.cn",
    from_name="王芳",
    message_id="<6f1e0c3a-1b2c-4d5e-9f00-aa11bb22cc33@rmyy.example.cn>",
    received=R_PLAIN,
    date=R_PLAIN - timedelta(seconds=9),
    to=(OUR_ADDRESS,),
    text="您好：\n\nCT室2号工作站今天早上开始无法登录PACS，提示“用户名或密码错误”，但密码没有改过。\n"
    "麻烦尽快处理，谢谢！\n\n王芳\n放射科",
)
def plain_utf8() -> bytes:
    """A first report in plain UTF-8 from a modern client (Thunderbird-like)."""
    msg = EmailMessage()
    msg["From"] = "王芳 <wangfang@rmyy.example.cn>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = "CT室工作站无法登录PACS"
    msg["Date"] = _date(R_PLAIN - timedelta(seconds=9))
    msg["Message-ID"] = "<6f1e0c3a-1b2c-4d5e-9f00-aa11bb22cc33@rmyy.example.cn>"
    msg.set_content(
        "您好：\n\nCT室2号工作站今天早上开始无法登录PACS，提示“用户名或密码错误”，但密码没有改过。\n"
        "麻烦尽快处理，谢谢！\n\n王芳\n放射科\n"
    )
    return _deliver(_email_bytes(msg), R_PLAIN, "<wangfang@rmyy.example.cn>")


R_8BIT = _at(20, 9, 41, 3)


@_case(
    "utf8_raw_8bit_headers",
    subject="急！门诊收费系统打印发票卡住",
    from_addr="lina@rmyy.example.cn",
    from_name="李娜",
    message_id="<5f3a.20261120094100@rmyy.example.cn>",
    received=R_8BIT,
    date=R_8BIT - timedelta(seconds=2),
    text_has=("门诊3号收费窗口", "发票打印"),
)
def utf8_raw_8bit_headers() -> bytes:
    """Raw UTF-8 in Subject and From (no encoded words) and an 8-bit body labelled us-ascii
    by an old in-house system; real servers pass it through."""
    body = "门诊3号收费窗口的发票打印一直卡在“正在打印”，重启打印机也不行。\n李娜 门诊收费处\n"
    return _deliver(
        _mail(
            [
                ("From", '"李娜" <lina@rmyy.example.cn>'.encode()),
                ("To", OUR_ADDRESS),
                ("Subject", "急！门诊收费系统打印发票卡住".encode()),
                ("Date", _date(R_8BIT - timedelta(seconds=2))),
                ("Message-ID", "<5f3a.20261120094100@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", "text/plain; charset=us-ascii"),
                ("Content-Transfer-Encoding", "8bit"),
            ],
            _crlf(body),
        ),
        R_8BIT,
        "<lina@rmyy.example.cn>",
    )


R_GBK = _at(20, 9, 30, 20)


@_case(
    "gbk_labelled_gb2312",
    subject="王堃报修：CT室电脑蓝屏",
    from_addr="wangkun@rmyy.example.cn",
    from_name="王堃",
    message_id=REPORT_ID,
    received=R_GBK,
    date=R_GBK - timedelta(seconds=8),
    text="陈工您好：\nCT室操作台电脑今天蓝屏三次，同事王镕说上周也出现过。\n放射科 王堃",
)
def gbk_labelled_gb2312() -> bytes:
    """The first report of ticket 12 from Foxmail: subject, name and body say gb2312 but hold
    GBK-only characters (堃, 镕), so the narrow codec would garble the whole line."""
    body = "陈工您好：\nCT室操作台电脑今天蓝屏三次，同事王镕说上周也出现过。\n放射科 王堃\n"
    return _deliver(
        _mail(
            [
                ("Date", _date(R_GBK - timedelta(seconds=8))),
                ("From", f'"{_ew("王堃", "gb2312")}" <wangkun@rmyy.example.cn>'),
                ("To", f'"{_ew("维保服务台", "gb2312")}" <{OUR_ADDRESS}>'),
                ("Subject", _ew("王堃报修：CT室电脑蓝屏", "gb2312")),
                ("Message-ID", REPORT_ID),
                ("X-Mailer", "Foxmail 7.2.25.228[cn]"),
                ("Mime-Version", "1.0"),
                ("Content-Type", 'text/plain;\r\n\tcharset="gb2312"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf(body, "gbk")),
        ),
        R_GBK,
        "<wangkun@rmyy.example.cn>",
    )


R_GBK8 = _at(20, 10, 2, 45)


@_case(
    "gbk_raw_8bit_headers",
    subject="检验科赵堃：LIS条码打印机不出纸",
    from_addr="zhaokun@rmyy.example.cn",
    from_name="赵堃",
    message_id="<000b01db3a7f$1c2d3e40$5f6a7b80$@rmyy.example.cn>",
    received=R_GBK8,
    date=R_GBK8 - timedelta(seconds=5),
    text_has=("条码打印机", "赵堃"),
)
def gbk_raw_8bit_headers() -> bytes:
    """An old Outlook Express-era client: raw GBK bytes in Subject and From, 8-bit GBK body."""
    body = "检验科LIS的条码打印机从早上起不出纸，已经换过纸卷。\n检验科 赵堃\n"
    return _deliver(
        _mail(
            [
                ("From", "赵堃 <zhaokun@rmyy.example.cn>".encode("gbk")),
                ("To", OUR_ADDRESS),
                ("Subject", "检验科赵堃：LIS条码打印机不出纸".encode("gbk")),
                ("Date", _date(R_GBK8 - timedelta(seconds=5))),
                ("Message-ID", "<000b01db3a7f$1c2d3e40$5f6a7b80$@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", 'text/plain; charset="GB2312"'),
                ("Content-Transfer-Encoding", "8bit"),
            ],
            _crlf(body, "gbk"),
        ),
        R_GBK8,
        "<zhaokun@rmyy.example.cn>",
    )


R_Q = _at(20, 10, 11, 0)


@_case(
    "subject_q_gb2312",
    subject="心电图机无法上传报告",
    from_addr="xindiantu@rmyy.example.cn",
    message_id="<202611201010590312345@rmyy.example.cn>",
    received=R_Q,
    date=R_Q - timedelta(seconds=1),
    text_has=("心电图室", "上传失败"),
)
def subject_q_gb2312() -> bytes:
    """Q-encoded gb2312 subject, quoted-printable gb2312 body (Foxmail's other mode)."""
    body = "心电图室的机器上传失败，提示网络超时。\n"
    return _deliver(
        _mail(
            [
                ("From", f"{_ew('心电图室', 'gb2312', 'Q')} <xindiantu@rmyy.example.cn>"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("心电图机无法上传报告", "gb2312", "Q")),
                ("Date", _date(R_Q - timedelta(seconds=1))),
                ("Message-ID", "<202611201010590312345@rmyy.example.cn>"),
                ("Content-Type", "text/plain; charset=gb2312"),
                ("Content-Transfer-Encoding", "quoted-printable"),
            ],
            _qp(_crlf(body, "gbk")),
        ),
        R_Q,
        "<xindiantu@rmyy.example.cn>",
    )


R_MIX = _at(20, 10, 20, 0)


@_case(
    "subject_mixed_charsets",
    subject="回复：手麻系统 HIS 報錯",
    from_addr="it-hk@rmyy.example.cn",
    message_id="<mix.20261120@rmyy.example.cn>",
    received=R_MIX,
    date=R_MIX - timedelta(seconds=3),
    text_has=("手麻系统",),
)
def subject_mixed_charsets() -> bytes:
    """Encoded words in three charsets (UTF-8 B, GBK Q, Big5 B) with plain ASCII between them."""
    subject = f"{_ew('回复：', 'utf-8')} {_ew('手麻系统', 'gbk', 'Q')} HIS {_ew('報錯', 'big5')}"
    return _deliver(
        _mail(
            [
                ("From", "it-hk@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", subject),
                ("Date", _date(R_MIX - timedelta(seconds=3))),
                ("Message-ID", "<mix.20261120@rmyy.example.cn>"),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf("手麻系统登录HIS时报错。\n")),
        ),
        R_MIX,
        "<it-hk@rmyy.example.cn>",
    )


R_SPLIT = _at(20, 10, 25, 0)


@_case(
    "subject_split_multibyte",
    subject="放射科RIS预约单打印错位，急需处理",
    from_addr="ris@rmyy.example.cn",
    message_id="<split.20261120102459@rmyy.example.cn>",
    received=R_SPLIT,
    date=R_SPLIT - timedelta(seconds=4),
    text_has=("预约单",),
)
def subject_split_multibyte() -> bytes:
    """A folded subject of two ``=?GB2312?B?`` words split in the middle of a character: the
    words must be joined as bytes before decoding."""
    data = "放射科RIS预约单打印错位，急需处理".encode("gbk")
    # Cut between the two bytes of a character (the first lead byte after "RIS").
    cut = next(i + 1 for i in range(9, len(data)) if data[i] >= 0x80 and _is_lead(data, i))
    first, second = data[:cut], data[cut:]
    words = [f"=?GB2312?B?{base64.b64encode(chunk).decode()}?=" for chunk in (first, second)]
    subject = "\r\n ".join(words)
    return _deliver(
        _mail(
            [
                ("From", "ris@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", subject),
                ("Date", _date(R_SPLIT - timedelta(seconds=4))),
                ("Message-ID", "<split.20261120102459@rmyy.example.cn>"),
                ("Content-Type", "text/plain; charset=GB2312"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf("预约单打印出来错位了。\n", "gbk")),
        ),
        R_SPLIT,
        "<ris@rmyy.example.cn>",
    )


def _is_lead(data: bytes, i: int) -> bool:
    """Whether data[i] is the first byte of a two-byte GBK character."""
    j = 0
    while j < i:
        j += 2 if data[j] >= 0x80 else 1
    return j == i


R_XGBK = _at(20, 10, 31, 0)


@_case(
    "x_gbk_label",
    subject="手术室3号麻醉机联网中断",
    from_addr="shoushushi@rmyy.example.cn",
    message_id="<xgbk.20261120@rmyy.example.cn>",
    received=R_XGBK,
    date=R_XGBK - timedelta(seconds=6),
    text="手术室3号麻醉机与麻醉信息系统联网中断，护士长邓堃已重启设备。",
)
def x_gbk_label() -> bytes:
    """A body labelled ``x-gbk`` (not a Python codec name at all), quoted-printable."""
    body = "手术室3号麻醉机与麻醉信息系统联网中断，护士长邓堃已重启设备。\n"
    return _deliver(
        _mail(
            [
                ("From", "shoushushi@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("手术室3号麻醉机联网中断")),
                ("Date", _date(R_XGBK - timedelta(seconds=6))),
                ("Message-ID", "<xgbk.20261120@rmyy.example.cn>"),
                ("Content-Type", 'text/plain; charset="x-gbk"'),
                ("Content-Transfer-Encoding", "quoted-printable"),
            ],
            _qp(_crlf(body, "gbk")),
        ),
        R_XGBK,
        "<shoushushi@rmyy.example.cn>",
    )


# --------------------------------------------------------------------------- replies with quoted history

R_FOX = _at(20, 11, 2, 30)


@_case(
    "foxmail_reply",
    subject=f"回复：{SUBJECT_12}",
    from_addr="wangkun@rmyy.example.cn",
    from_name="王堃",
    message_id="<202611201102222218734@rmyy.example.cn>",
    received=R_FOX,
    date=R_FOX - timedelta(seconds=8),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="已经按你们说的重启了，还是蓝屏，错误代码 0x0000007B。",
    text_lacks=("原始邮件", OUR_REPLY_TEXT, "发件人"),
    full_text_has=("原始邮件", OUR_REPLY_TEXT),
)
def foxmail_reply() -> bytes:
    """Foxmail reply: text and HTML, gb2312 labels, the ``原始邮件`` separator then a 发件人 block."""
    plain = "已经按你们说的重启了，还是蓝屏，错误代码 0x0000007B。\n\n" + _quoted_foxmail()
    html = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=gb2312"></head><body>'
        "<div>已经按你们说的重启了，还是蓝屏，错误代码 0x0000007B。</div><div><br></div>"
        "<div><div>------------------ 原始邮件 ------------------</div>"
        f"{_quoted_html_zh_headers()}</div></body></html>"
    )
    boundary = "----=_NextPart_6377A1B2_0C8E3F10_5D2B9A41"
    body = _multipart(
        boundary,
        [
            _part(
                [
                    ("Content-Type", 'text/plain;\r\n\tcharset="gb2312"'),
                    ("Content-Transfer-Encoding", "base64"),
                ],
                _b64(_crlf(plain, "gbk")),
            ),
            _part(
                [
                    ("Content-Type", 'text/html;\r\n\tcharset="gb2312"'),
                    ("Content-Transfer-Encoding", "base64"),
                ],
                _b64(_crlf(html, "gbk")),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("Date", _date(R_FOX - timedelta(seconds=8))),
                ("From", f'"{_ew("王堃", "gb2312")}" <wangkun@rmyy.example.cn>'),
                ("To", f'"{_ew("维保服务台", "gb2312")}" <{OUR_ADDRESS}>'),
                ("Subject", _ew(f"回复：{SUBJECT_12}", "gb2312")),
                *_thread_headers(),
                ("X-Mailer", "Foxmail 7.2.25.228[cn]"),
                ("Mime-Version", "1.0"),
                ("Message-ID", "<202611201102222218734@rmyy.example.cn>"),
                ("Content-Type", f'multipart/alternative;\r\n\tboundary="{boundary}"'),
            ],
            body,
        ),
        R_FOX,
        "<wangkun@rmyy.example.cn>",
    )


R_QQ = _at(20, 11, 15, 2)


@_case(
    "qq_reply_no_thread_headers",
    subject=f"回复：{SUBJECT_12}",
    from_addr="wangkun.rad@qq.com",
    from_name="王堃",
    message_id="<tencent_3A7F2C9E1B0D4E5F6A7B8C9D0E1F2A3B4C05@qq.com>",
    received=R_QQ,
    date=R_QQ - timedelta(seconds=3),
    ticket_number=12,
    text="今天下午又蓝屏两次，麻烦派工程师来看一下。",
    text_lacks=("原始邮件", OUR_REPLY_TEXT),
)
def qq_reply_no_thread_headers() -> bytes:
    """QQ Mail web reply from a personal address: gb18030 labels, the separator written with a
    literal ``&nbsp;`` even in the text part, and no In-Reply-To/References (the reference's
    warning that QQ replies may not thread by headers; the subject tag is the fallback)."""
    sep = "------------------&nbsp;原始邮件&nbsp;------------------"
    plain = "今天下午又蓝屏两次，麻烦派工程师来看一下。\n\n" + _quoted_foxmail(sep)
    html = (
        '<meta http-equiv="Content-Type" content="text/html; charset=GB18030">'
        "<div>今天下午又蓝屏两次，麻烦派工程师来看一下。</div><div><br></div>"
        f'<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">{sep}</div>'
        f'<div style="font-size: 12px;background:#efefef;padding:8px;">{_quoted_html_zh_headers()}</div>'
    )
    boundary = "----=_NextPart_6562B8F3_0A4C9D70_2E5B1C88"
    body = _multipart(
        boundary,
        [
            _part(
                [
                    ("Content-Type", 'text/plain;\r\n\tcharset="gb18030"'),
                    ("Content-Transfer-Encoding", "base64"),
                ],
                _b64(_crlf(plain, "gb18030")),
            ),
            _part(
                [
                    ("Content-Type", 'text/html;\r\n\tcharset="gb18030"'),
                    ("Content-Transfer-Encoding", "base64"),
                ],
                _b64(_crlf(html, "gb18030")),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", f'"{_ew("王堃", "gb18030")}" <wangkun.rad@qq.com>'),
                ("To", f'"{_ew("维保服务台", "gb18030")}" <{OUR_ADDRESS}>'),
                ("Subject", _ew(f"回复：{SUBJECT_12}", "gb18030")),
                ("Mime-Version", "1.0"),
                ("Content-Type", f'multipart/alternative;\r\n\tboundary="{boundary}"'),
                ("Content-Transfer-Encoding", "8Bit"),
                ("Date", _date(R_QQ - timedelta(seconds=3))),
                ("X-Priority", "3"),
                ("Message-ID", "<tencent_3A7F2C9E1B0D4E5F6A7B8C9D0E1F2A3B4C05@qq.com>"),
                ("X-QQ-MIME", "TCMime 1.0 by Tencent"),
                ("X-Mailer", "QQMail 2.x"),
                ("X-QQ-Mailer", "QQMail 2.x"),
            ],
            body,
        ),
        R_QQ,
        "<wangkun.rad@qq.com>",
        via="smtpbg.qq.com",
    )


R_QQH = _at(20, 11, 40, 9)


@_case(
    "qq_html_only_reply",
    subject=f"回复：{SUBJECT_12}",
    from_addr="wangkun.rad@qq.com",
    message_id="<tencent_9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A06@qq.com>",
    received=R_QQH,
    date=R_QQH - timedelta(seconds=2),
    in_reply_to=OUR_REPLY,
    references=(OUR_REPLY,),
    ticket_number=12,
    text="好的，下午两点放射科见。",
    text_lacks=("原始邮件", OUR_REPLY_TEXT),
    full_text_has=(OUR_REPLY_TEXT,),
)
def qq_html_only_reply() -> bytes:
    """QQ Mail from the phone app: HTML only, the ``&nbsp;原始邮件&nbsp;`` separator in a div."""
    html = (
        '<meta http-equiv="Content-Type" content="text/html; charset=GB18030">'
        "<div>好的，下午两点放射科见。</div><div><br></div><div><br></div>"
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div>"
        f'<div style="font-size: 12px;background:#efefef;padding:8px;">{_quoted_html_zh_headers()}</div>'
    )
    return _deliver(
        _mail(
            [
                ("From", f'"{_ew("王堃", "gb18030")}" <wangkun.rad@qq.com>'),
                ("To", OUR_ADDRESS),
                ("Subject", _ew(f"回复：{SUBJECT_12}", "gb18030")),
                ("Mime-Version", "1.0"),
                ("Content-Type", 'text/html;\r\n\tcharset="gb18030"'),
                ("Content-Transfer-Encoding", "base64"),
                ("Date", _date(R_QQH - timedelta(seconds=2))),
                ("Message-ID", "<tencent_9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A06@qq.com>"),
                ("In-Reply-To", OUR_REPLY),
                ("References", OUR_REPLY),
            ],
            _b64(_crlf(html, "gb18030")),
        ),
        R_QQH,
        "<wangkun.rad@qq.com>",
        via="smtpbg.qq.com",
    )


R_163 = _at(20, 13, 5, 0)
_NETEASE_WROTE = '在 2026-11-20 10:15:00，"维保服务台" <helpdesk@weibao.example> 写道：'


@_case(
    "netease_reply",
    subject=f"Re:{SUBJECT_12}",
    from_addr="rmyy_fangshe@163.com",
    message_id="<5e2c1a0b.3f41.18f6a2b7c3d.Coremail.rmyy_fangshe@163.com>",
    received=R_163,
    date=R_163 - timedelta(seconds=4),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="打印机换了硒鼓以后正常了，电脑也没再蓝屏，可以关单。",
    text_lacks=("写道", OUR_REPLY_TEXT),
)
def netease_reply() -> bytes:
    """网易 163 mail (Coremail): GBK text and HTML; ``在 … 写道：`` then the quote, un-prefixed in
    text and in ``blockquote#isReplyContent`` in HTML."""
    plain = (
        "打印机换了硒鼓以后正常了，电脑也没再蓝屏，可以关单。\n\n\n\n\n\n\n\n\n\n"
        f"{_NETEASE_WROTE}\n{OUR_REPLY_TEXT}\n维保服务台 工程师 陈静\n"
    )
    html = (
        '<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">'
        "<div>打印机换了硒鼓以后正常了，电脑也没再蓝屏，可以关单。</div><br><br>"
        '<div style="position:relative;zoom:1"></div><div id="divNeteaseMailCard"></div><br>'
        '<pre><br>在 2026-11-20 10:15:00，"维保服务台" &lt;helpdesk@weibao.example&gt; 写道：<br></pre>'
        '<blockquote id="isReplyContent" style="PADDING-LEFT: 1ex; MARGIN: 0px 0px 0px 0.8ex; '
        f'BORDER-LEFT: #ccc 1px solid"><pre>{OUR_REPLY_TEXT}</pre></blockquote></div>'
    )
    boundary = "----=_Part_123456_789012345.1763614500000"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", "text/plain; charset=GBK"), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf(plain, "gbk")),
            ),
            _part(
                [("Content-Type", "text/html; charset=GBK"), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf(html, "gbk")),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("Date", _date(R_163 - timedelta(seconds=4))),
                ("From", "rmyy_fangshe <rmyy_fangshe@163.com>"),
                ("To", f'"{_ew("维保服务台", "GBK")}" <{OUR_ADDRESS}>'),
                ("Subject", _ew(f"Re:{SUBJECT_12}", "GBK")),
                *_thread_headers(),
                ("X-Priority", "3"),
                ("X-Mailer", "Coremail Webmail Server Version XT5.0.14 build 20230109(dcb5de15)"),
                ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
                ("MIME-Version", "1.0"),
                ("Message-ID", "<5e2c1a0b.3f41.18f6a2b7c3d.Coremail.rmyy_fangshe@163.com>"),
            ],
            body,
        ),
        R_163,
        "<rmyy_fangshe@163.com>",
        via="m16.mail.163.com",
    )


R_126 = _at(20, 13, 30, 0)


@_case(
    "netease_html_only_reply",
    subject=f"Re:{SUBJECT_12}",
    from_addr="ct_room@126.com",
    message_id="<7a1b2c3d.4e5f.18f6a2b7c3e.Coremail.ct_room@126.com>",
    received=R_126,
    date=R_126 - timedelta(seconds=2),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="收到，明天上午CT室等你们。",
    text_lacks=("写道", OUR_REPLY_TEXT),
    full_text_has=(OUR_REPLY_TEXT,),
)
def netease_html_only_reply() -> bytes:
    """网易 126 from its phone app: HTML only, UTF-8."""
    html = (
        '<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">'
        '<p style="margin: 0;">收到，明天上午CT室等你们。</p></div><br>'
        f"<div>{_NETEASE_WROTE.replace('<', '&lt;').replace('>', '&gt;')}</div>"
        f'<blockquote id="isReplyContent" style="PADDING-LEFT: 1ex"><div>{OUR_REPLY_TEXT}</div></blockquote>'
    )
    return _deliver(
        _mail(
            [
                ("Date", _date(R_126 - timedelta(seconds=2))),
                ("From", "ct_room <ct_room@126.com>"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew(f"Re:{SUBJECT_12}")),
                *_thread_headers(),
                ("Content-Type", "text/html; charset=UTF-8"),
                ("Content-Transfer-Encoding", "base64"),
                ("MIME-Version", "1.0"),
                ("Message-ID", "<7a1b2c3d.4e5f.18f6a2b7c3e.Coremail.ct_room@126.com>"),
            ],
            _b64(_crlf(html)),
        ),
        R_126,
        "<ct_room@126.com>",
        via="m15.mail.126.com",
    )


R_OLZ = _at(20, 14, 0, 0)


@_case(
    "outlook_zh_plain_reply",
    subject=f"答复: {SUBJECT_12}",
    from_addr="xinxike@rmyy.example.cn",
    from_name="信息科 张伟",
    message_id="<HK0PR06MB2466F1E2D3C4B5A6978877665544@HK0PR06MB2466.apcprd06.prod.outlook.com>",
    received=R_OLZ,
    date=R_OLZ - timedelta(seconds=11),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="收到，谢谢！信息科会配合你们今天下午去CT室。\n\n张伟\n信息科",
    text_lacks=("原始邮件", "发送时间", OUR_REPLY_TEXT),
)
def outlook_zh_plain_reply() -> bytes:
    """Outlook (Chinese UI) plain-text reply: ``-----原始邮件-----`` and 发件人/发送时间 lines."""
    plain = (
        "收到，谢谢！信息科会配合你们今天下午去CT室。\n\n张伟\n信息科\n\n"
        "-----原始邮件-----\n"
        "发件人: 维保服务台 [mailto:helpdesk@weibao.example] \n"
        "发送时间: 2026年11月20日 10:15\n"
        "收件人: 王堃 <wangkun@rmyy.example.cn>\n"
        "抄送: 信息科 张伟 <xinxike@rmyy.example.cn>\n"
        f"主题: {SUBJECT_12}\n\n{OUR_REPLY_TEXT}\n"
    )
    return _deliver(
        _mail(
            [
                ("From", f"{_ew('信息科 张伟', 'gb2312')} <xinxike@rmyy.example.cn>"),
                ("To", f"{_ew('维保服务台', 'gb2312')} <{OUR_ADDRESS}>"),
                ("Subject", _ew(f"答复: {SUBJECT_12}", "gb2312")),
                ("Thread-Topic", _ew(SUBJECT_12, "gb2312")),
                ("Thread-Index", "AQHbWxyzAbCdEfGhIjKlMnOpQrStUvWxYz=="),
                ("Date", _date(R_OLZ - timedelta(seconds=11))),
                (
                    "Message-ID",
                    "<HK0PR06MB2466F1E2D3C4B5A6978877665544@HK0PR06MB2466.apcprd06.prod.outlook.com>",
                ),
                *_thread_headers(),
                ("Accept-Language", "zh-CN, en-US"),
                ("Content-Language", "zh-CN"),
                ("Content-Type", 'text/plain; charset="gb2312"'),
                ("Content-Transfer-Encoding", "base64"),
                ("MIME-Version", "1.0"),
            ],
            _b64(_crlf(plain, "gbk")),
        ),
        R_OLZ,
        "<xinxike@rmyy.example.cn>",
    )


R_OLH = _at(20, 14, 20, 0)
_WORD_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40">'
    '<head><meta http-equiv=Content-Type content="text/html; charset=gb2312">'
    '<meta name=Generator content="Microsoft Word 15 (filtered medium)">'
    "<style><!--\n/* Font Definitions */\n@font-face {font-family:等线;}\n"
    "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm;font-size:10.5pt;font-family:等线;}\n--></style>"
    '<!--[if gte mso 9]><xml>\n<o:shapedefaults v:ext="edit" spidmax="1026" />\n</xml><![endif]-->'
    '</head><body lang=ZH-CN link="#0563C1" vlink="#954F72" style=\'text-justify-trim:punctuation\'>'
    "<div class=WordSection1>"
)


@_case(
    "outlook_html_reply_zh",
    subject=f"答复: {SUBJECT_12}",
    from_addr="sbk@rmyy.example.cn",
    from_name="设备科",
    message_id="<000001db5b1c$2a3b4c5d$7e8f9a0b$@rmyy.example.cn>",
    received=R_OLH,
    date=R_OLH - timedelta(seconds=7),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="陈工：\n设备科同意更换CT室操作台主机，请走维保备件流程。\n\n设备科 刘洋",
    text_lacks=("发件人", "发送时间", OUR_REPLY_TEXT, "font-family", "shapedefaults"),
)
def outlook_html_reply_zh() -> bytes:
    """A hospital's Outlook sends HTML only: Word markup, ``<o:p>``, a style sheet, conditional
    comments, and the bolded 发件人/发送时间 block (colons in their own spans)."""
    html = (
        _WORD_HEAD + "<p class=MsoNormal>陈工：<span lang=EN-US><o:p></o:p></span></p>"
        "<p class=MsoNormal>设备科同意更换<span lang=EN-US>CT</span>室操作台主机，请走维保备件流程。"
        "<span lang=EN-US><o:p></o:p></span></p>"
        "<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>"
        "<p class=MsoNormal>设备科 刘洋<span lang=EN-US><o:p></o:p></span></p>"
        "<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>"
        "<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
        "<p class=MsoNormal><b>发件人<span lang=EN-US>:</span></b><span lang=EN-US> "
        "维保服务台 &lt;helpdesk@weibao.example&gt; <br></span><b>发送时间<span lang=EN-US>:</span></b>"
        "<span lang=EN-US> 2026</span>年<span lang=EN-US>11</span>月<span lang=EN-US>20</span>日"
        "<span lang=EN-US> 10:15<br></span><b>收件人<span lang=EN-US>:</span></b><span lang=EN-US> "
        "王堃 &lt;wangkun@rmyy.example.cn&gt;<br></span><b>主题<span lang=EN-US>:</span></b>"
        f"<span lang=EN-US> {SUBJECT_12}<o:p></o:p></span></p></div></div>"
        f"<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p><p class=MsoNormal>{OUR_REPLY_TEXT}"
        "<o:p></o:p></p></div></body></html>"
    )
    return _deliver(
        _mail(
            [
                ("From", f'"{_ew("设备科", "gb2312")}" <sbk@rmyy.example.cn>'),
                ("To", OUR_ADDRESS),
                ("References", " ".join(THREAD_12)),
                ("In-Reply-To", OUR_REPLY),
                ("Subject", _ew(f"答复: {SUBJECT_12}", "gb2312")),
                ("Date", _date(R_OLH - timedelta(seconds=7))),
                ("Message-ID", "<000001db5b1c$2a3b4c5d$7e8f9a0b$@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", 'text/html;\r\n\tcharset="gb2312"'),
                ("Content-Transfer-Encoding", "quoted-printable"),
                ("X-Mailer", "Microsoft Outlook 16.0"),
                ("Content-Language", "zh-cn"),
            ],
            _qp(_crlf(html, "gbk")),
        ),
        R_OLH,
        "<sbk@rmyy.example.cn>",
    )


R_OLE = _at(20, 14, 35, 0)


@_case(
    "outlook_html_reply_en",
    subject=f"RE: {SUBJECT_12}",
    from_addr="michael.zhou@rmyy.example.cn",
    from_name="Zhou, Michael",
    message_id="<SG2PR06MB5310A1B2C3D4E5F6A7B8C9D0E1F2@SG2PR06MB5310.apcprd06.prod.outlook.com>",
    received=R_OLE,
    date=R_OLE - timedelta(seconds=5),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="Hi Chen,\nThe CT console is back online after the BIOS change. Please close the ticket.\nMichael",
    text_lacks=("From:", "Sent:", OUR_REPLY_TEXT),
)
def outlook_html_reply_en() -> bytes:
    """Outlook on the web (English UI), HTML only: ``<hr>`` in ``div#divRplyFwdMsg`` then
    bolded From:/Sent:/To:/Subject: lines."""
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>'
        '<body dir="ltr"><div style="font-family: Calibri, Arial; font-size: 12pt;">Hi Chen,</div>'
        '<div style="font-family: Calibri, Arial; font-size: 12pt;">The CT console is back online after the '
        "BIOS change. Please close the ticket.</div><div>Michael</div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt">'
        "<b>From:</b> 维保服务台 &lt;helpdesk@weibao.example&gt;<br><b>Sent:</b> Friday, November 20, 2026 "
        f"10:15<br><b>To:</b> Zhou, Michael<br><b>Subject:</b> {SUBJECT_12}</font><div>&nbsp;</div></div>"
        f"<div>{OUR_REPLY_TEXT}</div></body></html>"
    )
    return _deliver(
        _mail(
            [
                ("From", '"Zhou, Michael" <Michael.Zhou@rmyy.example.cn>'),
                ("To", f"{_ew('维保服务台')} <{OUR_ADDRESS}>"),
                ("Subject", f"RE: {_ew(SUBJECT_12)}"),
                ("Thread-Topic", _ew(SUBJECT_12)),
                ("Date", _date(R_OLE - timedelta(seconds=5))),
                (
                    "Message-ID",
                    "<SG2PR06MB5310A1B2C3D4E5F6A7B8C9D0E1F2@SG2PR06MB5310.apcprd06.prod.outlook.com>",
                ),
                *_thread_headers(),
                ("Content-Type", 'text/html; charset="utf-8"'),
                ("Content-Transfer-Encoding", "base64"),
                ("MIME-Version", "1.0"),
            ],
            _b64(_crlf(html)),
        ),
        R_OLE,
        "<Michael.Zhou@rmyy.example.cn>",
        via="mail-sg2apc01on2100.outbound.protection.outlook.com",
    )


R_OLR = _at(20, 9, 55, 0)


@_case(
    "outlook_html_report",
    subject="病案室扫描仪驱动安装失败",
    from_addr="bingan@rmyy.example.cn",
    from_name="病案室",
    message_id="<001a01db5b0d$aa11bb22$cc33dd44$@rmyy.example.cn>",
    received=R_OLR,
    date=R_OLR - timedelta(seconds=3),
    text="您好：\n病案室新到的扫描仪驱动安装到一半报错“错误1603”。\n\n病案室 周敏 分机8123",
    text_lacks=("font-family", "MsoNormal", "shapedefaults"),
)
def outlook_html_report() -> bytes:
    """A first report from the hospital's Outlook: HTML only, no MIME charset at all (only the
    ``<meta>`` says gb2312), Word markup to be dropped."""
    html = (
        _WORD_HEAD + "<p class=MsoNormal>您好：<span lang=EN-US><o:p></o:p></span></p>"
        "<p class=MsoNormal>病案室新到的扫描仪驱动安装到一半报错“错误<span lang=EN-US>1603</span>”。"
        "<span lang=EN-US><o:p></o:p></span></p>"
        "<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>"
        "<p class=MsoNormal>病案室 周敏 分机<span lang=EN-US>8123<o:p></o:p></span></p></div></body></html>"
    )
    return _deliver(
        _mail(
            [
                ("From", f"{_ew('病案室', 'gb2312')} <bingan@rmyy.example.cn>"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("病案室扫描仪驱动安装失败", "gb2312")),
                ("Date", _date(R_OLR - timedelta(seconds=3))),
                ("Message-ID", "<001a01db5b0d$aa11bb22$cc33dd44$@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", "text/html"),
                ("Content-Transfer-Encoding", "8bit"),
            ],
            _crlf(html, "gbk"),
        ),
        R_OLR,
        "<bingan@rmyy.example.cn>",
    )


R_ORIG = _at(20, 15, 0, 0)


@_case(
    "original_message_reply",
    subject=f"RE: {SUBJECT_12}",
    from_addr="it@rmyy.example.cn",
    message_id="<B7C8D9E0F1A2@rmyy.example.cn>",
    received=R_ORIG,
    date=R_ORIG - timedelta(seconds=2),
    in_reply_to=OUR_REPLY,
    references=(OUR_REPLY,),
    ticket_number=12,
    text="Please close it, the workstation was replaced.\n\nIT dept.",
    text_lacks=("Original Message", OUR_REPLY_TEXT),
)
def original_message_reply() -> bytes:
    """An older Outlook / Lotus style plain reply with ``-----Original Message-----``."""
    plain = (
        "Please close it, the workstation was replaced.\n\nIT dept.\n\n"
        "-----Original Message-----\nFrom: helpdesk@weibao.example\n"
        "Sent: Friday, November 20, 2026 10:15 AM\n"
        f"To: it@rmyy.example.cn\nSubject: {SUBJECT_12}\n\n{OUR_REPLY_TEXT}\n"
    )
    return _deliver(
        _mail(
            [
                ("From", "it@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", f"RE: {_ew(SUBJECT_12)}"),
                ("Date", _date(R_ORIG - timedelta(seconds=2))),
                ("Message-ID", "<B7C8D9E0F1A2@rmyy.example.cn>"),
                ("In-Reply-To", OUR_REPLY),
                ("References", OUR_REPLY),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Transfer-Encoding", "8bit"),
            ],
            _crlf(plain),
        ),
        R_ORIG,
        "<it@rmyy.example.cn>",
    )


R_TB = _at(20, 15, 10, 0)


@_case(
    "interleaved_gt_reply",
    subject=f"Re: {SUBJECT_12}",
    from_addr="wangkun@rmyy.example.cn",
    message_id="<c0ffee12-3456-7890-abcd-ef0123456789@rmyy.example.cn>",
    received=R_TB,
    date=R_TB - timedelta(seconds=6),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="3号诊室那台，主机贴着“CT-02”。\n\n截图在附件里。",
    text_lacks=("请问是哪台电脑", "wrote"),
    attachments=("蓝屏截图.png",),
)
def interleaved_gt_reply() -> bytes:
    """Thunderbird, answers interleaved between ``>`` quoted lines, a screenshot attached."""
    msg = EmailMessage()
    msg["From"] = "王堃 <wangkun@rmyy.example.cn>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = f"Re: {SUBJECT_12}"
    msg["Date"] = _date(R_TB - timedelta(seconds=6))
    msg["Message-ID"] = "<c0ffee12-3456-7890-abcd-ef0123456789@rmyy.example.cn>"
    msg["In-Reply-To"] = OUR_REPLY
    msg["References"] = " ".join(THREAD_12)
    msg.set_content(
        "On 2026/11/20 10:15, 维保服务台 wrote:\n> 请问是哪台电脑？\n\n3号诊室那台，主机贴着“CT-02”。\n\n"
        "> 报错截图能发一下吗？\n\n截图在附件里。\n"
    )
    msg.add_attachment(_png(), maintype="image", subtype="png", filename="蓝屏截图.png")
    return _deliver(_email_bytes(msg), R_TB, "<wangkun@rmyy.example.cn>")


R_GM = _at(20, 15, 20, 0)


@_case(
    "gmail_zh_reply",
    subject=f"Re: {SUBJECT_12}",
    from_addr="ct.rmyy@gmail.com",
    message_id="<CAF7b1dE2x9QWERTYuiop1234567890abcdefGHIJ@mail.gmail.com>",
    received=R_GM,
    date=R_GM - timedelta(seconds=1),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    ticket_number=12,
    text="已经恢复了，谢谢。",
    text_lacks=("写道", OUR_REPLY_TEXT),
)
def gmail_zh_reply() -> bytes:
    """Gmail in Chinese: ``张三 <a@b> 于2026年11月20日周五 10:15写道：`` then ``>`` lines; HTML in
    ``div.gmail_quote``."""
    msg = EmailMessage()
    msg["From"] = "CT室 <ct.rmyy@gmail.com>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = f"Re: {SUBJECT_12}"
    msg["Date"] = _date(R_GM - timedelta(seconds=1))
    msg["Message-ID"] = "<CAF7b1dE2x9QWERTYuiop1234567890abcdefGHIJ@mail.gmail.com>"
    msg["In-Reply-To"] = OUR_REPLY
    msg["References"] = " ".join(THREAD_12)
    msg.set_content(
        f"已经恢复了，谢谢。\n\n维保服务台 <{OUR_ADDRESS}> 于2026年11月20日周五 10:15写道：\n\n"
        f"> {OUR_REPLY_TEXT}\n> 维保服务台 工程师 陈静\n"
    )
    msg.add_alternative(
        '<div dir="ltr">已经恢复了，谢谢。</div><br><div class="gmail_quote"><div dir="ltr" '
        f'class="gmail_attr">维保服务台 &lt;{OUR_ADDRESS}&gt; 于2026年11月20日周五 10:15写道：<br></div>'
        f'<blockquote class="gmail_quote">{OUR_REPLY_TEXT}</blockquote></div>',
        subtype="html",
    )
    return _deliver(_email_bytes(msg), R_GM, "<ct.rmyy@gmail.com>", via="mail-pl1-f170.google.com")


R_139 = _at(20, 15, 30, 0)


@_case(
    "mail139_fullwidth_tag",
    subject="回复：［＃ １２ ］CT室电脑蓝屏",
    from_addr="13800000000@139.com",
    message_id="<2ee6654e1c2b3a4d5e6f@139.com>",
    received=R_139,
    date=R_139 - timedelta(seconds=3),
    ticket_number=12,
    text="师傅明天几点到？",
    text_lacks=(OUR_REPLY_TEXT,),
)
def mail139_fullwidth_tag() -> bytes:
    """139 mail: HTML only, ``hr#replySplit`` and ``div#reply139content``; the phone keyboard
    wrote the subject tag full-width (``［＃ １２ ］``); no thread headers."""
    html = (
        '<div style="font-family:微软雅黑">师傅明天几点到？</div><div><br></div>'
        '<hr id="replySplit"/><div id="reply139content">'
        "<div><b>发件人：</b>维保服务台</div><div><b>时间：</b>2026-11-20 10:15</div>"
        f"<div>{OUR_REPLY_TEXT}</div></div>"
    )
    return _deliver(
        _mail(
            [
                ("From", "13800000000@139.com"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("回复：［＃ １２ ］CT室电脑蓝屏")),
                ("Date", _date(R_139 - timedelta(seconds=3))),
                ("Message-ID", "<2ee6654e1c2b3a4d5e6f@139.com>"),
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf(html)),
        ),
        R_139,
        "<13800000000@139.com>",
    )


R_FWD = _at(20, 16, 0, 0)


@_case(
    "forwarded_foxmail",
    subject="转发：ICU监护仪中心站报警",
    from_addr="icu@rmyy.example.cn",
    message_id="<202611201559300157777@rmyy.example.cn>",
    received=R_FWD,
    date=R_FWD - timedelta(seconds=4),
    text_has=("请帮忙看一下", "报警代码 E-203", "原始邮件"),
)
def forwarded_foxmail() -> bytes:
    """A nurse forwards the monitoring system's alarm mail: the forwarded part IS the report,
    so it must not be cut as history although it uses the same ``原始邮件`` separator."""
    plain = (
        "请帮忙看一下，下面是中心站发的报警。\n\n"
        "------------------ 原始邮件 ------------------\n"
        '发件人: "ICU中心站"<monitor@rmyy.example.cn>;\n发送时间: 2026年11月20日(星期五) 下午3:40\n'
        '收件人: "ICU"<icu@rmyy.example.cn>;\n主题: 中心站报警\n\n'
        "床位 12 监护仪离线，报警代码 E-203。\n"
    )
    return _deliver(
        _mail(
            [
                ("From", '"ICU" <icu@rmyy.example.cn>'),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("转发：ICU监护仪中心站报警", "gb2312")),
                ("Date", _date(R_FWD - timedelta(seconds=4))),
                ("Message-ID", "<202611201559300157777@rmyy.example.cn>"),
                ("X-Mailer", "Foxmail 7.2.25.228[cn]"),
                ("Content-Type", 'text/plain; charset="gb2312"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf(plain, "gbk")),
        ),
        R_FWD,
        "<icu@rmyy.example.cn>",
    )


R_ALT = _at(20, 16, 10, 0)


@_case(
    "multipart_alternative",
    subject="体检中心自助机黑屏",
    from_addr="tijian@rmyy.example.cn",
    message_id="<alt.20261120160955@rmyy.example.cn>",
    received=R_ALT,
    date=R_ALT - timedelta(seconds=5),
    text="体检中心一楼自助机黑屏（纯文本版本）。",
    text_lacks=("HTML版本",),
)
def multipart_alternative() -> bytes:
    """text/plain and text/html alternatives: the text/plain one is the body."""
    msg = EmailMessage()
    msg["From"] = "体检中心 <tijian@rmyy.example.cn>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = "体检中心自助机黑屏"
    msg["Date"] = _date(R_ALT - timedelta(seconds=5))
    msg["Message-ID"] = "<alt.20261120160955@rmyy.example.cn>"
    msg.set_content("体检中心一楼自助机黑屏（纯文本版本）。\n")
    msg.add_alternative("<p>体检中心一楼自助机黑屏（<b>HTML版本</b>）。</p>", subtype="html")
    return _deliver(_email_bytes(msg), R_ALT, "<tijian@rmyy.example.cn>")


# --------------------------------------------------------------------------- attachments


def _png() -> bytes:
    """A real (1×1) PNG, so the bytes are what a screenshot's would be."""
    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )


R_2231 = _at(20, 16, 30, 0)
DOCX_BYTES = b"PK\x03\x04" + bytes(range(256)) * 4
XLS_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@_case(
    "attachments_rfc2231",
    subject="设备故障报告单",
    from_addr="wangkun@rmyy.example.cn",
    message_id="<2231.20261120162958@rmyy.example.cn>",
    received=R_2231,
    date=R_2231 - timedelta(seconds=2),
    text_has=("报告单和截图见附件",),
    attachments=("检验科LIS报错截图.png", "王堃_设备故障报告单（CT室）.docx"),
)
def attachments_rfc2231() -> bytes:
    """Chinese file names in RFC 2231 form: a UTF-8 one, and a gb2312-labelled GBK one split into
    ``filename*0*``/``filename*1*`` continuations."""
    gbk = "王堃_设备故障报告单（CT室）.docx".encode("gbk")
    pct = "".join(f"%{b:02X}" for b in gbk)
    first, second = pct[:30], pct[30:]
    utf8 = "".join(f"%{b:02X}" for b in "检验科LIS报错截图.png".encode())
    boundary = "b1_2231_c0ffee"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")],
                _crlf("报告单和截图见附件。\n"),
            ),
            _part(
                [
                    ("Content-Type", "image/png"),
                    ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", f"attachment;\r\n filename*=utf-8''{utf8}"),
                ],
                _b64(_png()),
            ),
            _part(
                [
                    (
                        "Content-Type",
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    ),
                    ("Content-Transfer-Encoding", "base64"),
                    (
                        "Content-Disposition",
                        f"attachment;\r\n filename*0*=gb2312''{first};\r\n filename*1*={second}",
                    ),
                ],
                _b64(DOCX_BYTES),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", "wangkun@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("设备故障报告单")),
                ("Date", _date(R_2231 - timedelta(seconds=2))),
                ("Message-ID", "<2231.20261120162958@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
            ],
            body,
        ),
        R_2231,
        "<wangkun@rmyy.example.cn>",
    )


R_EWA = _at(20, 16, 40, 0)


@_case(
    "attachments_encoded_word_and_8bit",
    subject="11月设备巡检表",
    from_addr="sbk@rmyy.example.cn",
    message_id="<ewa.20261120164000@rmyy.example.cn>",
    received=R_EWA,
    date=R_EWA - timedelta(seconds=3),
    text_has=("巡检表",),
    attachments=("11月设备巡检表（堃）.xls", "心电图.pdf"),
)
def attachments_encoded_word_and_8bit() -> bytes:
    """File names as encoded words inside quotes (Outlook and Foxmail do this, against RFC 2231)
    holding GBK under a gb2312 label, and as raw 8-bit UTF-8 (some webmail)."""
    encoded = _ew("11月设备巡检表（堃）.xls", "gb2312")
    boundary = "----=_NextPart_000_0012_01DB5B1C.2A3B4C50"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", 'text/plain; charset="gb2312"'), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf("附件是11月设备巡检表，请查收。\n", "gbk")),
            ),
            _part(
                [
                    ("Content-Type", f'application/vnd.ms-excel;\r\n\tname="{encoded}"'),
                    ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", f'attachment;\r\n\tfilename="{encoded}"'),
                ],
                _b64(XLS_BYTES),
            ),
            _part(
                [
                    ("Content-Type", b'application/pdf; name="\xe5\xbf\x83\xe7\x94\xb5\xe5\x9b\xbe.pdf"'),
                    ("Content-Transfer-Encoding", "base64"),
                    (
                        "Content-Disposition",
                        b'attachment; filename="\xe5\xbf\x83\xe7\x94\xb5\xe5\x9b\xbe.pdf"',
                    ),
                ],
                _b64(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", f"{_ew('设备科', 'gb2312')} <sbk@rmyy.example.cn>"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("11月设备巡检表", "gb2312")),
                ("Date", _date(R_EWA - timedelta(seconds=3))),
                ("Message-ID", "<ewa.20261120164000@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/mixed;\r\n\tboundary="{boundary}"'),
            ],
            body,
        ),
        R_EWA,
        "<sbk@rmyy.example.cn>",
    )


R_BIG = _at(20, 17, 0, 0)


@functools.cache
def big_attachment_bytes() -> bytes:
    """20 MiB of deterministic incompressible bytes, generated at test time (never stored)."""
    return random.Random(20261120).randbytes(BIG_ATTACHMENT_SIZE)


@_case(
    "attachment_20mb",
    subject="CT影像导出（20MB）",
    from_addr="ct.rmyy@gmail.com",
    message_id="<big.20261120165955@mail.gmail.com>",
    received=R_BIG,
    date=R_BIG - timedelta(seconds=40),
    text_has=("影像导出包",),
    attachments=("CT影像导出_20261120.zip",),
    big=True,
)
def attachment_20mb() -> bytes:
    """A 20 MiB zip of exported CT images."""
    msg = EmailMessage()
    msg["From"] = "CT室 <ct.rmyy@gmail.com>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = "CT影像导出（20MB）"
    msg["Date"] = _date(R_BIG - timedelta(seconds=40))
    msg["Message-ID"] = "<big.20261120165955@mail.gmail.com>"
    msg.set_content("影像导出包在附件里，工作站导出时报错的那一批。\n")
    msg.add_attachment(
        big_attachment_bytes(), maintype="application", subtype="zip", filename="CT影像导出_20261120.zip"
    )
    return _deliver(_email_bytes(msg), R_BIG, "<ct.rmyy@gmail.com>", via="mail-pl1-f170.google.com")


R_INL = _at(20, 17, 10, 0)
INLINE_CID = "<image001.png@01DB5B1C.2A3B4C50>"


@_case(
    "inline_images_outlook",
    subject="HIS登录报错截图",
    from_addr="menzhen@rmyy.example.cn",
    message_id="<inl.20261120171000@rmyy.example.cn>",
    received=R_INL,
    date=R_INL - timedelta(seconds=6),
    text="门诊医生站登录HIS报错如下：\n[图片]\n请尽快处理。",
    attachments=("image001.png", "故障照片.jpg"),
)
def inline_images_outlook() -> bytes:
    """HTML with a pasted screenshot (multipart/related, ``cid:``) and a photo attached."""
    msg = EmailMessage()
    msg["From"] = "门诊部 <menzhen@rmyy.example.cn>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = "HIS登录报错截图"
    msg["Date"] = _date(R_INL - timedelta(seconds=6))
    msg["Message-ID"] = "<inl.20261120171000@rmyy.example.cn>"
    msg.set_content(
        "<html><body><p class=MsoNormal>门诊医生站登录HIS报错如下：</p>"
        f'<p class=MsoNormal><img width=640 height=360 src="cid:{INLINE_CID[1:-1]}"></p>'
        "<p class=MsoNormal>请尽快处理。</p></body></html>",
        subtype="html",
    )
    msg.add_related(
        _png(), maintype="image", subtype="png", cid=INLINE_CID, filename="image001.png", disposition="inline"
    )
    msg.add_attachment(
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200) + b"\xff\xd9",
        maintype="image",
        subtype="jpeg",
        filename="故障照片.jpg",
    )
    return _deliver(_email_bytes(msg), R_INL, "<menzhen@rmyy.example.cn>")


# --------------------------------------------------------------------------- automatic replies

R_AS = _at(20, 10, 15, 30)


def _simple(
    at: datetime,
    headers: list[tuple[str, str | bytes]],
    text: str,
    return_path: str,
    charset: str = "utf-8",
) -> bytes:
    return _deliver(
        _mail(
            [
                *headers,
                ("MIME-Version", "1.0"),
                ("Content-Type", f"text/plain; charset={charset}"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            _b64(_crlf(text, _codec(charset))),
        ),
        at,
        return_path,
    )


@_case(
    "auto_reply_rfc3834",
    noise="auto_reply",
    subject=f"自动回复：{SUBJECT_12}",
    from_addr="wangkun@rmyy.example.cn",
    message_id="<auto.3834.20261120101530@rmyy.example.cn>",
    received=R_AS,
    date=R_AS,
    in_reply_to=OUR_REPLY,
    references=(OUR_REPLY,),
    ticket_number=12,
    text_has=("休假",),
)
def auto_reply_rfc3834() -> bytes:
    """A corporate mail server's vacation reply done right: ``Auto-Submitted: auto-replied``."""
    return _simple(
        R_AS,
        [
            ("From", f"{_ew('王堃')} <wangkun@rmyy.example.cn>"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew(f"自动回复：{SUBJECT_12}")),
            ("Date", _date(R_AS)),
            ("Message-ID", "<auto.3834.20261120101530@rmyy.example.cn>"),
            ("In-Reply-To", OUR_REPLY),
            ("References", OUR_REPLY),
            ("Auto-Submitted", "auto-replied"),
        ],
        "您好，我正在休假，11月27日返回，急事请联系科室电话。\n",
        "<>",
    )


R_QQV = _at(20, 10, 15, 40)


@_case(
    "qq_vacation_body_only",
    noise="auto_reply",
    subject=f"Re:{SUBJECT_12}",
    from_addr="wangkun.rad@qq.com",
    message_id="<tencent_0A1B2C3D4E5F60718293A4B5C6D7E8F90A07@qq.com>",
    received=R_QQV,
    date=R_QQV - timedelta(seconds=1),
    ticket_number=12,
    text_has=("这是来自QQ邮箱的假期自动回复邮件",),
)
def qq_vacation_body_only() -> bytes:
    """QQ Mail's vacation reply: no RFC 3834 header at all, only the body's first line says so."""
    return _simple(
        R_QQV,
        [
            ("From", f'"{_ew("王堃", "gb18030")}" <wangkun.rad@qq.com>'),
            ("To", OUR_ADDRESS),
            ("Subject", _ew(f"Re:{SUBJECT_12}", "gb18030")),
            ("Date", _date(R_QQV - timedelta(seconds=1))),
            ("Message-ID", "<tencent_0A1B2C3D4E5F60718293A4B5C6D7E8F90A07@qq.com>"),
            ("X-QQ-MIME", "TCMime 1.0 by Tencent"),
        ],
        "这是来自QQ邮箱的假期自动回复邮件。\n \n"
        "您好，我最近正在休假中，无法亲自回复您的邮件。我将在假期结束后，尽快给您回复。\n",
        "<wangkun.rad@qq.com>",
        charset="gb18030",
    )


R_OOF = _at(20, 10, 16, 0)


@_case(
    "outlook_ooo_zh",
    noise="auto_reply",
    subject=f"自动答复: {SUBJECT_12}",
    from_addr="xinxike@rmyy.example.cn",
    message_id="<HK0PR06MB2466OOF0123456789ABCDEF@HK0PR06MB2466.apcprd06.prod.outlook.com>",
    received=R_OOF,
    date=R_OOF,
    in_reply_to=OUR_REPLY,
    references=(OUR_REPLY,),
    ticket_number=12,
    text_has=("外出培训",),
)
def outlook_ooo_zh() -> bytes:
    """Exchange/Outlook out-of-office in Chinese: ``自动答复:`` subject and
    ``X-Auto-Response-Suppress: All``; no Auto-Submitted."""
    return _simple(
        R_OOF,
        [
            ("From", f"{_ew('信息科 张伟', 'gb2312')} <xinxike@rmyy.example.cn>"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew(f"自动答复: {SUBJECT_12}", "gb2312")),
            ("Date", _date(R_OOF)),
            ("Message-ID", "<HK0PR06MB2466OOF0123456789ABCDEF@HK0PR06MB2466.apcprd06.prod.outlook.com>"),
            ("In-Reply-To", OUR_REPLY),
            ("References", OUR_REPLY),
            ("X-Auto-Response-Suppress", "All"),
            ("X-MS-Exchange-Inbox-Rules-Loop", "xinxike@rmyy.example.cn"),
            ("Thread-Topic", _ew(SUBJECT_12, "gb2312")),
        ],
        "我本周外出培训，11月27日回来。急事请找信息科值班电话。\n",
        "<xinxike@rmyy.example.cn>",
        charset="gb2312",
    )


R_OOO_EN = _at(20, 10, 16, 20)


@_case(
    "out_of_office_en",
    noise="auto_reply",
    subject="Out of Office: CT workstation",
    from_addr="michael.zhou@rmyy.example.cn",
    message_id="<ooo.en.20261120@rmyy.example.cn>",
    received=R_OOO_EN,
    date=R_OOO_EN,
    text_has=("away",),
)
def out_of_office_en() -> bytes:
    """An English ``Out of Office:`` reply with nothing but the subject to say so."""
    return _simple(
        R_OOO_EN,
        [
            ("From", "michael.zhou@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", "Out of Office: CT workstation"),
            ("Date", _date(R_OOO_EN)),
            ("Message-ID", "<ooo.en.20261120@rmyy.example.cn>"),
        ],
        "I am away until 27 November.\n",
        "<michael.zhou@rmyy.example.cn>",
    )


R_XAR = _at(20, 10, 16, 30)


@_case(
    "x_autoreply_netease",
    noise="auto_reply",
    subject=f"回复：{SUBJECT_12}",
    from_addr="rmyy_fangshe@163.com",
    message_id="<auto.163.20261120101630@163.com>",
    received=R_XAR,
    date=R_XAR,
    ticket_number=12,
    text_has=("分机8021",),
)
def x_autoreply_netease() -> bytes:
    """网易's vacation reply marks itself only with ``X-Autoreply: yes``."""
    return _simple(
        R_XAR,
        [
            ("From", "rmyy_fangshe@163.com"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew(f"回复：{SUBJECT_12}", "GBK")),
            ("Date", _date(R_XAR)),
            ("Message-ID", "<auto.163.20261120101630@163.com>"),
            ("X-Autoreply", "yes"),
        ],
        "您好，我这周在外培训，急事请拨打分机8021。\n",
        "<rmyy_fangshe@163.com>",
        charset="GBK",
    )


R_XAS = _at(20, 10, 16, 40)


@_case(
    "x_autorespond",
    noise="auto_reply",
    subject="Re: 超声科工作站",
    from_addr="chaosheng@rmyy.example.cn",
    message_id="<autorespond.20261120@rmyy.example.cn>",
    received=R_XAS,
    date=R_XAS,
    text_has=("已收到",),
)
def x_autorespond() -> bytes:
    """A cPanel-style autoresponder: ``X-Autorespond``."""
    return _simple(
        R_XAS,
        [
            ("From", "chaosheng@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", f"Re: {_ew('超声科工作站')}"),
            ("Date", _date(R_XAS)),
            ("Message-ID", "<autorespond.20261120@rmyy.example.cn>"),
            ("X-Autorespond", "Autoresponder"),
        ],
        "邮件已收到，我们会尽快处理。\n",
        "<chaosheng@rmyy.example.cn>",
    )


R_PAR = _at(20, 10, 16, 50)


@_case(
    "precedence_auto_reply",
    noise="auto_reply",
    subject="Re: 药房发药机",
    from_addr="yaofang@rmyy.example.cn",
    message_id="<prec.20261120@rmyy.example.cn>",
    received=R_PAR,
    date=R_PAR,
    text_has=("值班",),
)
def precedence_auto_reply() -> bytes:
    """An old vacation(1) program: ``Precedence: auto_reply`` only."""
    return _simple(
        R_PAR,
        [
            ("From", "yaofang@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", f"Re: {_ew('药房发药机')}"),
            ("Date", _date(R_PAR)),
            ("Message-ID", "<prec.20261120@rmyy.example.cn>"),
            ("Precedence", "auto_reply"),
        ],
        "本人不在，请联系药房值班。\n",
        "<yaofang@rmyy.example.cn>",
    )


R_XJ = _at(20, 10, 17, 0)


@_case(
    "vacation_subject_xiujia",
    noise="auto_reply",
    subject="【休假】11月23日至27日不在院",
    from_addr="liuyang@rmyy.example.cn",
    message_id="<xiujia.20261120@rmyy.example.cn>",
    received=R_XJ,
    date=R_XJ,
    text_has=("设备科",),
)
def vacation_subject_xiujia() -> bytes:
    """A hand-made vacation notice from a hospital's own mail server: ``【休假】`` in the subject."""
    return _simple(
        R_XJ,
        [
            ("From", "liuyang@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew("【休假】11月23日至27日不在院")),
            ("Date", _date(R_XJ)),
            ("Message-ID", "<xiujia.20261120@rmyy.example.cn>"),
        ],
        "休假期间设备科事务请联系王工。\n",
        "<liuyang@rmyy.example.cn>",
    )


R_MDN = _at(20, 10, 30, 0)


@_case(
    "read_receipt_outlook",
    noise="auto_reply",
    subject=f"已读: {SUBJECT_12}",
    from_addr="wangkun@rmyy.example.cn",
    message_id="<mdn.20261120103000@rmyy.example.cn>",
    received=R_MDN,
    date=R_MDN,
    ticket_number=12,
    text_has=("已于",),
    attachments=("disposition-notification.txt",),
)
def read_receipt_outlook() -> bytes:
    """An Outlook read receipt (``已读:``), a ``multipart/report; report-type=disposition-notification``."""
    boundary = "mdn_b0undary"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")],
                _crlf(
                    f"您的邮件\n\n  收件人: 王堃\n  主题: {SUBJECT_12}\n  发送时间: 2026/11/20 10:15\n\n"
                    "已于 2026/11/20 10:29 阅读。\n"
                ),
            ),
            _part(
                [("Content-Type", "message/disposition-notification")],
                _crlf(
                    f"Reporting-UA: rmyy.example.cn; Microsoft Outlook 16.0\nFinal-Recipient: rfc822;"
                    f"wangkun@rmyy.example.cn\nOriginal-Message-ID: {OUR_REPLY}\n"
                    "Disposition: manual-action/MDN-sent-manually; displayed\n"
                ),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", f"{_ew('王堃')} <wangkun@rmyy.example.cn>"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew(f"已读: {SUBJECT_12}")),
                ("Date", _date(R_MDN)),
                ("Message-ID", "<mdn.20261120103000@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                (
                    "Content-Type",
                    f'multipart/report; report-type=disposition-notification;\r\n\tboundary="{boundary}"',
                ),
            ],
            body,
        ),
        R_MDN,
        "<wangkun@rmyy.example.cn>",
    )


# --------------------------------------------------------------------------- bounces, lists, loops

R_DSN = _at(20, 10, 15, 5)


def _our_reply_message() -> bytes:
    return _mail(
        [
            ("Return-Path", f"<bounce+t12@{OUR_DOMAIN}>"),
            ("From", f"{_ew('维保服务台')} <{OUR_ADDRESS}>"),
            ("To", "nosuchuser@rmyy.example.cn"),
            ("Subject", _ew(SUBJECT_12)),
            ("Date", _date(R_DSN - timedelta(seconds=5))),
            ("Message-ID", OUR_REPLY),
            ("In-Reply-To", REPORT_ID),
            ("References", f"{REPORT_ID} {OUR_ACK}"),
            ("Auto-Submitted", "auto-generated"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        _crlf(f"{OUR_REPLY_TEXT}\n维保服务台 工程师 陈静\n"),
    )


@_case(
    "dsn_bounce_of_our_reply",
    noise="bounce",
    subject="Undelivered Mail Returned to Sender",
    from_addr="mailer-daemon@weibao.example",
    from_name="Mail Delivery System",
    message_id="<20261120021505.3A1B2C0F12@weibao.example>",
    received=R_DSN,
    date=R_DSN,
    text_has=("User unknown",),
    text_lacks=(OUR_REPLY_TEXT,),
    attachments=("delivery-status.txt", "message.eml"),
    bounced_message_id=OUR_REPLY,
)
def dsn_bounce_of_our_reply() -> bytes:
    """Our relay's Postfix DSN for the engineer's reply, the whole returned message inside.
    Its Message-ID is on our domain but not ours (it does not start with our prefix)."""
    boundary = "3A1B2C0F12.1763604905/mail.weibao.example"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Description", "Notification"), ("Content-Type", "text/plain; charset=us-ascii")],
                _crlf(
                    "This is the mail system at host mail.weibao.example.\n\nI'm sorry to have to inform you "
                    "that your message could not\nbe delivered to one or more recipients.\n\n"
                    "<nosuchuser@rmyy.example.cn>: host mx.rmyy.example.cn[198.51.100.7] said: 550\n"
                    "    5.1.1 <nosuchuser@rmyy.example.cn>: User unknown (in reply to RCPT TO command)\n"
                ),
            ),
            _part(
                [("Content-Description", "Delivery report"), ("Content-Type", "message/delivery-status")],
                _crlf(
                    "Reporting-MTA: dns; mail.weibao.example\nX-Postfix-Queue-ID: 3A1B2C0F12\n"
                    "Arrival-Date: Fri, 20 Nov 2026 10:15:00 +0800 (CST)\n\n"
                    "Final-Recipient: rfc822; nosuchuser@rmyy.example.cn\nAction: failed\nStatus: 5.1.1\n"
                    "Diagnostic-Code: smtp; 550 5.1.1 <nosuchuser@rmyy.example.cn>: User unknown\n"
                ),
            ),
            _part(
                [("Content-Description", "Undelivered Message"), ("Content-Type", "message/rfc822")],
                _our_reply_message(),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("Date", _date(R_DSN)),
                ("From", "MAILER-DAEMON@weibao.example (Mail Delivery System)"),
                ("Subject", "Undelivered Mail Returned to Sender"),
                ("To", f"bounce+t12@{OUR_DOMAIN}"),
                ("Auto-Submitted", "auto-replied"),
                ("MIME-Version", "1.0"),
                (
                    "Content-Type",
                    f'multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
                ),
                ("Message-ID", "<20261120021505.3A1B2C0F12@weibao.example>"),
            ],
            body,
        ),
        R_DSN,
        "<>",
        via=f"mail.{OUR_DOMAIN}",
    )


R_NDR = _at(20, 10, 15, 9)


@_case(
    "exchange_ndr_headers_only",
    noise="bounce",
    subject=f"无法送达: {SUBJECT_12}",
    from_addr="postmaster@rmyy.example.cn",
    from_name="Microsoft Outlook",
    message_id="<6c1f7b2a-0d3e-4f5a-8b9c-1d2e3f4a5b6c@rmyy.example.cn>",
    received=R_NDR,
    date=R_NDR,
    ticket_number=12,
    text_has=("无法送达",),
    attachments=("delivery-status.txt", "headers.txt"),
    bounced_message_id=OUR_ACK,
)
def exchange_ndr_headers_only() -> bytes:
    """An Exchange NDR in Chinese: text and HTML alternatives, the DSN part, and only the
    returned message's headers (``text/rfc822-headers``)."""
    outer, inner = "_000_ndr_outer_", "_001_ndr_inner_"
    alternative = _multipart(
        inner,
        [
            _part(
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf("邮件无法送达\n\nwangkun.old@rmyy.example.cn 的邮箱已被删除。\n")),
            ),
            _part(
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf("<p><b>邮件无法送达</b></p><p>wangkun.old@rmyy.example.cn 的邮箱已被删除。</p>")),
            ),
        ],
    )
    returned = _head(
        [
            ("From", f"{_ew('维保服务台')} <{OUR_ADDRESS}>"),
            ("To", "wangkun.old@rmyy.example.cn"),
            ("Subject", _ew(SUBJECT_12)),
            ("Message-ID", OUR_ACK),
            ("Auto-Submitted", "auto-replied"),
            ("In-Reply-To", REPORT_ID),
            ("Date", _date(R_NDR - timedelta(seconds=30))),
        ]
    )
    body = _multipart(
        outer,
        [
            _part(
                [
                    (
                        "Content-Type",
                        f'multipart/alternative; differences=Content-Type;\r\n\tboundary="{inner}"',
                    )
                ],
                alternative,
            ),
            _part(
                [("Content-Type", "message/delivery-status")],
                _crlf(
                    "Reporting-MTA: dns;EX01.rmyy.example.cn\nReceived-From-MTA: dns;mail.weibao.example\n\n"
                    "Final-Recipient: rfc822;wangkun.old@rmyy.example.cn\nAction: failed\nStatus: 5.1.10\n"
                ),
            ),
            _part([("Content-Type", "text/rfc822-headers")], returned),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", "Microsoft Outlook <postmaster@rmyy.example.cn>"),
                ("To", OUR_ADDRESS),
                ("Date", _date(R_NDR)),
                ("Subject", _ew(f"无法送达: {SUBJECT_12}")),
                ("Content-Type", f'multipart/report; report-type=delivery-status;\r\n\tboundary="{outer}"'),
                ("Message-ID", "<6c1f7b2a-0d3e-4f5a-8b9c-1d2e3f4a5b6c@rmyy.example.cn>"),
                ("X-MS-Exchange-Message-Is-Ndr", ""),
                ("Auto-Submitted", "auto-replied"),
                ("MIME-Version", "1.0"),
            ],
            body,
        ),
        R_NDR,
        "<>",
    )


R_OMI = _at(20, 10, 15, 12)


@_case(
    "dsn_original_message_id_only",
    noise="bounce",
    subject="系统退信",
    from_addr="mailer-daemon@163.com",
    message_id="<dsn.163.20261120101512@163.com>",
    received=R_OMI,
    date=R_OMI,
    text_has=("无法投递",),
    attachments=("delivery-status.txt",),
    bounced_message_id=OUR_REPLY,
)
def dsn_original_message_id_only() -> bytes:
    """A terse DSN that returns nothing of the message but names it in ``Original-Message-ID``."""
    boundary = "163dsn"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", "text/plain; charset=GBK"), ("Content-Transfer-Encoding", "base64")],
                _b64(_crlf("您发送的邮件无法投递：收件人邮箱已满。\n", "gbk")),
            ),
            _part(
                [("Content-Type", "message/delivery-status")],
                _crlf(
                    f"Reporting-MTA: dns; mx.163.com\nOriginal-Envelope-Id: t12m2\n\n"
                    f"Final-Recipient: rfc822; rmyy_fangshe@163.com\nAction: failed\nStatus: 5.2.2\n"
                    f"Original-Message-ID: {OUR_REPLY}\n"
                ),
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("From", "MAILER-DAEMON@163.com"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("系统退信", "GBK")),
                ("Date", _date(R_OMI)),
                ("Message-ID", "<dsn.163.20261120101512@163.com>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/report; report-type=delivery-status; boundary="{boundary}"'),
            ],
            body,
        ),
        R_OMI,
        "<>",
        via="m16.mail.163.com",
    )


R_NUL = _at(20, 10, 15, 20)


@_case(
    "bounce_null_sender_plain",
    noise="bounce",
    subject="退信通知",
    from_addr="mailadmin@rmyy.example.cn",
    from_name="邮件系统管理员",
    message_id="<tuixin.20261120101520@rmyy.example.cn>",
    received=R_NUL,
    date=R_NUL,
    text_has=("退回",),
    bounced_message_id=OUR_ACK,
)
def bounce_null_sender_plain() -> bytes:
    """A hospital mail gateway's home-made bounce: plain text, no DSN, no MAILER-DAEMON; only the
    empty Return-Path gives it away, and it pastes the returned mail's headers into the text."""
    return _simple(
        R_NUL,
        [
            ("From", f"{_ew('邮件系统管理员')} <mailadmin@rmyy.example.cn>"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew("退信通知")),
            ("Date", _date(R_NUL)),
            ("Message-ID", "<tuixin.20261120101520@rmyy.example.cn>"),
        ],
        "您发给 wangkun.old@rmyy.example.cn 的邮件已被退回：收件人不存在。\n\n原邮件信头：\n"
        f"From: {OUR_ADDRESS}\nSubject: {SUBJECT_12}\nMessage-ID: {OUR_ACK}\n",
        "<>",
    )


R_LIST = _at(20, 11, 0, 0)


@_case(
    "mailing_list",
    noise="list",
    subject="[his-users] 关于HIS 5.2升级窗口的讨论",
    from_addr="zhang.l@other-hospital.example.cn",
    message_id="<list.20261120110000@other-hospital.example.cn>",
    received=R_LIST,
    date=R_LIST - timedelta(seconds=50),
    text_has=("升级窗口",),
)
def mailing_list() -> bytes:
    """A users' mailing list our mailbox is subscribed to (Mailman): List-Id and friends."""
    msg = EmailMessage()
    msg["From"] = "张磊 <zhang.l@other-hospital.example.cn>"
    msg["To"] = "his-users@lists.example.org"
    msg["Subject"] = "[his-users] 关于HIS 5.2升级窗口的讨论"
    msg["Date"] = _date(R_LIST - timedelta(seconds=50))
    msg["Message-ID"] = "<list.20261120110000@other-hospital.example.cn>"
    msg["List-Id"] = "HIS users <his-users.lists.example.org>"
    msg["List-Unsubscribe"] = "<mailto:his-users-leave@lists.example.org>"
    msg["List-Post"] = "<mailto:his-users@lists.example.org>"
    msg["Precedence"] = "list"
    msg.set_content("各位，HIS 5.2的升级窗口大家一般选在什么时候？\n")
    return _deliver(
        _email_bytes(msg), R_LIST, "<his-users-bounces@lists.example.org>", via="lists.example.org"
    )


R_BULK = _at(20, 11, 5, 0)


@_case(
    "bulk_newsletter",
    noise="bulk",
    subject="【厂商电子期刊】2026年11月 医疗信息化动态",
    from_addr="news@vendor-news.example.com",
    message_id="<news.202611.5521@vendor-news.example.com>",
    received=R_BULK,
    date=R_BULK - timedelta(minutes=3),
    text_has=("医疗信息化",),
)
def bulk_newsletter() -> bytes:
    """A vendor newsletter sent with ``Precedence: bulk`` and no list headers."""
    msg = EmailMessage()
    msg["From"] = "厂商资讯 <news@vendor-news.example.com>"
    msg["To"] = OUR_ADDRESS
    msg["Subject"] = "【厂商电子期刊】2026年11月 医疗信息化动态"
    msg["Date"] = _date(R_BULK - timedelta(minutes=3))
    msg["Message-ID"] = "<news.202611.5521@vendor-news.example.com>"
    msg["Precedence"] = "bulk"
    msg.set_content("本期内容：医疗信息化互联互通评级新规解读。\n")
    msg.add_alternative(
        "<h1>医疗信息化动态</h1><p>本期内容：医疗信息化互联互通评级新规解读。</p>", subtype="html"
    )
    return _deliver(_email_bytes(msg), R_BULK, "<bounce-5521@vendor-news.example.com>")


R_LOOP = _at(20, 9, 31, 0)


@_case(
    "own_ack_loop",
    noise="loop",
    subject="[#12] 已收到您的报修：王堃报修：CT室电脑蓝屏",
    from_addr=OUR_ADDRESS,
    from_name="维保服务台",
    message_id=OUR_ACK,
    received=R_LOOP,
    date=R_LOOP - timedelta(seconds=40),
    in_reply_to=REPORT_ID,
    references=(REPORT_ID,),
    ticket_number=12,
    text_has=("已收到",),
)
def own_ack_loop() -> bytes:
    """Our own acknowledgement coming back: the reporter's mailbox forwards everything to an
    address that lands in our mailbox. It carries our Message-ID and Auto-Submitted."""
    return _simple(
        R_LOOP,
        [
            ("From", f"{_ew('维保服务台')} <{OUR_ADDRESS}>"),
            ("To", "wangkun@rmyy.example.cn"),
            ("Subject", _ew("[#12] 已收到您的报修：王堃报修：CT室电脑蓝屏")),
            ("Date", _date(R_LOOP - timedelta(seconds=40))),
            ("Message-ID", OUR_ACK),
            ("In-Reply-To", REPORT_ID),
            ("References", REPORT_ID),
            ("Auto-Submitted", "auto-replied"),
        ],
        "您好，维保服务台已收到您的报修，工单号 #12，工程师会尽快联系您。\n",
        f"<bounce+t12@{OUR_DOMAIN}>",
    )


# --------------------------------------------------------------------------- broken and odd mail

R_BAD = _at(20, 12, 0, 0)


@_case(
    "malformed_mime",
    subject="",
    from_addr="",
    message_id=None,
    received=R_BAD,
    date=None,
    text_has=("财务系统打不开",),
    attachments=("报错日志.txt",),
    defects=("no From", "no Message-ID", "no Date", "boundary", "bad base64"),
)
def malformed_mime() -> bytes:
    """A home-made sender (a script on a department PC): no From, Date or Message-ID, a declared
    boundary the body never uses, and an attachment whose base64 has junk and is cut short."""
    declared, used = "----=_Part_1_declared", "----=_Part_2_actual"
    log = base64.b64encode("2026-11-20 11:58 财务系统启动失败: ORA-12541\n".encode()).decode()
    bad_b64 = log[:20] + "!!##" + log[20:-3]
    body = _multipart(
        used,
        [
            _part(
                [("Content-Type", "text/plain; charset=gb2312"), ("Content-Transfer-Encoding", "8bit")],
                _crlf("财务系统打不开，日志见附件。\n", "gbk"),
            ),
            _part(
                [
                    ("Content-Type", f'text/plain; name="{_ew("报错日志.txt")}"'),
                    ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", f'attachment; filename="{_ew("报错日志.txt")}"'),
                ],
                bad_b64.encode() + CRLF,
            ),
        ],
    )
    return _deliver(
        _mail(
            [
                ("To", OUR_ADDRESS),
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/mixed; boundary="{declared}"'),
            ],
            body,
        ),
        R_BAD,
        "<script@pc-0231.rmyy.example.cn>",
    )


R_TRUNC = _at(20, 12, 5, 0)


@_case(
    "truncated_mid_attachment",
    subject="超声报告打印模板丢失",
    from_addr="chaosheng@rmyy.example.cn",
    message_id="<trunc.20261120120500@rmyy.example.cn>",
    received=R_TRUNC,
    date=None,
    text_has=("打印模板",),
    attachments=("模板.rtf",),
    defects=("CloseBoundaryNotFound", "unreadable Date"),
)
def truncated_mid_attachment() -> bytes:
    """A mail cut off in the middle of its attachment (a proxy with a size limit), no closing
    boundary, and a Date header no parser can read."""
    boundary = "trunc_b"
    body = _multipart(
        boundary,
        [
            _part(
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")],
                _crlf("超声科报告打印模板丢失，打印出来是空白。\n"),
            ),
            _part(
                [
                    ("Content-Type", "application/rtf"),
                    ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", f'attachment; filename="{_ew("模板.rtf")}"'),
                ],
                _b64(b"{\\rtf1\\ansi " + b"x" * 300)[:150],
            ),
        ],
        closed=False,
    )
    return _deliver(
        _mail(
            [
                ("From", "chaosheng@rmyy.example.cn"),
                ("To", OUR_ADDRESS),
                ("Subject", _ew("超声报告打印模板丢失")),
                ("Date", "周五 2026年11月20日 12:04"),
                ("Message-ID", "<trunc.20261120120500@rmyy.example.cn>"),
                ("MIME-Version", "1.0"),
                ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
            ],
            body,
        ),
        R_TRUNC,
        "<chaosheng@rmyy.example.cn>",
    )


R_NOID = _at(20, 12, 10, 0)


@_case(
    "no_message_id",
    subject="供应室追溯系统扫码枪失灵",
    from_addr="gongyingshi@rmyy.example.cn",
    message_id=None,
    received=R_NOID,
    date=R_NOID - timedelta(seconds=20),
    text_has=("扫码枪",),
    defects=("no Message-ID",),
)
def no_message_id() -> bytes:
    """A medical device's mail agent that writes no Message-ID (dedupe must fall back to a hash)."""
    return _simple(
        R_NOID,
        [
            ("From", "gongyingshi@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew("供应室追溯系统扫码枪失灵")),
            ("Date", _date(R_NOID - timedelta(seconds=20))),
        ],
        "供应室追溯系统的扫码枪扫不出条码。\n",
        "<gongyingshi@rmyy.example.cn>",
    )


R_SKEW = _at(23, 9, 5, 12)


@_case(
    "date_skew_2h",
    subject="门诊叫号屏不显示",
    from_addr="menzhen@rmyy.example.cn",
    message_id="<skew.20261123@rmyy.example.cn>",
    received=R_SKEW,
    date=R_SKEW - timedelta(hours=2),
    text_has=("叫号屏",),
)
def date_skew_2h() -> bytes:
    """A PC whose clock is two hours behind: Date says 07:05, our server received it at 09:05.
    Several Received hops; only the top one (ours) counts."""
    inner = _mail(
        [
            (
                "Received",
                "from [10.12.3.45] (unknown [10.12.3.45])\r\n\tby mx.rmyy.example.cn (Postfix) with ESMTPSA;"
                " Mon, 23 Nov 2026 07:05:13 +0800 (CST)",
            ),
            ("Received", "from pc-0107 by pc-0107; Sun, 22 Nov 2026 23:05:13 +0000"),
            ("From", "menzhen@rmyy.example.cn"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew("门诊叫号屏不显示")),
            ("Date", _date(R_SKEW - timedelta(hours=2))),
            ("Message-ID", "<skew.20261123@rmyy.example.cn>"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        _crlf("门诊二楼叫号屏从早上起不显示。\n"),
    )
    return _deliver(inner, R_SKEW, "<menzhen@rmyy.example.cn>", via="mx.rmyy.example.cn")


R_CC = _at(20, 11, 30, 0)


@_case(
    "reply_all_with_cc",
    subject=f"回复：{SUBJECT_12}",
    from_addr="lina@rmyy.example.cn",
    from_name="李娜",
    message_id="<cc.20261120112958@rmyy.example.cn>",
    received=R_CC,
    date=R_CC - timedelta(seconds=2),
    in_reply_to=OUR_REPLY,
    references=THREAD_12,
    to=(OUR_ADDRESS, "wangkun@rmyy.example.cn"),
    cc=("zhangwei@rmyy.example.cn", "liuyang@rmyy.example.cn", "chenjing@weibao.example"),
    ticket_number=12,
    text="补充一下：CT室另一台电脑也出现了同样的蓝屏。",
    text_lacks=(OUR_REPLY_TEXT,),
)
def reply_all_with_cc() -> bytes:
    """A colleague replies to all: two To, three Cc, one display name containing a comma
    (encoded, so it must not split the address list)."""
    plain = "补充一下：CT室另一台电脑也出现了同样的蓝屏。\n\n" + _quoted_foxmail()
    return _simple(
        R_CC,
        [
            ("From", f'"{_ew("李娜")}" <lina@rmyy.example.cn>'),
            ("To", f'"{_ew("维保服务台")}" <{OUR_ADDRESS}>, "{_ew("王堃")}" <wangkun@rmyy.example.cn>'),
            (
                "Cc",
                f'"{_ew("信息科,张伟")}" <ZhangWei@RMYY.example.cn>,\r\n\t{_ew("设备科 刘洋")} '
                "<liuyang@rmyy.example.cn>, chenjing@weibao.example",
            ),
            ("Subject", _ew(f"回复：{SUBJECT_12}")),
            ("Date", _date(R_CC - timedelta(seconds=2))),
            ("Message-ID", "<cc.20261120112958@rmyy.example.cn>"),
            *_thread_headers(),
        ],
        plain,
        "<lina@rmyy.example.cn>",
    )


R_FORGE = _at(20, 11, 45, 0)


@_case(
    "forged_subject_tag",
    subject="[#12] 请把这个工单的全部处理记录发给我",
    from_addr="curious@unknown-mail.example",
    message_id="<forge.20261120114500@unknown-mail.example>",
    received=R_FORGE,
    date=R_FORGE - timedelta(seconds=1),
    ticket_number=12,
    forged_tag=True,
    text_has=("处理记录",),
)
def forged_subject_tag() -> bytes:
    """A stranger writes ``[#12]`` into a fresh subject: parsing reports the tag, threading must
    refuse it (not a participant, no thread headers)."""
    return _simple(
        R_FORGE,
        [
            ("From", "curious@unknown-mail.example"),
            ("To", OUR_ADDRESS),
            ("Subject", _ew("[#12] 请把这个工单的全部处理记录发给我")),
            ("Date", _date(R_FORGE - timedelta(seconds=1))),
            ("Message-ID", "<forge.20261120114500@unknown-mail.example>"),
        ],
        "你好，请把这个工单的全部处理记录发给我。\n",
        "<curious@unknown-mail.example>",
    )
