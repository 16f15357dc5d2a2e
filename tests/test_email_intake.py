"""Mail intake against a real Dovecot: the report time is INTERNALDATE, nothing is lost or
doubled across restarts, UIDVALIDITY changes and concurrent pollers, the mailbox is never
changed, and every corpus mail ends where it should.

INTERNALDATE must not lie in the future (Dovecot replaces it), so these tests run on a
clock pinned to the machine's real "now" rather than the suite's usual Monday morning.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from admin.mail import pollers
from bot import Bot
from bot.mail_flow import MailConfig
from intake import InboundRecord
from intake.email import store
from intake.email.imap import ImapConfig
from intake.email.poller import MailboxPoller, PassResult
from intake.email.store import MailAttachment, MailItem
from tests.conftest import Env, FakeClock, make_env, postgres_database
from tests.fakes import mail_corpus as mc
from tests.fakes import mailserver
from tests.fakes.mailserver import Dovecot
from tickets import service
from tickets.models import AuditLog, Hospital, Message, Person, Ticket

dovecot = mailserver.dovecot

HOSPITAL_DOMAIN = "whcentral.example.cn"  # the demo's 武汉市中心医院


def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def live_clock() -> FakeClock:
    return FakeClock(real_now())


def mail_env(tmp_path: Path, db_url: str, clock: FakeClock, server: Dovecot, **extra: object) -> Env:
    return make_env(tmp_path, db_url, clock, imap_host=server.host, imap_port=server.port, imap_tls="none",
                    imap_user="helpdesk", imap_password="secret", mail_from="维保服务台 <helpdesk@weibao.example>",
                    **extra)


def report(sender: str, subject: str, body: str, *, date: datetime | None = None, msgid: str | None = None) -> bytes:
    msgid = msgid or email.utils.make_msgid(domain=sender.rpartition("@")[2])
    when = email.utils.format_datetime(date or real_now())
    return (f"From: {sender}\r\nTo: helpdesk@weibao.example\r\nSubject: =?UTF-8?B?"
            f"{__import__('base64').b64encode(subject.encode()).decode()}?=\r\nDate: {when}\r\n"
            f"Message-ID: {msgid}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode()


def deliver_reports(server: Dovecot, count: int, prefix: str, minutes_ago: float) -> None:
    """``count`` one-line reports from distinct people of the demo's 武汉市中心医院."""
    for n in range(count):
        server.deliver("helpdesk", report(f"{prefix}{n}@{HOSPITAL_DOMAIN}", f"问题 {prefix}{n}", "内容"),
                       internaldate=real_now() - timedelta(minutes=minutes_ago))


def poll(env: Env) -> PassResult:
    (poller,) = env.runtime.pollers
    return asyncio.run(poller.poll_once())


def count(session: Session, model: type, *where: object) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


# -- the report's time ----------------------------------------------------------------------------

def test_ticket_reported_at_is_internaldate_even_after_an_hour_offline(tmp_path: Path, db_url: str,
                                                                        live_clock: FakeClock,
                                                                        dovecot: Dovecot) -> None:
    """The mail reached the server an hour before the poller ran: the clock starts at receipt."""
    env = mail_env(tmp_path, db_url, live_clock, dovecot)
    received = real_now() - timedelta(hours=1)
    dovecot.deliver("helpdesk", report("liufang@whcentral.example.cn", "DRG系统打不开", "登录后白屏，全科室无法使用",
                                       date=received - timedelta(seconds=40)), internaldate=received)
    result = poll(env)
    assert result.journaled == 1
    env.runtime.drain_inbound()
    with env.db.session() as session:
        (ticket,) = session.exec(select(Ticket)).all()
        assert ticket.reported_at == received
        (msg,) = service.messages_of(session, ticket.id or 0)[:1]
        assert msg.channel_ts == received and msg.received_at == live_clock()
        assert msg.meta and msg.meta["date_header"] and msg.meta["channel_ts_source"] == "internaldate"
        assert ticket.response_due_at is not None and ticket.response_due_at > received
        item = session.exec(select(MailItem)).one()
        assert item.fetched_at == live_clock() and item.internaldate == received and item.ticket_id == ticket.id
    env.db.dispose()


def test_mailbox_is_never_changed_without_a_processed_folder(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                                             dovecot: Dovecot) -> None:
    env = mail_env(tmp_path, db_url, live_clock, dovecot)
    deliver_reports(dovecot, 3, "u", 5)
    poll(env)
    assert dovecot.count("helpdesk") == 3
    assert all("\\Seen" not in dovecot.flags("helpdesk", uid) and "\\Deleted" not in dovecot.flags("helpdesk", uid)
               for uid in (1, 2, 3))
    env.db.dispose()


def test_processed_folder_receives_taken_mail(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                              dovecot: Dovecot) -> None:
    dovecot.create_folder("helpdesk", "Processed")
    env = mail_env(tmp_path, db_url, live_clock, dovecot, imap_processed_folder="Processed")
    deliver_reports(dovecot, 2, "u", 5)
    poll(env)
    assert dovecot.count("helpdesk") == 0 and dovecot.count("helpdesk", "Processed") == 2
    with env.db.session() as session:
        assert count(session, MailItem) == 2
    env.db.dispose()


def test_mail_taken_but_not_yet_moved_is_moved_on_the_next_pass(tmp_path: Path, db_url: str,
                                                                live_clock: FakeClock, dovecot: Dovecot) -> None:
    """As after a crash between the commit and the MOVE: the cursor is past the mail, the mail still in INBOX."""
    dovecot.create_folder("helpdesk", "Processed")
    env = mail_env(tmp_path, db_url, live_clock, dovecot)  # no processed folder: taken, left in place
    deliver_reports(dovecot, 2, "u", 5)
    poll(env)
    (poller,) = env.runtime.pollers
    moving = MailboxPoller(env.db, replace(poller.config, processed_folder="Processed"), poller.rules, live_clock)
    result = asyncio.run(moving.poll_once())
    assert result.fetched == 0  # nothing new to take ...
    assert dovecot.count("helpdesk") == 0 and dovecot.count("helpdesk", "Processed") == 2  # ... but moved
    env.db.dispose()


# -- exactly once ---------------------------------------------------------------------------------

def test_a_poller_killed_mid_batch_loses_and_doubles_nothing(tmp_path: Path, live_clock: FakeClock,
                                                              dovecot: Dovecot) -> None:
    """`helpdesk mail poll --once` is SIGKILLed while taking 400 mails; the next run takes the rest."""
    db_url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    env = mail_env(tmp_path, db_url, live_clock, dovecot, mail_new_ticket_limit=1000)
    total = 400
    for n in range(total):
        dovecot.deliver("helpdesk", report(f"user{n}@whcentral.example.cn", f"故障 {n}", f"第 {n} 封"),
                        internaldate=real_now() - timedelta(minutes=30))
    cli_env = {**os.environ, "HELPDESK_DATABASE_URL": db_url, "HELPDESK_VAR_DIR": str(env.settings.var_dir),
               "HELPDESK_SECRET_KEY": "test-secret", "HELPDESK_IMAP_HOST": dovecot.host,
               "HELPDESK_IMAP_PORT": str(dovecot.port), "HELPDESK_IMAP_TLS": "none", "HELPDESK_IMAP_USER": "helpdesk",
               "HELPDESK_IMAP_PASSWORD": "secret", "HELPDESK_KB_ENABLED": "false", "HELPDESK_LOG_LEVEL": "WARNING",
               "HELPDESK_MAIL_NEW_TICKET_LIMIT": "1000"}
    cmd = [sys.executable, "-m", "admin.cli", "mail", "poll", "--once"]
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    # a plain reader (no BEGIN IMMEDIATE): it never waits for the poller's write lock, so the
    # kill lands right after the first batches commit, not after the whole pass
    reader = sqlite3.connect(tmp_path / "helpdesk.db")
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # the table may not exist yet
            if reader.execute("SELECT count(*) FROM mail_item").fetchone()[0] >= 3:
                break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    reader.close()
    proc.wait()
    with env.db.session() as session:
        taken = count(session, MailItem)
    assert 0 < taken < total, "the kill must land mid-batch for this test to mean anything"
    again = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with env.db.session() as session:
        assert count(session, MailItem) == total
        assert count(session, InboundRecord, InboundRecord.channel == "email") == total
        assert count(session, Ticket) == total  # the second run also processed the journal
        keys = session.exec(select(Message.external_id).where(Message.channel == "email",
                                                                Message.direction == "in")).all()
        assert len(keys) == len(set(keys)) == total
    env.db.dispose()


def test_uidvalidity_change_rescans_without_duplicates(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                                       dovecot: Dovecot) -> None:
    env = mail_env(tmp_path, db_url, live_clock, dovecot)
    deliver_reports(dovecot, 4, "u", 9)
    first = poll(env)
    assert first.journaled == 4
    old = dovecot.uidvalidity("helpdesk")
    assert dovecot.reset_uidvalidity("helpdesk") != old
    dovecot.deliver("helpdesk", report("late@whcentral.example.cn", "新问题", "内容"),
                    internaldate=real_now() - timedelta(minutes=1))
    second = poll(env)
    assert second.rescanned and second.fetched == 5 and second.journaled == 1
    assert second.statuses.get("duplicate") == 4
    env.runtime.drain_inbound()
    with env.db.session() as session:
        assert count(session, Ticket) == 5
        box = store.cursor(session, "default")
        assert box.uidvalidity == dovecot.uidvalidity("helpdesk") and box.rescans == 1 and box.last_uid == 5
    env.db.dispose()


@pytest.mark.postgres
def test_three_concurrent_pollers_on_postgres_make_one_ticket_per_mail(tmp_path: Path, live_clock: FakeClock,
                                                                        dovecot: Dovecot, pg_db_url: str) -> None:
    """The advisory lock lets one poller read; and even three that bypass it double nothing."""
    db_url = pg_db_url
    env = mail_env(tmp_path, db_url, live_clock, dovecot, mail_new_ticket_limit=1000)
    total = 60
    deliver_reports(dovecot, total, "p", 3)
    envs = [env] + [mail_env(tmp_path / f"w{i}", db_url, live_clock, dovecot) for i in range(2)]
    three = [p for e in envs for p in e.runtime.pollers]

    async def together() -> list[object]:
        return await asyncio.gather(*(p.poll_once() for p in three))

    results = asyncio.run(together())
    assert sorted(r.skipped_locked for r in results) == [False, True, True]

    async def bypassing_the_lock() -> None:  # what a buggy deployment without the lock would do
        from intake.email.imap import ImapConnection

        async def scan(poller: MailboxPoller) -> None:
            conn = await ImapConnection.open(poller.config)
            try:
                await poller._scan(conn)
            finally:
                await conn.close()

        for poller in three:  # start from zero: every mail is offered to all three again
            with poller.db.session() as session:
                store.reset(session, poller.config.name, 1)
        await asyncio.gather(*(scan(p) for p in three))

    asyncio.run(bypassing_the_lock())
    for e in envs:
        e.runtime.drain_inbound()
    with env.db.session() as session:
        assert count(session, MailItem) == total
        assert count(session, Ticket) == total
        assert count(session, InboundRecord, InboundRecord.channel == "email") == total
    for e in envs:
        e.db.dispose()


@pytest.fixture
def pg_db_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_malformed_mail_never_stops_the_poller(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                               dovecot: Dovecot) -> None:
    env = mail_env(tmp_path, db_url, live_clock, dovecot, imap_hospital="wuhan-central")
    at = real_now() - timedelta(minutes=2)
    dovecot.deliver("helpdesk", mc.by_name("malformed_mime").raw(), internaldate=at)
    dovecot.deliver("helpdesk", b"\x00\xff garbage that is no mail at all \r\n\r\n\xfe", internaldate=at)
    dovecot.deliver("helpdesk", mc.by_name("truncated_mid_attachment").raw(), internaldate=at)
    dovecot.deliver("helpdesk", report("after@whcentral.example.cn", "后面的邮件", "照常处理"), internaldate=at)
    result = poll(env)
    assert result.fetched == 4
    env.runtime.drain_inbound()
    with env.db.session() as session:
        statuses = {i.from_addr: i.status for i in session.exec(select(MailItem))}
        assert statuses["after@whcentral.example.cn"] == store.ACCEPTED
        assert statuses[""] == store.PARKED  # no sender at all: kept for review, with its reason
        assert count(session, Ticket) == 2  # the truncated one (an unverified sender) and the last one
        assert store.cursor(session, "default").last_uid == 4
    env.db.dispose()


# -- the corpus end to end --------------------------------------------------------------------------

TAG_ONLY_FROM_STRANGERS = {"qq_reply_no_thread_headers", "mail139_fullwidth_tag", "forged_subject_tag"}


def corpus_world(env: Env) -> int:
    """The corpus story: 王堃 of 人民医院 (rmyy.example.cn) reported ticket 12 by mail."""
    with env.db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        hospital.mail_domains = [HOSPITAL_DOMAIN, mc.HOSPITAL]
        session.add(hospital)
        wangkun = Person(name="王堃", hospital_id=hospital.id, department="放射科CT室", email="wangkun@rmyy.example.cn")
        session.add(wangkun)
        session.flush()
        contract = service.contract_for_hospital(session, hospital.id or 0)
        assert contract is not None
        ticket = None
        for n in range(12):
            first = f"<earlier-report-{n}@rmyy.example.cn>"  # the corpus's own report mail comes in below
            rep = service.Report(channel="email", external_id=first, text="CT室电脑蓝屏",
                                 channel_ts=env.clock() - timedelta(hours=3), received_at=env.clock(),
                                 meta={"message_id": first, "subject": "CT室电脑蓝屏", "from": wangkun.email})
            ticket, _ = service.open_ticket(session, reporter=wangkun, hospital=hospital, contract=contract,
                                            report=rep, system=None, now=env.clock())
        assert ticket is not None and ticket.id == 12
        return ticket.id


def test_every_corpus_mail_ends_where_it_should(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                                dovecot: Dovecot) -> None:
    env = mail_env(tmp_path, db_url, live_clock, dovecot, imap_hospital="wuhan-central")
    # the corpus's Message-IDs are signed with its own secret: give the bot and the poller that secret
    (poller,) = env.runtime.pollers
    poller.rules = replace(poller.rules, secret=mc.CORPUS_SECRET)
    env.runtime.bot = Bot(replace(env.runtime.bot.config, mail=MailConfig(secret=mc.CORPUS_SECRET)))
    corpus_world(env)
    assert len(mc.CORPUS) >= 30
    base = real_now() - timedelta(hours=2)
    for n, case in enumerate(mc.CORPUS):
        dovecot.deliver("helpdesk", case.raw(), internaldate=base + timedelta(seconds=n))
    result = poll(env)
    assert result.fetched == len(mc.CORPUS)
    env.runtime.drain_inbound()
    with env.db.session() as session:
        by_key = {i.mail_key: i for i in session.exec(select(MailItem))}
        for case in mc.CORPUS:
            item = next(i for i in by_key.values() if i.message_id == case.message_id and i.from_addr == case.from_addr
                        ) if case.message_id else next(i for i in by_key.values() if i.subject == case.subject)
            check_case(session, case, item)
    env.db.dispose()


def check_case(session: Session, case: mc.MailCase, item: MailItem) -> None:
    where = f"{case.name}: {item.status} {item.reason}"
    if case.noise in ("auto_reply", "bulk", "list", "loop"):
        assert item.status == store.DROPPED, where
        assert item.reason_zh, where
        assert not session.exec(select(Message).where(Message.external_id == item.mail_key)).first(), where
        return
    if case.noise == "bounce":
        assert item.status == store.BOUNCE, where
        assert item.ticket_id == 12, where  # the ticket whose mail bounced, never a new one
        bounced = session.exec(select(AuditLog).where(AuditLog.action == "mail.bounced",
                                                      AuditLog.ticket_id == 12)).all()
        assert bounced, where
        return
    if not case.from_addr:
        assert item.status == store.PARKED and "发件人" in item.reason_zh, where
        return
    assert item.status == store.ACCEPTED, where
    message = session.exec(select(Message).where(Message.external_id == item.mail_key)).one()
    if case.ticket_number == 12 and case.name not in TAG_ONLY_FROM_STRANGERS:
        assert message.ticket_id == 12, where
    else:
        assert message.ticket_id != 12, where
    assert item.ticket_id == message.ticket_id, where
    files = session.exec(select(MailAttachment).where(MailAttachment.mail_item_id == item.id)
                         .order_by(col(MailAttachment.id))).all()
    assert tuple(f.filename for f in files) == case.attachments, where
    for f in files:
        assert f.ticket_id == message.ticket_id, where
        assert (f.refused == "too_large") == case.big and (f.data is None) == case.big, where
    if case.text_has:
        assert all(part in message.text for part in case.text_has), where
    if case.name == "forged_subject_tag":
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None and ticket.sender_unverified, where


def test_pollers_come_from_settings_and_the_config_file(tmp_path: Path, live_clock: FakeClock) -> None:
    config = tmp_path / "helpdesk.toml"
    config.write_text('[[mailboxes]]\nname = "gdph"\nhost = "imap.gdph.example.cn"\nuser = "it"\npassword = "x"\n'
                      'hospital = "gdph"\ntls = "starttls"\n', encoding="utf-8")
    os.environ["HELPDESK_CONFIG"] = str(config)
    try:
        env = make_env(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", live_clock, imap_host="imap.example.cn",
                       imap_user="a", imap_password="b")
        names = [(p.config.name, p.config.host, p.config.tls, p.config.hospital) for p in env.runtime.pollers]
        assert names == [("default", "imap.example.cn", "ssl", ""),
                         ("gdph", "imap.gdph.example.cn", "starttls", "gdph")]
        assert pollers(env.settings, env.db, live_clock) and all(p.rules.secret for p in env.runtime.pollers)
        env.db.dispose()
    finally:
        del os.environ["HELPDESK_CONFIG"]


def test_imap_over_starttls_and_ssl(tmp_path: Path, db_url: str, live_clock: FakeClock, dovecot: Dovecot) -> None:
    env = mail_env(tmp_path, db_url, live_clock, dovecot)
    dovecot.deliver("helpdesk", report("tls@whcentral.example.cn", "加密连接", "内容"),
                    internaldate=real_now() - timedelta(minutes=1))
    assert dovecot.tls is not None and dovecot.ssl_port
    rules = env.runtime.pollers[0].rules
    for name, tls, port in (("starttls", "starttls", dovecot.port), ("ssl", "ssl", dovecot.ssl_port)):
        config = ImapConfig(name=name, host=dovecot.host, port=port, tls=tls, user="helpdesk",  # type: ignore[arg-type]
                            password="secret", ca_file=str(dovecot.tls.ca_cert))
        result = asyncio.run(MailboxPoller(env.db, config, rules, live_clock).poll_once())
        assert result.fetched == 1
    with env.db.session() as session:
        assert count(session, MailItem) == 1  # the same mail through two mailboxes: one item
    env.db.dispose()


def test_the_running_poller_takes_new_mail_as_idle_announces_it(tmp_path: Path, db_url: str, live_clock: FakeClock,
                                                                  dovecot: Dovecot) -> None:
    """`run()` waits in IDLE (renewed only every 10 minutes here): new mail must arrive by the server's push."""
    env = mail_env(tmp_path, db_url, live_clock, dovecot, mail_idle_s=600, mail_poll_s=600)
    (poller,) = env.runtime.pollers

    def items() -> int:
        with env.db.session() as session:
            return count(session, MailItem)

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        while (await asyncio.to_thread(_last_poll, env)) is None:  # the first pass has run: now in IDLE
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await dovecot.adeliver("helpdesk", report("idle@whcentral.example.cn", "推送", "内容"),
                               internaldate=real_now() - timedelta(seconds=5))
        while await asyncio.to_thread(items) == 0:
            assert time.monotonic() - started < 10, "IDLE did not bring the new mail"
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
        stop.set()
        await asyncio.wait_for(task, timeout=15)
        return took

    assert asyncio.run(scenario()) < 10
    env.db.dispose()


def _last_poll(env: Env) -> datetime | None:
    with env.db.session() as session:
        return store.cursor(session, "default").last_poll_at
