"""Mail intake throughput: N mails in a real Dovecot mailbox until they are all tickets, ours
against django-helpdesk's ``process_email`` on the same server and the same mails.

Both sides get identical mail in their own mailbox of one private Dovecot (delivered with
IMAP APPEND, INTERNALDATE an hour ago, as after a night with the poller stopped). The mix
is what hospitals send: plain UTF-8 reports, GBK mail labelled gb2312 with characters
outside GB2312 (names such as 王堃), HTML-only mail from webmail, and replies with quoted
history. Our time covers the IMAP pass *and* the bot turning the journal into tickets
(with their SLA clocks and acknowledgements queued); django-helpdesk's covers its
``process_email()`` calls only (see bench/django_helpdesk_side.py).

Besides the rate, each side is checked for losses: tickets made, mails left on the server,
titles that do not read as the sender wrote them, and whether the ticket's time is the
server's receipt time.

    .venv/bin/python bench/email_intake.py --mails 2000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import func, select  # noqa: E402

from admin.app import build_runtime  # noqa: E402
from admin.demo import load_demo  # noqa: E402
from admin.migrate import migrate  # noqa: E402
from admin.settings import Settings  # noqa: E402
from bench.django_helpdesk_side import run_django_helpdesk  # noqa: E402
from intake.email.store import MailItem  # noqa: E402
from tests.fakes.mailserver import Dovecot  # noqa: E402
from tickets.models import Message, Ticket  # noqa: E402

DOMAIN = "whcentral.example.cn"  # a demo hospital's mail domain: every sender becomes a person there
SYSTEMS = ["DRG系统", "HIS", "LIS检验系统", "PACS影像", "电子病历", "手麻系统", "合理用药"]
NAMES = ["王堃", "李喆", "张珺", "赵镕", "刘芳", "陈静"]  # 堃喆珺镕: outside GB2312, inside GBK


def _b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode()


def make_mail(n: int, at: datetime) -> tuple[bytes, str]:
    """Mail number ``n`` of the mix, and the subject as its sender meant it."""
    name = NAMES[n % len(NAMES)]
    subject = f"{SYSTEMS[n % len(SYSTEMS)]}故障 {n}号 {name}报修"
    body = f"{name}：{subject}，科室电脑无法使用，请尽快处理。"
    kind = n % 20
    sender = f"user{n}@{DOMAIN}"
    head = f"From: {sender}\r\nTo: helpdesk@weibao.example\r\nDate: {format_datetime(at)}\r\n" \
           f"Message-ID: <bench.{n}@{DOMAIN}>\r\nMIME-Version: 1.0\r\n"
    if kind < 3:  # GBK bytes labelled gb2312, as Foxmail and old Outlook send
        raw = head + f"Subject: =?gb2312?B?{_b64(subject, 'gbk')}?=\r\n" \
                     "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
                     f"{_b64(body, 'gbk')}\r\n"
    elif kind < 5:  # HTML only, as some webmail sends
        html = f"<html><body><div>{body}</div><div><br></div><div>信息科</div></body></html>"
        raw = head + f"Subject: =?UTF-8?B?{_b64(subject, 'utf-8')}?=\r\n" \
                     "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
                     f"{_b64(html, 'utf-8')}\r\n"
    elif kind < 6:  # a reply with Foxmail's quoted history
        quoted = f"{body}\r\n\r\n------------------ 原始邮件 ------------------\r\n发件人: 维保服务台\r\n已收到您的报障。"
        raw = head + f"Subject: =?UTF-8?B?{_b64('回复：' + subject, 'utf-8')}?=\r\n" \
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
                     f"{_b64(quoted, 'utf-8')}\r\n"
        subject = "回复：" + subject
    else:
        raw = head + f"Subject: =?UTF-8?B?{_b64(subject, 'utf-8')}?=\r\n" \
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
                     f"{_b64(body, 'utf-8')}\r\n"
    return raw.encode("ascii"), subject


def ours(server: Dovecot, user: str, mails: int, received: datetime, subjects: list[str], db_url: str,
         workdir: Path) -> dict[str, object]:
    settings = Settings(var_dir=workdir / "var", database_url=db_url or f"sqlite:///{workdir / 'helpdesk.db'}",
                        secret_key="bench", workers=False, kb_enabled=False, imap_host=server.host,
                        imap_port=server.port, imap_tls="none", imap_user=user, imap_password="secret",
                        mail_new_ticket_limit=100_000)
    settings.ensure_var_dir()
    migrate(settings.database_url, datetime.now(UTC))
    runtime = build_runtime(settings)
    with runtime.db.session() as session:
        load_demo(session, settings.var_dir, datetime.now(UTC))
    (poller,) = runtime.pollers
    start = time.perf_counter()
    result = asyncio.run(poller.poll_once())
    fetched_s = time.perf_counter() - start
    runtime.drain_inbound(limit=mails * 2)
    seconds = time.perf_counter() - start
    with runtime.db.session() as session:
        tickets = session.exec(select(func.count()).select_from(Ticket)).one()
        at_receipt = session.exec(select(func.count()).select_from(Ticket)
                                  .where(Ticket.reported_at == received)).one()
        firsts = session.exec(select(Message.text).where(Message.direction == "in")).all()
        items = session.exec(select(func.count()).select_from(MailItem)).one()
    wanted = {s.removeprefix("回复：") for s in subjects}
    readable = sum(1 for text in firsts if text.split("\n", 1)[0] in wanted)  # a new ticket's text opens with its subject
    runtime.db.dispose()
    return {"tickets": tickets, "items": items, "fetched": result.fetched, "seconds": round(seconds, 3),
            "imap_pass_seconds": round(fetched_s, 3), "mails_per_s": round(mails / seconds, 1),
            "mails_left_in_mailbox": server.count(user), "tickets_at_receipt_time": at_receipt,
            "tickets_reading_right": readable}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--db", default="", help="database URL for our side (default: a fresh SQLite file)")
    parser.add_argument("--skip-django", action="store_true", help="measure our side only")
    args = parser.parse_args()
    received = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp, \
            Dovecot(users={"ours": "secret", "dj": "secret"}, tls=False) as server:
        subjects = []
        t0 = time.perf_counter()
        for n in range(args.mails):
            raw, subject = make_mail(n, received - timedelta(seconds=30))
            subjects.append(subject)
            server.deliver("ours", raw, internaldate=received)
            if not args.skip_django:
                server.deliver("dj", raw, internaldate=received)
        print(f"delivered {args.mails} mails per mailbox in {time.perf_counter() - t0:.1f} s", flush=True)
        mine = ours(server, "ours", args.mails, received, subjects, args.db, Path(tmp))
        print("ours:", mine, flush=True)
        if args.skip_django:
            return 0
        theirs = run_django_helpdesk(server.host, server.port, "dj", "secret", expected=args.mails,
                                     expected_subjects=subjects)
        keys = ["version", "tickets", "seconds", "mails_per_s", "mails_left_in_mailbox", "deleted_from_server",
                "tickets_with_replacement_chars", "titles_not_matching_expected", "created_is_processing_time",
                "mails_lost"]
        print("django-helpdesk:", {k: theirs.get(k) for k in keys}, flush=True)
        ratio = float(mine["mails_per_s"]) / max(float(theirs["mails_per_s"]), 1e-9)  # type: ignore[arg-type]
        print(f"ratio: ours {mine['mails_per_s']} mails/s vs django-helpdesk {theirs['mails_per_s']} mails/s "
              f"= {ratio:.1f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
