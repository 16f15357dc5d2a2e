"""The inbound worker's batch way for new mail must write exactly what the one-by-one way writes.

Issue 5: a batch's plain new-thread mails get their people and tickets stored with one
INSERT per table (bot.mail_flow.prepare, tickets.db.insert_all), then each mail is
handled as before. The same mails, delivered to two mailboxes of one real Dovecot and
taken in by two installations at the same instant, are handled one way each; every row
of every table the bot writes must come out the same. And a batch that fails anywhere is
handled again one entry at a time, leaving nothing of the failed attempt behind.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlmodel import func, select

from admin.runtime import Runtime
from bot import state
from intake import InboundRecord, journal
from intake.email import store as mail_store
from tests.conftest import Env, FakeClock, make_env, postgres_database
from tests.fakes.mailserver import Dovecot
from tickets.models import Message, Person, Ticket

# Rows the bot writes for a new mail, and the columns that name the mailbox (the two
# installations read different mailboxes of one server: that difference is the setup's).
TABLES = ["person", "ticket", "message", "ticket_clock", "timer", "audit_log", "outbox", "bot_conversation",
          "mail_item", "mail_attachment", "inbound_message"]
MAILBOX_COLUMNS = {"mailbox", "uidvalidity"}


def _b64(value: str, charset: str = "utf-8") -> str:
    return base64.b64encode(value.encode(charset)).decode()


def plain_mails(at: datetime) -> list[bytes]:
    """New reports of several kinds: new addresses at two hospitals, a directory reporter,
    GBK labelled gb2312, HTML only, a system named or not, an attachment."""
    head = "To: helpdesk@weibao.example\r\nMIME-Version: 1.0\r\nDate: " + format_datetime(at) + "\r\n"
    mails = []
    senders = ["wangkun@whcentral.example.cn", "liufang@whcentral.example.cn", "zhaoyi@gdph.example.cn",
               "qianer@whcentral.example.cn", "sunsan@gdph.example.cn", "lisi@whcentral.example.cn"]
    subjects = ["DRG系统分组结果异常", "HIS 登录不了", "透析机数据不同步", "电脑蓝屏", "打印机卡纸", "DRG 上传失败"]
    for n, (sender, subject) in enumerate(zip(senders, subjects, strict=True)):
        msg_head = head + f"From: {sender}\r\nMessage-ID: <batch.{n}@example.cn>\r\n"
        if n == 0:  # GBK bytes labelled gb2312 (堃 is outside GB2312)
            mails.append((msg_head + f"Subject: =?gb2312?B?{_b64(subject, 'gbk')}?=\r\n"
                          "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          f"{_b64('王堃：' + subject + '，请尽快处理。', 'gbk')}\r\n").encode())
        elif n == 3:  # HTML only
            html = f"<html><body><div>{subject}，科室三台电脑</div></body></html>"
            mails.append((msg_head + f"Subject: =?UTF-8?B?{_b64(subject)}?=\r\n"
                          "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          f"{_b64(html)}\r\n").encode())
        elif n == 5:  # a screenshot attached
            mails.append((msg_head + f"Subject: =?UTF-8?B?{_b64(subject)}?=\r\n"
                          'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
                          "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          f"{_b64('上传时报错，截图见附件')}\r\n--b\r\nContent-Type: image/png\r\n"
                          'Content-Disposition: attachment; filename="err.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                          f"{base64.b64encode(b'PNG' * 50).decode()}\r\n--b--\r\n").encode())
        else:
            mails.append((msg_head + f"Subject: =?UTF-8?B?{_b64(subject)}?=\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          f"{_b64(subject + '，请尽快处理。')}\r\n").encode())
    return mails


@contextmanager
def second_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with postgres_database() as url:
        yield url


def mail_env(tmp_path: Path, db_url: str, clock: FakeClock, server: Dovecot, user: str) -> Env:
    return make_env(tmp_path, db_url, clock, imap_host=server.host, imap_port=server.port, imap_tls="none",
                    imap_user=user, imap_password="secret", mail_from="维保服务台 <helpdesk@weibao.example>")


def take_in(env: Env) -> None:
    (poller,) = env.runtime.pollers
    asyncio.run(poller.poll_once())


def one_by_one(runtime: Runtime) -> None:
    """The way every batch went before issue 5's batch path, and the way a failed batch goes now."""
    while True:
        with runtime.db.session() as session:
            records = journal.claim(session, 20)
            for record in records:
                runtime._process(session, record)
        if not records:
            return


def dump(env: Env) -> dict[str, list[dict[str, Any]]]:
    with env.db.engine.connect() as conn:
        return {table: [{k: v for k, v in row._mapping.items() if k not in MAILBOX_COLUMNS}
                        for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]  # noqa: S608
                for table in TABLES if table != "bot_conversation"} | {
            "bot_conversation": [dict(row._mapping) for row in
                                 conn.execute(text("SELECT * FROM bot_conversation ORDER BY person_id"))]}


def ticket_inserts(env: Env) -> list[str]:
    """Every INSERT INTO ticket the engine sends from now on."""
    seen: list[str] = []

    @event.listens_for(env.db.engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().startswith("INSERT INTO ticket "):
            seen.append(statement)

    return seen


def test_the_batch_way_writes_what_the_one_by_one_way_writes(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    received = clock() - timedelta(minutes=20)
    with Dovecot(users={"batch": "secret", "single": "secret"}, tls=False) as server, \
            second_database(db_url, tmp_path) as other_url:
        for raw in plain_mails(received - timedelta(seconds=30)):
            server.deliver("batch", raw, internaldate=received)
            server.deliver("single", raw, internaldate=received)
        batch = mail_env(tmp_path / "a", db_url, clock, server, "batch")
        single = mail_env(tmp_path / "b", other_url, clock, server, "single")
        for env in (batch, single):
            take_in(env)
            with env.db.session() as session:  # a directory reporter the bot was already talking to
                liufang = session.exec(select(Person).where(Person.wecom_userid == "liufang")).one()
                state.save(session, liufang.id or 0, None, "", [], clock() - timedelta(days=3))
        inserts = ticket_inserts(batch)
        batch.runtime.drain_inbound()
        one_by_one(single.runtime)
        assert len(inserts) == 1, "the six tickets went in as one statement"
        mine, theirs = dump(batch), dump(single)
        batch.db.dispose()
        single.db.dispose()
    with_tickets = [r for r in mine["ticket"] if r["reported_at"] is not None]
    assert len(with_tickets) >= 6 and len(mine["message"]) >= 12  # the mails did open tickets, each acknowledged
    for table in TABLES:
        assert mine[table] == theirs[table], f"{table} differs between the two ways"


def test_a_batch_that_fails_is_handled_one_by_one_and_leaves_nothing_behind(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    received = clock() - timedelta(minutes=5)
    with Dovecot(users={"helpdesk": "secret"}, tls=False) as server:
        for raw in plain_mails(received):
            server.deliver("helpdesk", raw, internaldate=received)
        env = mail_env(tmp_path, db_url, clock, server, "helpdesk")
        take_in(env)
        with env.db.session() as session:
            people_before = session.exec(select(func.count()).select_from(Person)).one()
            bad = session.exec(select(mail_store.MailItem.id).where(
                mail_store.MailItem.from_addr == "qianer@whcentral.example.cn")).one()
        real_link = mail_store.link

        def link_failing_for_one_mail(session, item_id, ticket_id, **kw):  # type: ignore[no-untyped-def]
            if item_id == bad:  # a fault in the middle of the batch, after its tickets were stored
                raise RuntimeError("disk trouble on one mail")
            return real_link(session, item_id, ticket_id, **kw)

        mail_store.link = link_failing_for_one_mail  # type: ignore[assignment]
        try:
            env.runtime.process_next()
        finally:
            mail_store.link = real_link  # type: ignore[assignment]
        with env.db.session() as session:
            records = {r.sender: r for r in session.exec(select(InboundRecord))}
            assert records["qianer@whcentral.example.cn"].status == journal.PENDING
            assert records["qianer@whcentral.example.cn"].attempts == 1
            assert "disk trouble" in records["qianer@whcentral.example.cn"].error
            assert sum(r.status == journal.DONE for r in records.values()) == 5
            tickets = session.exec(select(Ticket)).all()
            assert len(tickets) == 5  # the failed attempt's six stored tickets were rolled back with it
            for ticket in tickets:  # none left without its report
                assert session.exec(select(func.count()).select_from(Message)
                                    .where(Message.ticket_id == ticket.id, Message.direction == "in")).one() == 1
            new_people = session.exec(select(func.count()).select_from(Person)).one() - people_before
            assert new_people == 4  # five mails landed, one from a directory reporter (刘芳)
        env.runtime.drain_inbound()  # the fault is gone: the mail lands on its next attempt
        with env.db.session() as session:
            assert session.exec(select(func.count()).select_from(Ticket)).one() == 6
        env.db.dispose()

