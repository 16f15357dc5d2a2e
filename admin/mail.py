"""The email channel wired in: mailboxes from settings, pollers for the running process, and
the outbox's email sender (threaded replies through SMTP).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from admin.runtime import Clock, DeliveryFailed
from admin.settings import Settings
from bot.mail_flow import MailConfig, last_mail
from intake.email import OwnMail, SendFailed, SmtpConfig, compose, reply_subject, send, thread_subject
from intake.email.imap import ImapConfig
from intake.email.poller import MailboxPoller
from intake.email.store import IntakeRules
from tickets import Database
from tickets.models import Message, Outbox, Ticket

log = logging.getLogger(__name__)

MESSAGE_ID_PREFIX = "t"  # intake.email.ids: <t{ticket}.m{n}.{hmac}@domain>


def mailbox_configs(settings: Settings) -> list[ImapConfig]:
    """The first mailbox from HELPDESK_IMAP_*, more from [[mailboxes]] in the config file."""
    configs: list[ImapConfig] = []
    if settings.imap_host:
        configs.append(ImapConfig(
            name="default", host=settings.imap_host, port=settings.imap_port, tls=settings.imap_tls,
            user=settings.imap_user, password=settings.imap_password, folder=settings.imap_folder,
            processed_folder=settings.imap_processed_folder, hospital=settings.imap_hospital,
            ca_file=settings.mail_ca_file))
    for n, extra in enumerate(settings.mailboxes, start=1):
        try:
            configs.append(ImapConfig(**{"name": f"mailbox{n}", "ca_file": settings.mail_ca_file, **extra}))
        except TypeError as exc:
            raise ValueError(f"配置文件 [[mailboxes]] 第 {n} 项有误：{exc}") from exc
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"邮箱名称重复：{names}")
    return configs


def mail_domain(settings: Settings) -> str:
    if settings.mail_domain:
        return settings.mail_domain
    _name, address = email.utils.parseaddr(settings.mail_from)
    return address.rpartition("@")[2] or "helpdesk.invalid"


def own_mail(settings: Settings) -> OwnMail:
    _name, address = email.utils.parseaddr(settings.mail_from)
    return OwnMail.of(domains=[mail_domain(settings)], prefix=MESSAGE_ID_PREFIX, addresses=[address] if address else [])


def intake_rules(settings: Settings) -> IntakeRules:
    return IntakeRules(secret=settings.mail_secret(), own=own_mail(settings),
                       max_attachment_bytes=int(settings.mail_max_attachment_mb * 1024 * 1024),
                       new_ticket_limit=settings.mail_new_ticket_limit)


def bot_mail_config(settings: Settings) -> MailConfig:
    return MailConfig(secret=settings.mail_secret(), reopen_after=timedelta(days=settings.mail_reopen_days),
                      max_attachment_mb=settings.mail_max_attachment_mb)


def pollers(settings: Settings, db: Database, clock: Clock,
            on_new: Callable[[], None] = lambda: None) -> list[MailboxPoller]:
    rules = intake_rules(settings)
    return [MailboxPoller(db, config, rules, clock, on_new=on_new, poll_s=settings.mail_poll_s,
                          idle_s=settings.mail_idle_s) for config in mailbox_configs(settings)]


def smtp_config(settings: Settings) -> SmtpConfig:
    context = None
    if settings.mail_ca_file:
        import ssl

        context = ssl.create_default_context(cafile=settings.mail_ca_file)
    return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, tls=settings.smtp_tls,
                      user=settings.smtp_user or None, password=settings.smtp_password or None,
                      mail_from=settings.mail_from, domain=mail_domain(settings), ssl_context=context)


# -- sending ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Envelope:
    subject: str
    author: str  # "person" (an engineer's words) or "bot"
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


def envelope(session: Session, row: Outbox, own: OwnMail) -> Envelope:
    """How a row's mail threads: as an answer to the latest mail on its ticket; an engineer's reply
    goes to everyone on that mail (reply-all), the bot's only to its recipient."""
    message = session.get(Message, row.message_id) if row.message_id else None
    author = "person" if message is not None and message.is_human else "bot"
    ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
    if ticket is None:
        return Envelope(subject="维保服务台", author=author)
    last = last_mail(session, ticket.id or 0)
    meta = (last.meta or {}) if last is not None else {}
    if not meta.get("message_id"):
        return Envelope(subject=thread_subject(ticket.id or 0, ticket.summary), author=author)
    cc: tuple[str, ...] = ()
    if author == "person":
        everyone = [meta.get("from") or "", *(meta.get("to") or []), *(meta.get("cc") or [])]
        cc = tuple(dict.fromkeys(a for a in everyone if a and a != row.recipient.lower() and a not in own.addresses))
    return Envelope(subject=reply_subject(meta.get("subject") or ticket.summary), author=author,
                    in_reply_to=meta["message_id"], references=tuple(meta.get("references") or ()), cc=cc)


class EmailChannel:
    """The outbox's mail sender. Called from a worker thread, outside any transaction."""

    def __init__(self, db: Database, config: SmtpConfig, secret: str, own: OwnMail) -> None:
        self.db = db
        self.config = config
        self.secret = secret
        self.own = own

    def send(self, row: Outbox) -> str | None:
        with self.db.session() as session:
            env = envelope(session, row, self.own)
        message = compose(
            self.config, secret=self.secret, ticket_id=row.ticket_id or 0, message_id=row.id or 0,
            to=[row.recipient], cc=list(env.cc), subject=env.subject, text=row.text,
            author=env.author,  # type: ignore[arg-type]
            in_reply_to=env.in_reply_to, references=list(env.references), date=row.created_at)
        try:
            asyncio.run(send(self.config, message))
        except SendFailed as exc:
            raise DeliveryFailed(str(exc), permanent=exc.permanent, uncertain=exc.uncertain) from exc
        return str(message["Message-ID"])
