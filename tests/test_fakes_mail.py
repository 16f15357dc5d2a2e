"""The mail fakes work with the client libraries the product uses: aioimaplib against a real
Dovecot, aiosmtplib against the aiosmtpd sink (tests/fakes/mailserver.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import aioimaplib
import aiosmtplib
import pytest

from tests.fakes import mailserver
from tests.fakes.mailserver import Dovecot, SmtpSink, _group_members, parse_internaldate, require_dovecot

dovecot = mailserver.dovecot  # the fixtures (an assignment, so ruff does not see F811 on every parameter)
smtp_sink = mailserver.smtp_sink

USER, PASSWORD = "helpdesk", "secret"
SUBJECT = "【报修】3号楼CT机无法开机"
BODY = "您好：\n影像科的CT机今天早上无法开机，屏幕显示错误代码E102。\n联系人：王护士 13800138000\n"


def raw_mail(n: int, subject: str = "test") -> bytes:
    return (f"From: nurse{n}@hospital.example.cn\r\nTo: helpdesk@hosp.example.cn\r\n"
            f"Subject: {subject} {n}\r\nMessage-ID: <m{n}@hospital.example.cn>\r\n"
            f"Date: Mon, 23 Nov 2026 09:00:00 +0800\r\n\r\nbody {n}\r\n").encode()


async def connect(server: Dovecot, user: str = USER, password: str = PASSWORD) -> aioimaplib.IMAP4:
    cli = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=5)
    await cli.wait_hello_from_server()
    r = await cli.login(user, password)
    assert r.result == "OK", r
    return cli


def uidvalidity_of(select_response: aioimaplib.Response) -> int:
    for line in select_response.lines:
        if isinstance(line, bytes) and (m := re.search(rb"\[UIDVALIDITY (\d+)\]", line)):
            return int(m.group(1))
    raise AssertionError(f"no UIDVALIDITY in {select_response.lines!r}")


def fetched(response: aioimaplib.Response) -> dict[int, tuple[datetime, bytes]]:
    """uid -> (INTERNALDATE, raw) from a ``UID FETCH (UID INTERNALDATE BODY.PEEK[])`` response."""
    out, lines = {}, response.lines
    for i, line in enumerate(lines):
        if isinstance(line, bytes) and b" FETCH (" in line and (m := re.search(rb"UID (\d+)", line)):
            out[int(m.group(1))] = (parse_internaldate(line), bytes(lines[i + 1]))
    return out


# -- Dovecot + aioimaplib ---------------------------------------------------------------------------

async def test_fetch_returns_chosen_internaldate_and_raw_bytes(dovecot: Dovecot) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    hour_ago = now - timedelta(hours=1)
    yesterday = (now - timedelta(days=1, seconds=7)).astimezone(timezone(timedelta(hours=8)))  # any zone
    with pytest.raises(ValueError, match="future"):  # Dovecot would silently store "now" instead
        dovecot.deliver(USER, raw_mail(0), internaldate=now + timedelta(hours=1))
    assert await dovecot.adeliver(USER, raw_mail(1), internaldate=hour_ago) == 1
    assert await dovecot.adeliver(USER, raw_mail(2), internaldate=yesterday) == 2

    cli = await connect(dovecot, f"{USER}@hosp.example.cn")  # the domain part is ignored
    try:
        r = await cli.select("INBOX")
        assert r.result == "OK"
        assert uidvalidity_of(r) == dovecot.uidvalidity(USER)
        r = await cli.uid("fetch", "1:*", "(UID INTERNALDATE BODY.PEEK[])")
        assert r.result == "OK", r
    finally:
        await cli.logout()
    got = fetched(r)
    assert sorted(got) == [1, 2]
    assert got[1] == (hour_ago, raw_mail(1))
    assert got[2] == (yesterday, raw_mail(2))
    assert dovecot.count(USER) == 2


async def test_body_peek_leaves_unseen_and_body_marks_seen(dovecot: Dovecot) -> None:
    dovecot.deliver(USER, raw_mail(1))
    dovecot.deliver(USER, raw_mail(2))
    cli = await connect(dovecot)
    try:
        await cli.select("INBOX")
        assert (await cli.uid("fetch", "1", "(BODY.PEEK[])")).result == "OK"
        assert (await cli.uid("fetch", "2", "(BODY[])")).result == "OK"  # the contrast: not a peek
    finally:
        await cli.logout()
    assert "\\Seen" not in dovecot.flags(USER, 1)
    assert "\\Seen" in dovecot.flags(USER, 2)
    assert "\\Seen" in dovecot.flags(USER, dovecot.deliver(USER, raw_mail(3), flags="\\Seen"))


async def test_idle_push_on_delivery(dovecot: Dovecot) -> None:
    dovecot.deliver(USER, raw_mail(1))
    cli = await connect(dovecot)
    try:
        await cli.select("INBOX")
        idle = await cli.idle_start(timeout=10)
        assert "IDLE" in cli.protocol.capabilities
        await dovecot.adeliver(USER, raw_mail(2))
        push = await cli.wait_server_push(timeout=5)
        cli.idle_done()
        assert (await asyncio.wait_for(idle, 5)).result == "OK"
        assert b"2 EXISTS" in push, push
        r = await cli.uid("fetch", "2:*", "(UID INTERNALDATE BODY.PEEK[])")
        assert list(fetched(r)) == [2]
    finally:
        await cli.logout()


async def test_forced_uidvalidity_change_renumbers_and_keeps_mail(dovecot: Dovecot) -> None:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    for n in range(3):
        dovecot.deliver(USER, raw_mail(n), internaldate=when + timedelta(minutes=n))
    cli = await connect(dovecot)
    old = uidvalidity_of(await cli.select("INBOX"))
    await cli.logout()
    dovecot.deliver(USER, raw_mail(9), folder="Processed")
    assert dovecot.count(USER, "Processed") == 1

    new = dovecot.reset_uidvalidity(USER)
    cli = await connect(dovecot)
    try:
        assert uidvalidity_of(await cli.select("INBOX")) == new != old
        got = fetched(await cli.uid("fetch", "1:*", "(UID INTERNALDATE BODY.PEEK[])"))
    finally:
        await cli.logout()
    assert {uid: date for uid, (date, _raw) in got.items()} == {
        1: when, 2: when + timedelta(minutes=1), 3: when + timedelta(minutes=2)}
    assert dovecot.uidnext(USER) == 4
    # a non-INBOX folder as well
    old_processed = dovecot.uidvalidity(USER, "Processed")
    assert dovecot.reset_uidvalidity(USER, "Processed") != old_processed
    assert [m.raw for m in dovecot.messages(USER, "Processed")] == [raw_mail(9)]


async def test_users_lmtp_and_tls(dovecot: Dovecot) -> None:
    dovecot.add_user("ward7", "pw7")
    dovecot.deliver_lmtp("ward7@hosp.example.cn", raw_mail(1))
    assert (dovecot.count("ward7"), dovecot.count(USER)) == (1, 0)
    stored = dovecot.messages("ward7")
    assert stored[0].raw.endswith(raw_mail(1))  # LMTP prepends Return-Path/Received
    assert abs(stored[0].internaldate - datetime.now(UTC)) < timedelta(minutes=1)

    assert dovecot.tls is not None and dovecot.ssl_port
    cli = aioimaplib.IMAP4_SSL(host=dovecot.host, port=dovecot.ssl_port, timeout=5,
                               ssl_context=dovecot.tls.client_context())
    await cli.wait_hello_from_server()
    try:
        assert (await cli.login("ward7", "pw7")).result == "OK"
        assert (await cli.select("INBOX")).result == "OK"
    finally:
        await cli.logout()
    plain = await connect(dovecot)
    try:
        assert "STARTTLS" in plain.protocol.capabilities
        bad = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.port, timeout=5)
        await bad.wait_hello_from_server()
        assert (await bad.login(USER, "wrong")).result == "NO"
    finally:
        await plain.logout()


def test_stop_leaves_no_process() -> None:
    require_dovecot()
    with Dovecot() as server:
        assert server.count(USER) == 0
        pgid = server._proc.pid if server._proc else 0
        assert len(_group_members(pgid)) >= 4  # master, log, config, auth, ...
    assert _group_members(pgid) == []
    server.close()
    assert server.directory is None


def test_missing_dovecot_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailserver, "DOVECOT_BIN", "/nonexistent/dovecot")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="dovecot-imapd"):
        require_dovecot()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_dovecot()


# -- aiosmtpd sink + aiosmtplib ---------------------------------------------------------------------

def chinese_mail() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "运维中心 <helpdesk@hosp.example.cn>"
    msg["To"] = "王护士 <nurse@hospital.example.cn>"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<t123.abc@hosp.example.cn>"
    msg.set_content(BODY)
    return msg


async def test_smtp_sink_records_chinese_mail(smtp_sink: SmtpSink) -> None:
    await aiosmtplib.send(chinese_mail(), hostname=smtp_sink.host, port=smtp_sink.port, timeout=5)
    [got] = await smtp_sink.await_messages(1)
    assert got.mail_from == "helpdesk@hosp.example.cn"
    assert got.rcpt_tos == ["nurse@hospital.example.cn"]
    assert got.message["Subject"] == SUBJECT
    assert got.message.get_content() == BODY
    assert b"Message-ID: <t123.abc@hosp.example.cn>" in got.raw
    assert not got.tls and got.login is None


async def test_smtp_sink_failures_return_chosen_code(smtp_sink: SmtpSink) -> None:
    kw = {"hostname": smtp_sink.host, "port": smtp_sink.port, "timeout": 5}
    smtp_sink.fail_next(2, 451)
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as exc:
            await aiosmtplib.send(chinese_mail(), **kw)
        assert exc.value.code == 451
    await aiosmtplib.send(chinese_mail(), **kw)  # the third attempt goes through
    assert len(smtp_sink.messages) == 1 and [r.stage for r in smtp_sink.rejected] == ["DATA", "DATA"]

    smtp_sink.fail_next(1, 550, "5.1.1 No such user", stage="RCPT")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(chinese_mail(), **kw)
    assert [e.code for e in refused.value.recipients] == [550]
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
async def test_smtp_sink_tls_and_auth(mode: str) -> None:
    with SmtpSink(tls=mode, require_starttls=True, auth={"robot": "pa55"}) as sink:  # type: ignore[arg-type]
        assert sink.tls is not None
        kw = {"hostname": sink.host, "port": sink.port, "timeout": 5, "tls_context": sink.tls.client_context(),
              "start_tls": mode == "starttls", "use_tls": mode == "ssl"}
        with pytest.raises(aiosmtplib.SMTPException):  # AUTH is required
            await aiosmtplib.send(chinese_mail(), **kw)
        await aiosmtplib.send(chinese_mail(), username="robot", password="pa55", **kw)
        [got] = sink.wait_for(1)
        assert got.tls and got.login == "robot"
        assert got.message["Subject"] == SUBJECT
