"""The mail ledger: every mail fetched from a mailbox, what became of it, and where each
mailbox's reading stopped.

Exactly once (issue 5; ``shared/reference/email-and-calendar.md`` A2): the mailbox cursor
(UIDVALIDITY and the last processed UID) is written in the *same transaction* as the
mail's ledger row and its journal entry, the durable record the ticket is made from.
A poller killed anywhere therefore restarts at the first mail whose transaction did not
commit: nothing is skipped, nothing is taken twice. Rows are keyed by the mail's
Message-ID (a hash of the raw bytes where it has none), so a rescan after a UIDVALIDITY
change, or the same mail arriving in two of our mailboxes, adds nothing.

Nothing is lost: noise (auto-replies, lists, loops) is *dropped* but kept here with its
reason; a flood from one sender is *parked* for review; a mail our code failed on is
kept as *error* with its raw bytes. The admin panel lists them all; an operator can
release a parked or dropped mail into the journal.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, bindparam, func, update
from sqlalchemy.orm import defer
from sqlmodel import Field, Session, SQLModel, col, select

from intake import journal
from intake.email.ids import first_thread, subject_tag
from intake.email.noise import Noise, OwnMail, classify
from intake.email.parse import ParsedMail, parse_mail
from intake.message import InboundMessage
from tickets.db import UTCDateTime, insert_ignoring_conflict, insert_returning_id

log = logging.getLogger(__name__)

CHANNEL = "email"

ACCEPTED = "accepted"  # in the journal: the bot makes or updates a ticket from it
DROPPED = "dropped"  # automatic mail (out-of-office, list, bulk, our own): no ticket
BOUNCE = "bounce"  # a delivery failure report, linked to the ticket whose mail bounced
PARKED = "parked"  # held for review (flood from one sender, sender of no known hospital)
ERROR = "error"  # our code failed on it: kept raw for a retry after the fix
RELEASED = "released"  # an operator sent a parked/dropped/error mail on into the journal

# A sender's Date: further than this from the server's receipt is flagged (issue 5); the receipt counts.
SKEW_LIMIT = timedelta(minutes=15)

STATUS_ZH = {ACCEPTED: "已受理", DROPPED: "已忽略", BOUNCE: "退信", PARKED: "待审核", ERROR: "处理出错",
             RELEASED: "已人工放行"}


class MailboxState(SQLModel, table=True):
    """Where reading one mailbox stopped. UIDs are unsigned 32-bit, hence BIGINT."""

    __tablename__ = "mail_mailbox"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_ok_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_error: str = Field(default="", max_length=1000)
    rescans: int = 0


class MailItem(SQLModel, table=True):
    """One fetched mail and its fate. ``raw`` keeps the original bytes as evidence."""

    __tablename__ = "mail_item"
    __table_args__ = (
        Index("ix_mail_item_sender_ts", "from_addr", "channel_ts"),
        Index("ix_mail_item_status", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mail_key: str = Field(unique=True, max_length=300)
    # Sender, subject and text hashed: tells a re-delivery of this Message-ID from another mail reusing it.
    content_hash: str = Field(default="", max_length=16)
    message_id: str | None = Field(default=None, max_length=300, index=True)
    mailbox: str = Field(max_length=64)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    from_addr: str = Field(default="", max_length=254)
    from_name: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=500)
    # INTERNALDATE (the server's receipt), else our server's top Received:, else the fetch time.
    channel_ts: datetime = Field(sa_type=UTCDateTime)
    channel_ts_source: str = Field(default="internaldate", max_length=16)
    internaldate: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    date_header: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    skew_seconds: int | None = None  # Date: minus channel_ts, when both are known
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16)
    noise: str = Field(default="ok", max_length=16)
    reason: str = Field(default="", max_length=500)  # English, for logs
    reason_zh: str = Field(default="", max_length=500)  # Chinese, for the admin panel
    new_thread: bool = False  # threads to no known mail: counts towards the sender's flood limit
    ticket_id: int | None = Field(default=None, index=True)
    size: int = 0
    defects: list[str] = Field(default_factory=list, sa_type=JSON)
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    handled_by: str = Field(default="", max_length=100)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class MailAttachment(SQLModel, table=True):
    """A file from a mail. ``data`` is None when it was refused (over the size limit)."""

    __tablename__ = "mail_attachment"

    id: int | None = Field(default=None, primary_key=True)
    mail_item_id: int = Field(foreign_key="mail_item.id", index=True)
    ticket_id: int | None = Field(default=None, index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int
    sha256: str = Field(max_length=64)
    inline: bool = False
    refused: str = Field(default="", max_length=200)
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/") and self.data is not None


@dataclass(frozen=True)
class IntakeRules:
    """The installation's mail rules, from settings."""

    secret: str  # signs our Message-IDs (intake.email.ids)
    own: OwnMail = OwnMail()
    max_attachment_bytes: int = 10 * 1024 * 1024
    new_ticket_limit: int = 10  # unthreaded mails per sender per window before parking
    window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class FetchedMail:
    """One mail as the IMAP server handed it over."""

    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    internaldate: datetime | None
    fetched_at: datetime
    hospital: str = ""  # the mailbox's hospital key, for senders of no known domain


@dataclass(frozen=True)
class Ingested:
    status: str  # one of the statuses above, or "duplicate"
    item_id: int | None
    journaled: bool


# -- keys and times ----------------------------------------------------------------------------------

def mail_key(mail: ParsedMail, raw: bytes) -> str:
    """The deduplication key: the Message-ID, or a hash of the raw bytes where there is none."""
    if mail.message_id and len(mail.message_id) <= 280:
        return mail.message_id
    if mail.message_id:
        return "mid-sha256:" + hashlib.sha256(mail.message_id.encode()).hexdigest()
    return "raw-sha256:" + hashlib.sha256(raw).hexdigest()


def _content_hash(mail: ParsedMail) -> str:
    return hashlib.sha256(f"{mail.from_addr}\n{mail.subject}\n{mail.full_text}".encode()).hexdigest()[:16]


def report_time(mail: ParsedMail, internaldate: datetime | None, fetched_at: datetime) -> tuple[datetime, str]:
    """The channel timestamp: INTERNALDATE, else the top Received: (our server's stamp), else the fetch."""
    if internaldate is not None:
        return internaldate, "internaldate"
    if mail.received_at_header is not None:
        return mail.received_at_header, "received"
    return fetched_at, "fetched"


# -- the ingest transaction ------------------------------------------------------------------------

def advance(session: Session, mailbox: str, uidvalidity: int, uid: int, now: datetime) -> None:
    """Move the cursor (call inside the mail's own transaction)."""
    state = cursor(session, mailbox)
    if state.uidvalidity != uidvalidity:  # the poller resets first; this only guards a stray call
        state.uidvalidity, state.last_uid = uidvalidity, 0
    state.last_uid = max(state.last_uid, uid)
    state.last_ok_at = now
    state.last_error = ""
    session.add(state)


def reset(session: Session, mailbox: str, uidvalidity: int) -> None:
    """The server renumbered the mailbox (UIDVALIDITY changed): read it all again.

    Every mail already taken is recognised by its key and skipped, so a rescan costs
    time, never a duplicate ticket (RFC 3501 2.3.1.1).
    """
    state = cursor(session, mailbox)
    if state.uidvalidity is not None:
        state.rescans += 1
    state.uidvalidity, state.last_uid = uidvalidity, 0
    session.add(state)


def cursor(session: Session, mailbox: str) -> MailboxState:
    state = session.exec(select(MailboxState).where(MailboxState.name == mailbox)).first()
    if state is None:
        insert_ignoring_conflict(session, MailboxState, {"name": mailbox, "last_uid": 0, "last_error": "",
                                                         "rescans": 0}, conflict=["name"])
        state = session.exec(select(MailboxState).where(MailboxState.name == mailbox)).one()
    return state


def ingest(session: Session, fetched: FetchedMail, rules: IntakeRules) -> Ingested:
    """Record one mail and move the mailbox cursor past it, in the caller's transaction (failures raised)."""
    (outcome,) = ingest_batch(session, [fetched], rules, isolate=False)
    return outcome


def ingest_batch(session: Session, batch: list[FetchedMail], rules: IntakeRules, *,
                 isolate: bool = True) -> list[Ingested]:
    """Record a batch of one mailbox's mail and move its cursor once, in the caller's transaction.

    ``isolate``: each mail runs in its own savepoint, so one our code fails on is rolled
    back alone and kept raw as an error item, and the rest of the batch still lands.
    Without it, the first failure is raised: the poller tries each batch that way first
    (two statements fewer per mail) and, if it fails, again with ``isolate``. A crash
    before the commit loses nothing: the cursor has not moved, the batch is read again.
    """
    # Parsing is CPU work and needs no database: done before the first statement, so SQLite's
    # write lock (taken by the first write) is not held while it runs and the inbound worker
    # in another process can write meanwhile (issue 5's benchmark).
    prepared = [_prepare(fetched, rules) for fetched in batch]
    outcomes = []
    for fetched, ready in zip(batch, prepared, strict=True):
        if not isolate:
            if isinstance(ready, Exception):
                raise ready
            outcomes.append(_take(session, fetched, ready, rules))
            continue
        try:
            with session.begin_nested():
                if isinstance(ready, Exception):
                    raise ready
                outcomes.append(_take(session, fetched, ready, rules))
        except Exception as exc:
            log.exception("mail %s uid %s: could not be taken in; kept as an error item", fetched.mailbox,
                          fetched.uid)
            record_error(session, fetched, repr(exc), move_cursor=False)
            outcomes.append(Ingested(ERROR, None, False))
    if batch:
        last = max(batch, key=lambda f: f.uid)
        advance(session, last.mailbox, last.uidvalidity, last.uid, last.fetched_at)
    return outcomes


@dataclass(frozen=True)
class _Prepared:
    """What a mail is, read without the database."""

    mail: ParsedMail
    key: str
    content: str
    noise: Noise


def _prepare(fetched: FetchedMail, rules: IntakeRules) -> _Prepared | Exception:
    """The parsed mail, or what our code failed with (kept to be raised in the mail's savepoint)."""
    try:
        mail = parse_mail(fetched.raw)
        return _Prepared(mail, mail_key(mail, fetched.raw), _content_hash(mail), classify(mail, own=rules.own))
    except Exception as exc:
        return exc


def _take(session: Session, fetched: FetchedMail, ready: _Prepared, rules: IntakeRules) -> Ingested:
    mail, key, content, noise = ready.mail, ready.key, ready.content, ready.noise
    existing = session.exec(_BY_KEY, params={"key": key}).first()
    if existing is not None:
        if existing[1] == content:  # a re-delivery, a rescan, or our other mailbox
            return Ingested("duplicate", existing[0], False)
        key = f"{key}#{content}"  # another mail reusing a Message-ID: keep it too
    item = _item(fetched, mail, key, content, noise)
    _decide(session, item, mail, noise, rules)
    values = {c.name: getattr(item, c.name) for c in MailItem.__table__.columns if c.name != "id"}  # type: ignore[attr-defined]
    item.id = insert_returning_id(session, MailItem, values, conflict=["mail_key"])
    if item.id is None:  # a concurrent poller took this very mail a moment ago
        return Ingested("duplicate", None, False)
    attachments = _store_attachments(session, item, mail, rules)
    journaled = item.status in (ACCEPTED, BOUNCE)
    if journaled:
        journal.record(session, inbound_message(item, mail, attachments, fetched.hospital))
    return Ingested(item.status, item.id, journaled)


def _item(fetched: FetchedMail, mail: ParsedMail, key: str, content: str, noise: Noise) -> MailItem:
    channel_ts, source = report_time(mail, fetched.internaldate, fetched.fetched_at)
    skew = int((mail.date_header - channel_ts).total_seconds()) if mail.date_header else None
    return MailItem(
        mail_key=key, content_hash=content, message_id=mail.message_id[:300] if mail.message_id else None, mailbox=fetched.mailbox,
        uidvalidity=fetched.uidvalidity, uid=fetched.uid, from_addr=mail.from_addr.lower()[:254],
        from_name=mail.from_name[:200], subject=mail.subject[:500], channel_ts=channel_ts, channel_ts_source=source,
        internaldate=fetched.internaldate, date_header=mail.date_header, skew_seconds=skew,
        fetched_at=fetched.fetched_at, status=ACCEPTED, noise=noise.kind, reason=noise.reason[:500],
        reason_zh=noise.reason_zh[:500], size=len(fetched.raw), defects=list(mail.defects)[:20], raw=fetched.raw,
    )


def _decide(session: Session, item: MailItem, mail: ParsedMail, noise: Noise, rules: IntakeRules) -> None:
    """Accept, drop, link a bounce, or park a flood; the reason goes on the row."""
    if noise.kind == "bounce":
        ref = first_thread(rules.secret, noise.bounced_message_id, [])
        item.status, item.ticket_id = BOUNCE, ref.ticket_id if ref else None
        return
    if noise.is_noise:
        item.status = DROPPED
        return
    if not mail.from_addr:
        item.status, item.reason, item.reason_zh = PARKED, "no sender address", "邮件没有发件人地址，无法回复或建单"
        return
    item.new_thread = not _threads(session, item, mail, rules)
    if item.new_thread and _recent_new_threads(session, item, rules) >= rules.new_ticket_limit:
        item.status = PARKED
        minutes = int(rules.window.total_seconds() // 60)
        item.reason = f"more than {rules.new_ticket_limit} new threads from {item.from_addr} in {minutes} min"
        item.reason_zh = f"同一发件人 {minutes} 分钟内新邮件超过 {rules.new_ticket_limit} 封，暂不建单，待人工审核"


def _threads(session: Session, item: MailItem, mail: ParsedMail, rules: IntakeRules) -> bool:
    """Whether the mail continues a known thread (for the flood limit only; the bot decides the ticket)."""
    if first_thread(rules.secret, mail.in_reply_to, list(mail.references)) is not None:
        return True
    ids = [i for i in (mail.in_reply_to, *mail.references) if i]
    if ids and session.exec(select(MailItem.id).where(col(MailItem.message_id).in_(ids[-50:]))).first():
        return True
    tag = subject_tag(mail.subject)
    if tag is None:
        return False
    same_sender_on_ticket = select(MailItem.id).where(MailItem.from_addr == item.from_addr,
                                                      MailItem.ticket_id == tag)
    return session.exec(same_sender_on_ticket).first() is not None


def _recent_new_threads(session: Session, item: MailItem, rules: IntakeRules) -> int:
    params = {"sender": item.from_addr, "since": item.channel_ts - rules.window, "until": item.channel_ts}
    return session.exec(_RECENT_NEW_THREADS, params=params).one()


# Built once and given parameters: building these per mail was a quarter of the ledger's time
# in issue 5's intake benchmark.
_BY_KEY = select(MailItem.id, MailItem.content_hash).where(MailItem.mail_key == bindparam("key"))
_RECENT_NEW_THREADS = select(func.count()).select_from(MailItem).where(
    MailItem.from_addr == bindparam("sender"), MailItem.new_thread == True,  # noqa: E712
    col(MailItem.status).in_([ACCEPTED, RELEASED]),
    MailItem.channel_ts > bindparam("since"), MailItem.channel_ts <= bindparam("until"))


def _store_attachments(session: Session, item: MailItem, mail: ParsedMail,
                       rules: IntakeRules) -> list[dict[str, Any]]:
    out = []
    for att in mail.attachments:
        too_big = att.size > rules.max_attachment_bytes
        row = MailAttachment(
            mail_item_id=item.id or 0, ticket_id=item.ticket_id, filename=(att.filename or "附件")[:255],
            content_type=(att.content_type or "application/octet-stream")[:127], size=att.size,
            sha256=hashlib.sha256(att.data).hexdigest(), inline=att.inline,
            refused="too_large" if too_big else "", data=None if too_big else att.data)
        session.add(row)
        session.flush()
        out.append({"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size,
                    "refused": row.refused})
    return out


def inbound_message(item: MailItem, mail: ParsedMail, attachments: list[dict[str, Any]],
                    hospital: str = "") -> InboundMessage:
    """The journal entry the bot reads: the person's words, the thread headers, the evidence."""
    return InboundMessage(
        channel=CHANNEL, external_id=item.mail_key, sender=item.from_addr, sender_name=item.from_name,
        channel_ts=item.channel_ts, received_at=item.fetched_at,
        msg_type="bounce" if item.status == BOUNCE else "text",
        text=mail.text.strip(), attachments=attachments,
        thread_hints={
            "message_id": mail.message_id, "in_reply_to": mail.in_reply_to,
            "references": list(mail.references)[-50:], "subject": mail.subject,
            "to": [a.lower() for a in mail.to], "cc": [a.lower() for a in mail.cc],
            "new_thread": item.new_thread, "ticket_id": item.ticket_id,
        },
        raw={
            "mail_item_id": item.id, "mailbox": item.mailbox, "date_header": _iso(item.date_header),
            "internaldate": _iso(item.internaldate), "channel_ts_source": item.channel_ts_source,
            "skew_seconds": item.skew_seconds, "reason": item.reason, "hospital": hospital,
        },
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- what the bot and the panel do with items ---------------------------------------------------------

def link(session: Session, item_id: int, ticket_id: int, *, attachments: bool = True) -> None:
    """The bot made or found the ticket: the ledger row and its files (``attachments``: it has some) point to it."""
    conn = session.connection()  # plain UPDATEs: the rows are not loaded in the bot's session
    conn.execute(_LINK_ITEM, {"item": item_id, "ticket": ticket_id})
    if attachments:
        conn.execute(_LINK_ATTACHMENTS, {"item": item_id, "ticket": ticket_id})


# Built once (every new mail ticket runs them; building them was most of their cost).
_LINK_ITEM = (update(MailItem.__table__).where(MailItem.__table__.c.id == bindparam("item"))  # type: ignore[attr-defined]
              .values(ticket_id=bindparam("ticket")))
_LINK_ATTACHMENTS = (update(MailAttachment.__table__)  # type: ignore[attr-defined]
                     .where(MailAttachment.__table__.c.mail_item_id == bindparam("item"))  # type: ignore[attr-defined]
                     .values(ticket_id=bindparam("ticket")))


def park(session: Session, item_id: int, reason: str, reason_zh: str) -> None:
    """The bot could not place the mail (e.g. a stranger of no known hospital): hold it for review."""
    item = session.get(MailItem, item_id, options=[defer(MailItem.raw)])  # type: ignore[arg-type]
    if item is not None:
        item.status, item.reason, item.reason_zh = PARKED, reason[:500], reason_zh[:500]
        session.add(item)


def release(session: Session, item_id: int, by: str, now: datetime) -> bool:
    """Operator action: send a parked, dropped or failed mail on into the journal as a person's mail."""
    item = session.get(MailItem, item_id)
    if item is None or item.status not in (PARKED, DROPPED, ERROR):
        return False
    mail = parse_mail(item.raw)
    attachments = [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                    "refused": a.refused}
                   for a in session.exec(select(MailAttachment).where(MailAttachment.mail_item_id == item_id))]
    item.status, item.handled_by, item.handled_at = RELEASED, by[:100], now
    session.add(item)
    msg = inbound_message(item, mail, attachments)
    journal.record(session, msg.model_copy(update={"external_id": f"{item.mail_key}#released"[:300]}))
    return True


def record_error(session: Session, fetched: FetchedMail, error: str, *, move_cursor: bool = True) -> None:
    """Keep a mail our code failed on, raw, and move past it so the mailbox is not blocked."""
    key = "error-sha256:" + hashlib.sha256(fetched.raw).hexdigest()
    insert_ignoring_conflict(session, MailItem, {
        "mail_key": key, "mailbox": fetched.mailbox, "uidvalidity": fetched.uidvalidity, "uid": fetched.uid,
        "channel_ts": fetched.internaldate or fetched.fetched_at, "channel_ts_source": "internaldate",
        "internaldate": fetched.internaldate, "fetched_at": fetched.fetched_at, "status": ERROR, "noise": "ok",
        "content_hash": "", "reason": error[:500], "reason_zh": "处理这封邮件时程序出错，原文已保存，修复后可放行", "size": len(fetched.raw),
        "raw": fetched.raw, "from_addr": "", "from_name": "", "subject": "", "defects": [], "new_thread": False,
        "handled_by": "",
    }, conflict=["mail_key"])
    if move_cursor:
        advance(session, fetched.mailbox, fetched.uidvalidity, fetched.uid, fetched.fetched_at)


def attachments_of_ticket(session: Session, ticket_id: int) -> list[MailAttachment]:
    stmt = (select(MailAttachment).options(defer(MailAttachment.data))  # type: ignore[arg-type]
            .where(MailAttachment.ticket_id == ticket_id).order_by(col(MailAttachment.id)))
    return list(session.exec(stmt).all())


def items(session: Session, statuses: list[str] | None = None, limit: int = 200) -> list[MailItem]:
    stmt = select(MailItem).options(defer(MailItem.raw)).order_by(col(MailItem.id).desc()).limit(limit)  # type: ignore[arg-type]
    if statuses:
        stmt = stmt.where(col(MailItem.status).in_(statuses))
    return list(session.exec(stmt).all())


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(MailItem.status, func.count()).group_by(MailItem.status)).all()
    return {status: n for status, n in rows}


def mailboxes(session: Session) -> list[MailboxState]:
    return list(session.exec(select(MailboxState).order_by(MailboxState.name)).all())
