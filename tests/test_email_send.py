"""Outgoing mail against a real aiosmtpd server (tests/fakes/mailserver.py): what arrives is
read back with the product's own ``parse_mail``, and every failure is classified the way
the outbox needs (permanent / transient / uncertain)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Literal

import pytest

from intake.email.ids import ThreadRef, first_thread, make_message_id, read_message_id, subject_tag
from intake.email.parse import parse_mail
from intake.email.send import (
    MAX_REFERENCES,
    SendFailed,
    SmtpConfig,
    compose,
    reply_subject,
    send,
    thread_subject,
)
from tests.fakes import mailserver
from tests.fakes.mailserver import SmtpSink, free_port

smtp_sink = mailserver.smtp_sink  # the fixture (an assignment, so ruff does not see F811)

SECRET = "test-secret"
FROM = "维保服务台 <helpdesk@vendor.example.cn>"
REPORTER = "王护士 <nurse@hospital.example.cn>"
REPORT_SUBJECT = "【报修】3号楼CT机无法开机"
REPORT_ID = "<20261123091500.ABC@hospital.example.cn>"
REPORT_REFS = ("<root.1@hospital.example.cn>",)
ANSWER = "王护士您好：\n工程师李工今天14:00到场，请保留错误代码 E102 的照片。\n<b>不要</b>断电 & 重启。"
WHEN = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def config_for(sink: SmtpSink | None = None, **kw: object) -> SmtpConfig:
    base: dict[str, object] = {"host": "127.0.0.1", "port": sink.port if sink else free_port(), "tls": "none",
                               "mail_from": FROM, "domain": "helpdesk.vendor.example.cn", "timeout": 5}
    if sink is not None and sink.tls is not None:
        base["ssl_context"] = sink.tls.client_context()
    base.update(kw)
    return SmtpConfig(**base)  # type: ignore[arg-type]


def reply(config: SmtpConfig, author: Literal["person", "bot", "notification"] = "person",
          **kw: object) -> EmailMessage:
    args: dict[str, object] = {
        "secret": SECRET, "ticket_id": 123, "message_id": 7, "to": [REPORTER],
        "subject": reply_subject(REPORT_SUBJECT), "text": ANSWER, "author": author,
        "in_reply_to": REPORT_ID, "references": REPORT_REFS, "date": WHEN,
    }
    args.update(kw)
    return compose(config, **args)  # type: ignore[arg-type]


# -- what arrives -----------------------------------------------------------------------------------

async def test_person_reply_arrives_threaded_tagged_readable_and_not_automatic(smtp_sink: SmtpSink) -> None:
    config = config_for(smtp_sink)
    answer = await send(config, reply(config))
    assert answer.startswith("250")
    [got] = await smtp_sink.await_messages(1)
    assert got.mail_from == "helpdesk@vendor.example.cn"
    assert got.rcpt_tos == ["nurse@hospital.example.cn"]
    assert got.raw.isascii()  # Chinese travels encoded (no 8BITMIME/SMTPUTF8 needed on the way)

    mail = parse_mail(got.raw)
    assert mail.subject == "[#123] 回复：【报修】3号楼CT机无法开机"
    assert subject_tag(mail.subject) == 123
    assert (mail.from_name, mail.from_addr) == ("维保服务台", "helpdesk@vendor.example.cn")
    assert mail.to == ("nurse@hospital.example.cn",)
    assert "王护士" in (mail.header("To") or "")
    assert mail.message_id == make_message_id(SECRET, "helpdesk.vendor.example.cn", 123, 7)
    assert read_message_id(SECRET, mail.message_id) == ThreadRef(123, 7)
    assert mail.in_reply_to == REPORT_ID
    assert mail.references == (*REPORT_REFS, REPORT_ID)
    assert mail.date_header == WHEN
    assert mail.header("Auto-Submitted") is None  # a person wrote it: the reporter may answer
    assert mail.header("X-Auto-Response-Suppress") == "All"
    assert mail.header("Content-Language") == "zh-CN"

    assert mail.content_type == "multipart/alternative"
    assert mail.full_text == ANSWER
    assert mail.html is not None
    assert "&lt;b&gt;不要&lt;/b&gt;断电 &amp; 重启" in mail.html  # escaped, not markup
    assert "李工今天14:00到场，请保留错误代码 E102 的照片。<br>" in mail.html  # line breaks kept
    plain, html = got.message.get_body(("plain",)), got.message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"


@pytest.mark.parametrize(("author", "expected"), [("bot", "auto-replied"), ("notification", "auto-generated")])
async def test_bot_mail_is_marked_automatic(smtp_sink: SmtpSink, author: str, expected: str) -> None:
    config = config_for(smtp_sink)
    # A thread we start ourselves: nothing to reply to, so no threading headers at all.
    msg = reply(config, author, ticket_id=45, subject=thread_subject(45, "CT机 年度巡检 提醒"), in_reply_to=None,
                references=())
    await send(config, msg)
    [got] = await smtp_sink.await_messages(1)
    mail = parse_mail(got.raw)
    assert mail.header("Auto-Submitted") == expected
    assert mail.subject == "[#45] 工单 #45：CT机 年度巡检 提醒"
    assert mail.in_reply_to is None and mail.references == ()


def test_references_are_capped_keeping_root_and_parent() -> None:
    config = config_for()
    chain = [f"<m{i}@hospital.example.cn>" for i in range(50)]
    msg = reply(config, references=[*chain, chain[10]], in_reply_to="m99@hospital.example.cn")  # no <>
    refs = str(msg["References"]).split()
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "<m0@hospital.example.cn>"  # the thread's root
    assert refs[-1] == str(msg["In-Reply-To"]) == "<m99@hospital.example.cn>"
    assert len(set(refs)) == len(refs)


def test_subject_helpers_do_not_stack_prefixes_or_tags() -> None:
    assert reply_subject("回复：[#5] 打印机卡纸") == "回复：[#5] 打印机卡纸"
    assert reply_subject("[#5] Re: printer") == "[#5] Re: printer"
    config = config_for()
    msg = reply(config, ticket_id=5, subject=reply_subject("[#5] 回复：打印机\r\nBcc: x@evil.example"))
    assert msg["Subject"] == "[#5] 回复：打印机 Bcc: x@evil.example"  # one line: no header injection


# -- TLS and login ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["starttls", "ssl"])
async def test_tls_with_login(mode: Literal["starttls", "ssl"], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpSink(tls=mode, require_starttls=True, auth={"robot": "pa55-秘密"}) as sink:
        bad = config_for(sink, tls=mode, user="robot", password="wrong-pa55")
        with pytest.raises(SendFailed) as refused:
            await send(bad, reply(bad))
        assert refused.value.permanent and refused.value.code == 535 and not refused.value.uncertain

        config = config_for(sink, tls=mode, user="robot", password="pa55-秘密")
        await send(config, reply(config))
        [got] = sink.wait_for(1)
        assert got.tls and got.login == "robot"
        assert parse_mail(got.raw).subject.startswith("[#123] ")
    for text in (caplog.text, str(refused.value), repr(config)):
        assert "pa55" not in text


async def test_missing_credentials_are_a_permanent_refusal() -> None:
    with SmtpSink(auth={"robot": "pa55"}) as sink:  # the server requires AUTH, the config has no user
        config = config_for(sink)
        with pytest.raises(SendFailed) as exc:
            await send(config, reply(config))
        assert exc.value.code == 530 and exc.value.permanent


# -- failures ---------------------------------------------------------------------------------------

async def test_451_is_transient_then_a_retry_succeeds(smtp_sink: SmtpSink) -> None:
    config = config_for(smtp_sink)
    msg = reply(config)
    smtp_sink.fail_next(1, 451)
    with pytest.raises(SendFailed) as exc:
        await send(config, msg)
    assert (exc.value.permanent, exc.value.uncertain, exc.value.code) == (False, False, 451)
    assert smtp_sink.messages == []
    await send(config, msg)
    [got] = await smtp_sink.await_messages(1)
    assert parse_mail(got.raw).message_id == str(msg["Message-ID"])


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
async def test_550_is_permanent(smtp_sink: SmtpSink, stage: Literal["RCPT", "DATA"]) -> None:
    config = config_for(smtp_sink)
    smtp_sink.fail_next(1, 550, "5.1.1 No such user", stage=stage)
    with pytest.raises(SendFailed) as exc:
        await send(config, reply(config))
    assert (exc.value.permanent, exc.value.uncertain, exc.value.code) == (True, False, 550)
    assert "No such user" in exc.value.reason
    assert smtp_sink.messages == []


async def test_temporary_refusal_of_one_recipient_sends_to_nobody(smtp_sink: SmtpSink) -> None:
    config = config_for(smtp_sink)
    msg = reply(config, cc=[("科长", "head@hospital.example.cn")])
    smtp_sink.fail_next(1, 452, "4.2.2 Mailbox full", stage="RCPT")  # the first RCPT only
    with pytest.raises(SendFailed) as exc:
        await send(config, msg)
    assert not exc.value.permanent and exc.value.code == 452
    await asyncio.sleep(0.05)
    assert smtp_sink.messages == []  # the other recipient did not get it either: a retry cannot double it
    await send(config, msg)
    [got] = await smtp_sink.await_messages(1)
    assert got.rcpt_tos == ["nurse@hospital.example.cn", "head@hospital.example.cn"]


async def test_connection_refused_is_transient() -> None:
    config = config_for(port=free_port())  # nothing listens there
    with pytest.raises(SendFailed) as exc:
        await send(config, reply(config))
    assert (exc.value.permanent, exc.value.uncertain) == (False, False)
    assert "connect" in exc.value.reason


@contextlib.asynccontextmanager
async def broken_server(at: Literal["RCPT", "DATA"], how: Literal["drop", "silent"]) -> AsyncIterator[int]:
    """A minimal SMTP server that breaks at ``at``: after the RCPT command, or after the whole
    message text of DATA was received. ``drop`` closes the connection, ``silent`` never answers."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def fail() -> None:
            if how == "silent":
                await reader.read()  # until the client gives up and closes
        try:
            writer.write(b"220 broken.example ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250 broken.example\r\n")
                elif verb == b"MAIL":
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    if at == "RCPT":
                        return await fail()
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    await reader.readuntil(b"\r\n.\r\n")
                    return await fail()
                else:
                    writer.write(b"221 bye\r\n")
                    return None
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("how", ["drop", "silent"])
async def test_break_after_data_is_uncertain(how: Literal["drop", "silent"]) -> None:
    async with broken_server("DATA", how) as port:
        config = config_for(port=port, timeout=0.5)
        with pytest.raises(SendFailed) as exc:
            await send(config, reply(config))
    assert (exc.value.permanent, exc.value.uncertain) == (False, True)
    assert "outcome unknown" in exc.value.reason


@pytest.mark.parametrize("how", ["drop", "silent"])
async def test_break_before_data_is_not_uncertain(how: Literal["drop", "silent"]) -> None:
    async with broken_server("RCPT", how) as port:
        config = config_for(port=port, timeout=0.5)
        with pytest.raises(SendFailed) as exc:
            await send(config, reply(config))
    assert (exc.value.permanent, exc.value.uncertain) == (False, False)


# -- the reporter answers ---------------------------------------------------------------------------

async def test_reporters_answer_threads_back_to_the_ticket(smtp_sink: SmtpSink) -> None:
    config = config_for(smtp_sink)
    await send(config, reply(config))
    [got] = await smtp_sink.await_messages(1)
    sent = parse_mail(got.raw)
    assert sent.message_id is not None

    answer = EmailMessage()
    answer["From"] = REPORTER
    answer["To"] = FROM
    answer["Subject"] = f"回复：{sent.subject}"
    answer["Message-ID"] = "<reply.2@hospital.example.cn>"
    answer["In-Reply-To"] = sent.message_id
    answer["References"] = " ".join((*sent.references, sent.message_id))
    answer.set_content("好的，谢谢！下午有人在科室。\n")
    back = parse_mail(answer.as_bytes())
    assert first_thread(SECRET, back.in_reply_to, list(back.references)) == ThreadRef(123, 7)
    assert first_thread("another-installation", back.in_reply_to, list(back.references)) is None
    assert subject_tag(back.subject) == 123
    assert back.text == "好的，谢谢！下午有人在科室。"
