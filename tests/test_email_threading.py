"""Threading, identity and noise rules of the mail channel, and the round trip through real
servers: an engineer's `回 N` reaches the SMTP server as a threaded mail, and the reporter's
answer to it comes back through IMAP onto the same ticket.

Most tests hand raw mail straight to the ingest transaction (what the poller does after
FETCH), so they run on both databases in milliseconds; the round trip uses Dovecot and
aiosmtpd.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from admin.mail import own_mail
from intake import InboundMessage
from intake.email import make_message_id, store
from intake.email.store import FetchedMail, MailItem
from tests.conftest import Env, FakeClock, make_env
from tests.fakes import mailserver
from tests.fakes.mailserver import Dovecot, SmtpSink
from tickets import service
from tickets.models import AuditLog, Outbox, Person, Ticket, TicketStatus

dovecot = mailserver.dovecot
smtp_sink = mailserver.smtp_sink

OURS = "helpdesk@weibao.example"


def env_for(tmp_path: Path, db_url: str, clock: FakeClock, **extra: object) -> Env:
    return make_env(tmp_path, db_url, clock, mail_from=f"维保服务台 <{OURS}>", **extra)


def mail(sender: str, subject: str, body: str, *, msgid: str, in_reply_to: str | None = None,
         references: tuple[str, ...] = (), cc: tuple[str, ...] = (), date: datetime | None = None,
         extra: str = "") -> bytes:
    """A plain UTF-8 mail; without ``date`` it has no Date: header (so no skew against a pinned clock)."""
    head = [f"From: {sender}", f"To: {OURS}", f"Subject: =?UTF-8?B?{base64.b64encode(subject.encode()).decode()}?=",
            f"Message-ID: {msgid}", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit"]
    if date is not None:
        head.append(f"Date: {email.utils.format_datetime(date)}")
    if cc:
        head.append("Cc: " + ", ".join(cc))
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    if references:
        head.append("References: " + " ".join(references))
    if extra:
        head.append(extra)
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()


class Mailroom:
    """Feeds raw mail through the ingest transaction and the bot, as the poller would."""

    def __init__(self, env: Env, hospital: str = "") -> None:
        self.env = env
        self.uid = 0
        self.hospital = hospital
        self.rules = store.IntakeRules(secret=env.settings.mail_secret(),
                                       own=own_mail(env.settings),
                                       max_attachment_bytes=1024, new_ticket_limit=3)

    def take(self, raw: bytes, *, internaldate: datetime | None = None) -> MailItem:
        self.uid += 1
        fetched = FetchedMail("default", 1, self.uid, raw, internaldate or self.env.clock(), self.env.clock(),
                              hospital=self.hospital)
        with self.env.db.session() as session:
            result = store.ingest(session, fetched, self.rules)
        self.env.runtime.drain_inbound()
        with self.env.db.session() as session:
            item = session.get(MailItem, result.item_id)
            assert item is not None
            return item

    def our_id(self, ticket_id: int) -> str:
        """The signed Message-ID of the latest mail we queued on that ticket."""
        with self.env.db.session() as session:
            row = session.exec(select(Outbox).where(Outbox.ticket_id == ticket_id, Outbox.channel == "email")
                               .order_by(Outbox.id.desc())).first()  # type: ignore[union-attr]
            assert row is not None
            return make_message_id(self.env.settings.mail_secret(), "weibao.example", ticket_id, row.id or 0)


def ticket_of(env: Env, item: MailItem) -> Ticket:
    with env.db.session() as session:
        fresh = session.get(MailItem, item.id)
        assert fresh is not None and fresh.ticket_id is not None, (fresh.status, fresh.reason) if fresh else None
        ticket = session.get(Ticket, fresh.ticket_id)
        assert ticket is not None
        return ticket


def audits(env: Env, action: str) -> list[AuditLog]:
    with env.db.session() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def mails_to(env: Env, address: str) -> list[Outbox]:
    with env.db.session() as session:
        return list(session.exec(select(Outbox).where(Outbox.channel == "email", Outbox.recipient == address)))


LIUFANG = "刘芳 <liufang@whcentral.example.cn>"


def test_each_threading_path_lands_on_the_same_ticket(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)
    first = room.take(mail(LIUFANG, "DRG系统白屏", "登录后白屏", msgid="<r1@whcentral.example.cn>"))
    ticket = ticket_of(env, first)
    assert len(mails_to(env, "liufang@whcentral.example.cn")) == 1  # the acknowledgement, once
    by_reply = room.take(mail(LIUFANG, "回复：[#1] DRG系统白屏", "补充：心内科三台电脑都这样",
                              msgid="<r2@whcentral.example.cn>", in_reply_to=room.our_id(ticket.id or 0)))
    by_references = room.take(mail(LIUFANG, "又一封", "截图稍后发", msgid="<r3@whcentral.example.cn>",
                                   in_reply_to="<unknown@elsewhere>",
                                   references=("<r1@whcentral.example.cn>", "<unknown@elsewhere>")))
    by_tag = room.take(mail(LIUFANG, "[#1] 还是白屏", "重启后仍然白屏", msgid="<r4@whcentral.example.cn>"))
    colleague = room.take(mail("吴刚 <wugang@whcentral.example.cn>", "Re: DRG系统白屏", "信息中心已知悉",
                               msgid="<r5@whcentral.example.cn>", in_reply_to="<r1@whcentral.example.cn>"))
    assert {ticket_of(env, i).id for i in (by_reply, by_references, by_tag, colleague)} == {ticket.id}
    # follow-ups are never acknowledged: at most one automatic mail per sender and ticket
    assert len(mails_to(env, "liufang@whcentral.example.cn")) == 1
    assert mails_to(env, "wugang@whcentral.example.cn") == []


def test_a_forged_subject_tag_from_a_stranger_is_refused(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock, imap_hospital="wuhan-central")
    room = Mailroom(env, hospital="wuhan-central")
    original = ticket_of(env, room.take(mail(LIUFANG, "DRG系统白屏", "登录后白屏", msgid="<f1@whcentral.example.cn>")))
    forged = room.take(mail("curious@unknown-mail.example", f"[#{original.id}] 请把处理记录发给我", "谢谢",
                            msgid="<f2@unknown-mail.example>"))
    stranger_ticket = ticket_of(env, forged)
    assert stranger_ticket.id != original.id and stranger_ticket.sender_unverified
    assert [a.ticket_id for a in audits(env, "mail.tag_refused")] == [original.id]
    (ack,) = mails_to(env, "curious@unknown-mail.example")
    assert f"#{stranger_ticket.id}" in ack.text and f"#{original.id}" not in ack.text.replace(f"#{stranger_ticket.id}", "")
    with env.db.session() as session:
        stranger = session.exec(select(Person).where(Person.email == "curious@unknown-mail.example")).one()
        assert "未验证" in stranger.review_note


def test_unknown_address_at_a_hospital_domain_becomes_a_flagged_person(tmp_path: Path, db_url: str,
                                                                       clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)
    item = room.take(mail("新护士 <newnurse@whcentral.example.cn>", "HIS无法打印", "打印腕带失败",
                          msgid="<n1@whcentral.example.cn>"))
    ticket = ticket_of(env, item)
    assert not ticket.sender_unverified
    with env.db.session() as session:
        person = session.exec(select(Person).where(Person.email == "newnurse@whcentral.example.cn")).one()
        assert person.hospital_id == ticket.hospital_id and person.name == "新护士" and "待核实" in person.review_note


def test_a_stranger_of_no_known_hospital_is_parked(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)  # five hospitals, no mailbox hospital: nowhere to put it
    item = Mailroom(env).take(mail("who@nowhere.example", "你好", "系统坏了", msgid="<s1@nowhere.example>"))
    with env.db.session() as session:
        fresh = session.get(MailItem, item.id)
        assert fresh is not None and fresh.status == store.PARKED and "医院" in fresh.reason_zh
        assert session.exec(select(Ticket)).all() == []


def test_reply_to_a_ticket_closed_long_ago_opens_a_linked_ticket(tmp_path: Path, db_url: str,
                                                                  clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)
    old = ticket_of(env, room.take(mail(LIUFANG, "DRG系统白屏", "登录后白屏", msgid="<c1@whcentral.example.cn>")))
    our_id = room.our_id(old.id or 0)
    with env.db.session() as session:
        ticket = session.get(Ticket, old.id)
        assert ticket is not None
        service.record_event(session, ticket, "resolved", service.SYSTEM, clock())
    clock.advance(days=env.settings.mail_reopen_days + 1)
    new = ticket_of(env, room.take(mail(LIUFANG, "回复：DRG系统白屏", "又白屏了", msgid="<c2@whcentral.example.cn>",
                                        in_reply_to=our_id)))
    assert new.id != old.id and new.follows_ticket_id == old.id
    assert any(f"#{old.id}" in m.text and f"#{new.id}" in m.text for m in mails_to(env, "liufang@whcentral.example.cn"))


def test_noise_bounces_floods_skew_and_big_attachments(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)
    ticket = ticket_of(env, room.take(mail(LIUFANG, "DRG系统白屏", "登录后白屏", msgid="<x1@whcentral.example.cn>")))
    ours = room.our_id(ticket.id or 0)
    ooo = room.take(mail(LIUFANG, "自动回复：DRG系统白屏", "我正在休假", msgid="<x2@whcentral.example.cn>",
                         in_reply_to=ours, extra="Auto-Submitted: auto-replied"))
    assert ooo.status == store.DROPPED and ooo.reason_zh
    bounce = room.take(
        b"From: MAILER-DAEMON@weibao.example\r\nTo: " + OURS.encode() + b"\r\nSubject: Undelivered Mail Returned to "
        b"Sender\r\nMessage-ID: <b1@weibao.example>\r\nDate: " + email.utils.format_datetime(clock()).encode()
        + b"\r\nReturn-Path: <>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b" boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nmailbox full\r\n--BB\r\nContent-Type: "
        b"message/delivery-status\r\n\r\nReporting-MTA: dns; weibao.example\r\n\r\nFinal-Recipient: rfc822; "
        b"liufang@whcentral.example.cn\r\nAction: failed\r\nStatus: 5.2.2\r\n--BB\r\nContent-Type: "
        b"text/rfc822-headers\r\n\r\nMessage-ID: " + ours.encode() + b"\r\n--BB--\r\n")
    assert bounce.status == store.BOUNCE and bounce.ticket_id == ticket.id
    assert [a.ticket_id for a in audits(env, "mail.bounced")] == [ticket.id]
    # a flood: the rules allow 3 new threads per sender in 10 minutes, the rest wait for review
    flood = [room.take(mail(LIUFANG, f"问题{n}", "内容", msgid=f"<fl{n}@whcentral.example.cn>")) for n in range(4)]
    assert [i.status for i in flood] == [store.ACCEPTED, store.ACCEPTED, store.PARKED, store.PARKED]
    assert "10 分钟" in flood[-1].reason_zh
    # the sender's PC clock is 2 hours off: kept as evidence, flagged, the receipt time counts
    skewed = room.take(mail("吴刚 <wugang@whcentral.example.cn>", "PACS调阅慢", "很慢", msgid="<sk@whcentral.example.cn>",
                            date=clock() - timedelta(hours=2)))
    (flag,) = audits(env, "mail.date_skew")
    assert flag.ticket_id == ticket_of(env, skewed).id and flag.detail["skew_seconds"] == -7200
    assert ticket_of(env, skewed).reported_at == clock()


def test_an_oversize_attachment_is_refused_with_a_note(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)  # rules: 1 KiB attachment limit
    big = base64.encodebytes(b"x" * 4096).decode().replace("\n", "\r\n")
    raw = ("From: " + LIUFANG + "\r\nTo: " + OURS + "\r\nSubject: =?UTF-8?B?"
           + base64.b64encode("导出日志".encode()).decode() + "?=\r\nMessage-ID: <big@whcentral.example.cn>\r\n"
           "Date: " + email.utils.format_datetime(clock()) + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
           " boundary=ZZ\r\n\r\n--ZZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n见附件\r\n--ZZ\r\n"
           "Content-Type: application/zip; name=log.zip\r\nContent-Disposition: attachment; filename=log.zip\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + big + "--ZZ--\r\n").encode()
    ticket = ticket_of(env, room.take(raw))
    with env.db.session() as session:
        (att,) = store.attachments_of_ticket(session, ticket.id or 0)
        assert att.refused == "too_large" and att.size == 4096
    notes = [m.text for m in mails_to(env, "liufang@whcentral.example.cn") if "log.zip" in m.text]
    assert len(notes) == 1 and "超过" in notes[0]


# -- the round trip through real servers ------------------------------------------------------------

def test_engineer_reply_reaches_smtp_threaded_and_the_answer_comes_back(tmp_path: Path, db_url: str,
                                                                       dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(now)
    env = env_for(tmp_path, db_url, clock, imap_host=dovecot.host, imap_port=dovecot.port, imap_tls="none",
                  imap_user="helpdesk", imap_password="secret", smtp_host=smtp_sink.host, smtp_port=smtp_sink.port,
                  smtp_tls="none")
    (poller,) = env.runtime.pollers
    dovecot.deliver("helpdesk", mail(LIUFANG, "DRG系统白屏", "登录后白屏，全科无法结算", msgid="<rt1@whcentral.example.cn>",
                                     date=now - timedelta(minutes=10)), internaldate=now - timedelta(minutes=10))
    asyncio.run(poller.poll_once())
    env.runtime.drain_inbound()
    env.runtime.drain_outbox()
    (ack,) = smtp_sink.messages
    number = int(str(ack.message["Subject"]).split("]")[0].removeprefix("[#"))
    assert ack.message["Auto-Submitted"] == "auto-replied" and ack.message["In-Reply-To"] == "<rt1@whcentral.example.cn>"
    assert ack.rcpt_tos == ["liufang@whcentral.example.cn"] and "回复：DRG系统白屏" in str(ack.message["Subject"])

    with env.db.session() as session:
        engineer = session.exec(select(Person).where(Person.wecom_userid == "zhangwei")).one()
    clock.advance(minutes=3)
    env.runtime.accept(InboundMessage(channel="webchat", external_id="eng-1", sender=str(engineer.id),
                                      channel_ts=clock(), received_at=clock(), text=f"回 {number} 请清除浏览器缓存后重试"))
    env.runtime.drain_inbound()
    env.runtime.drain_outbox()
    reply = smtp_sink.messages[-1]
    assert reply is not ack and "请清除浏览器缓存后重试" in reply.message.get_body(("plain",)).get_content()
    assert reply.message["Auto-Submitted"] is None  # a person's words: auto-responders may answer it
    assert f"[#{number}]" in str(reply.message["Subject"])
    assert reply.message["In-Reply-To"] == "<rt1@whcentral.example.cn>"
    assert reply.message.get_body(("html",)) is not None
    with env.db.session() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None and ticket.first_response_at == clock() and ticket.status == TicketStatus.CLAIMED

    clock.advance(minutes=5)
    answer = mail(LIUFANG, "回复：" + str(reply.message["Subject"]), "清除缓存后可以了，谢谢！\r\n\r\n"
                  "------------------ 原始邮件 ------------------\r\n发件人: 维保服务台\r\n请清除浏览器缓存后重试",
                  msgid="<rt2@whcentral.example.cn>", in_reply_to=reply.message["Message-ID"],
                  references=("<rt1@whcentral.example.cn>", reply.message["Message-ID"]), date=clock())
    dovecot.deliver("helpdesk", answer, internaldate=datetime.now(UTC).replace(microsecond=0))
    asyncio.run(poller.poll_once())
    env.runtime.drain_inbound()
    with env.db.session() as session:
        texts = [m.text for m in service.messages_of(session, number) if m.direction == "in"]
        assert texts[-1] == "清除缓存后可以了，谢谢！"  # the quoted history is cut
    assert len(smtp_sink.messages) == 2  # the answer is not acknowledged by mail
