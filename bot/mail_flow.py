"""Mail in the conversation: which ticket a mail belongs to, who wrote it, and what to do.

Threading (issue 5): our outgoing mail carries a signed Message-ID naming its ticket, so a
reply is matched by ``In-Reply-To``, then ``References`` (signed ids first, then the ids
of mail we took in, which is how a colleague's reply-all to the reporter's own mail lands
on the same ticket), then the subject tag ``[#N]`` — accepted only from a participant of
ticket N, so a stranger cannot read or write somebody else's ticket by typing a number.

Identity: a directory address is that person; an unknown address at a hospital's known
mail domain becomes a new person of that hospital, flagged for review; any other address
is an *unverified sender*: the ticket is opened and marked, and the bot says nothing to it
about other tickets. A mail that fits no hospital at all is parked for an operator.

Loops: noise never gets here (``intake.email.store``); the bot acknowledges a new ticket
once and never acknowledges a follow-up mail (at most one automatic acknowledgement per
sender and ticket), so even an auto-responder that hides what it is gets one mail, not a
conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot import state, texts
from intake import InboundMessage
from intake.email import first_thread, subject_tag, untagged
from intake.email import store as mail_store
from tickets import outbox, service
from tickets.db import insert_all
from tickets.lookups import remembered
from tickets.models import (
    ENGINEER_ROLES,
    Contract,
    Direction,
    Hospital,
    Message,
    Person,
    Role,
    Ticket,
    TicketStatus,
)
from tickets.service import Actor, Report, TicketError

if TYPE_CHECKING:
    from bot.bot import Bot

REVIEW_NEW_AT_DOMAIN = "邮件新发件人（医院邮箱域名），待核实身份与科室"
REVIEW_UNVERIFIED = "未验证发件人：邮箱域名不属于任何医院，请核实后再处理"
_REPLY_PREFIX = re.compile(r"^\s*((回复|答复|回覆|转发|re|fw|fwd|aw)\s*[:：]\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class MailConfig:
    secret: str  # signs our Message-IDs (settings.mail_secret)
    reopen_after: timedelta = timedelta(days=14)
    max_attachment_mb: float = 10.0


@dataclass(frozen=True)
class Ready:
    """A plain new-thread mail whose person and ticket :func:`prepare` stored with the batch's."""

    person: Person
    created: bool  # the person was made from this mail: audited when the mail is handled
    report: Report
    new: service.NewTicket


def handle(bot: Bot, session: Session, msg: InboundMessage, now: datetime, *, ready: Ready | None = None) -> None:
    config = bot.config.mail or MailConfig(secret="")
    item_id = msg.raw.get("mail_item_id")
    if msg.msg_type == "bounce":
        _bounce(bot, session, msg, now)
        return
    if ready is not None:  # stored by prepare(): no thread to find, the person known or just made
        ticket, person = None, ready.person
        if ready.created:
            _person_created(session, person, now)
    else:
        ticket = find_ticket(session, config.secret, msg, now)
        person = _identify(session, msg, ticket, now)
    if person is None:
        if item_id:
            mail_store.park(session, item_id, "sender of no known hospital",
                            "发件人不在通讯录中，邮箱域名也不属于任何医院，且无法判断所属医院：请核实后放行")
        service.audit(session, service.BOT, "mail.parked_unknown_sender", now, sender=msg.sender,
                      external_id=msg.external_id)
        return
    if person.role in ENGINEER_ROLES:
        _engineer(bot, session, person, ticket, msg, now)
        return
    follows = None
    if ticket is not None and _closed_long_ago(session, ticket, config, now):
        follows, ticket = ticket, None
    report = ready.report if ready else _report(msg, new=ticket is None)
    if ticket is None:
        ticket = _open(bot, session, person, report, follows, now, new=ready.new if ready else None)
        if ticket is None:
            if item_id:
                mail_store.park(session, item_id, "hospital has no active contract",
                                "发件人所在医院没有有效的维保合同，未建单")
            return
    else:
        _follow_up(bot, session, ticket, person, report, msg, now)
    if item_id:
        mail_store.link(session, item_id, ticket.id or 0, attachments=bool(msg.attachments))
    _flag_skew(session, ticket, msg, now)
    _refused_attachments(session, ticket, msg, config, now)


# -- which ticket ---------------------------------------------------------------------------------

def find_ticket(session: Session, secret: str, msg: InboundMessage, now: datetime) -> Ticket | None:
    """In-Reply-To / References (signed ids, then mail we took in), then a participant's subject tag."""
    hints = msg.thread_hints
    references = [r for r in hints.get("references") or [] if r]
    ref = first_thread(secret, hints.get("in_reply_to"), references)
    if ref is not None and (ticket := session.get(Ticket, ref.ticket_id)) is not None:
        return ticket
    ids = [i for i in [hints.get("in_reply_to"), *reversed(references)] if i]
    if ids:
        stmt = (select(Message.ticket_id).where(Message.channel == "email", col(Message.external_id).in_(ids))
                .order_by(col(Message.id).desc()))
        if (ticket_id := session.exec(stmt).first()) is not None:
            return session.get(Ticket, ticket_id)
    number = subject_tag(hints.get("subject") or "")
    if number is None or (ticket := session.get(Ticket, number)) is None:
        return None
    if msg.sender.lower() in participants(session, ticket):
        return ticket
    service.audit(session, service.BOT, "mail.tag_refused", now, ticket_id=ticket.id, sender=msg.sender,
                  external_id=msg.external_id)
    return None


def participants(session: Session, ticket: Ticket) -> set[str]:
    """Addresses that took part in the ticket: reporter, assignee, authors, and those on its mails."""
    ids = {ticket.reporter_id, ticket.assignee_id}
    messages = service.messages_of(session, ticket.id or 0)
    ids.update(m.author_id for m in messages)
    people = service.people_by_id(session, ids)
    found = {p.email.lower() for p in people.values() if p.email}
    for message in messages:
        meta = message.meta or {}
        found.update(a.lower() for a in [meta.get("from") or "", *(meta.get("to") or []), *(meta.get("cc") or [])] if a)
    return found


def _closed_long_ago(session: Session, ticket: Ticket, config: MailConfig, now: datetime) -> bool:
    return ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and now - ticket.updated_at > config.reopen_after


# -- who ------------------------------------------------------------------------------------------

def _identify(session: Session, msg: InboundMessage, ticket: Ticket | None, now: datetime) -> Person | None:
    address = msg.sender.lower()
    person = session.exec(_PERSON_BY_MAIL, params={"address": address}).first()
    if person is not None:
        return person if person.active else None
    hospital = hospital_of_domain(session, address.rpartition("@")[2])
    note = REVIEW_NEW_AT_DOMAIN
    if hospital is None:
        note = REVIEW_UNVERIFIED
        hospital = _fallback_hospital(session, msg, ticket)
    if hospital is None:
        return None
    person = _new_person(msg, hospital, note)
    insert_all(session, [person], key="email")
    _person_created(session, person, now)
    return person


def _new_person(msg: InboundMessage, hospital: Hospital, note: str) -> Person:
    address = msg.sender.lower()
    return Person(name=(msg.sender_name or address.partition("@")[0])[:100], role=Role.REPORTER,
                  hospital_id=hospital.id, email=address, review_note=note, serves=[])


def _person_created(session: Session, person: Person, now: datetime) -> None:
    hospital = session.get(Hospital, person.hospital_id)
    service.audit(session, service.BOT, "person.created_from_mail", now, person_id=person.id, email=person.email,
                  hospital=hospital.key if hospital else None, review_note=person.review_note)


_PERSON_BY_MAIL = select(Person).where(Person.email == bindparam("address"))  # built once: the intake's hot path


def hospital_of_domain(session: Session, domain: str) -> Hospital | None:
    domain = domain.lower().strip()
    if not domain:
        return None
    for hospital in remembered(session, ("hospitals",), lambda: list(session.exec(select(Hospital)).all())):
        if any(domain == d.lower() or domain.endswith("." + d.lower()) for d in hospital.mail_domains):
            return hospital
    return None


def _fallback_hospital(session: Session, msg: InboundMessage, ticket: Ticket | None) -> Hospital | None:
    """For a stranger: the ticket's hospital, the mailbox's, or the only hospital there is."""
    if ticket is not None:
        return session.get(Hospital, ticket.hospital_id)
    key = msg.raw.get("hospital") or ""
    if key:
        return session.exec(select(Hospital).where(Hospital.key == key)).first()
    hospitals = session.exec(select(Hospital).limit(2)).all()
    return hospitals[0] if len(hospitals) == 1 else None


def is_unverified(person: Person) -> bool:
    return person.review_note == REVIEW_UNVERIFIED


# -- what to do -----------------------------------------------------------------------------------

def _open(bot: Bot, session: Session, person: Person, report: Report, follows: Ticket | None,
          now: datetime, *, new: service.NewTicket | None = None) -> Ticket | None:
    hospital = session.get(Hospital, person.hospital_id) if person.hospital_id else None
    contract = service.contract_for_hospital(session, hospital.id) if hospital and hospital.id else None
    if hospital is None or contract is None:
        return None
    note = ""
    if follows is not None:
        note = f"工单 #{follows.id} 已关闭较久，您的来信已登记为新工单。"
    ticket = bot._open(session, person, hospital, contract, [report], now, note=note, new=new)
    if follows is not None:
        ticket.follows_ticket_id = follows.id
        service.audit(session, Actor.of(person), "ticket.follows", now, ticket_id=ticket.id, follows=follows.id)
    if is_unverified(person):
        ticket.sender_unverified = True
    session.add(ticket)
    return ticket


# -- a batch's plain new threads -----------------------------------------------------------------

def prepare(bot: Bot, session: Session, msgs: list[InboundMessage], now: datetime) -> dict[int, Ready]:
    """Store the people and tickets of a batch's plain new-thread mails: one INSERT per table.

    Plain: a mail naming no thread (no In-Reply-To, References or [#N] tag), with no
    refused attachment and no Date: skew to flag, from an active reporter of a hospital
    with an active contract, or from a new address at such a hospital's mail domain. For
    those, :func:`handle` would make the same person and ticket one at a time (issue 5:
    the one-by-one flushes were most of the intake's cost); it now finds them made.
    Every other mail is left to it as it is, and so is a directory reporter's mail when
    another entry of the batch may be the same person on another channel: handled
    first, that entry must not find the mail's ticket open before the mail is.
    Keys of the answer are positions in ``msgs``.
    """
    plain = {n: msg for n, msg in enumerate(msgs) if _plain_new_thread(msg)}
    if not plain:
        return {}
    stmt = select(Person).where(col(Person.email).in_({msg.sender.lower() for msg in plain.values()}))
    known = {p.email: p for p in session.exec(stmt)}
    elsewhere = [msg for msg in msgs if msg.channel != "email"]
    chosen: dict[int, tuple[Person, bool, Hospital, Contract, Report]] = {}
    for n, msg in plain.items():
        person = known.get(msg.sender.lower())
        if person is not None and (not person.active or person.role in ENGINEER_ROLES
                                   or any(_may_be(person, other) for other in elsewhere)):
            continue
        if person is not None:
            hospital = session.get(Hospital, person.hospital_id) if person.hospital_id else None
        else:
            hospital = hospital_of_domain(session, msg.sender.lower().rpartition("@")[2])
        contract = service.contract_for_hospital(session, hospital.id or 0) if hospital else None
        if hospital is None or contract is None:
            continue  # handle() parks it (and makes the person first, as it always has)
        chosen[n] = (person or _new_person(msg, hospital, REVIEW_NEW_AT_DOMAIN), person is None, hospital,
                     contract, _report(msg, new=True))
    insert_all(session, [person for person, created, *_ in chosen.values() if created], key="email")
    state.preload(session, {person.id or 0 for person, *_ in chosen.values()})  # each is asked a question next
    ready = {n: Ready(person, created, report, bot.compose(session, person, hospital, contract, [report], now))
             for n, (person, created, hospital, contract, report) in chosen.items()}
    # A batch never holds two mails of one sender (intake.journal.claim), so each reporter opens one ticket here.
    insert_all(session, [r.new.ticket for r in ready.values()], key="reporter_id")
    return ready


def _may_be(person: Person, msg: InboundMessage) -> bool:
    """Whether ``msg`` (of another channel) may come from ``person``: a call is not resolved here."""
    return msg.sender in (person.wecom_userid, str(person.id)) or msg.channel == "hotline"


def _plain_new_thread(msg: InboundMessage) -> bool:
    hints, skew = msg.thread_hints, msg.raw.get("skew_seconds")
    return (msg.channel == "email" and msg.msg_type == "text" and bool(msg.raw.get("mail_item_id"))
            and not hints.get("in_reply_to") and not any(hints.get("references") or [])
            and subject_tag(hints.get("subject") or "") is None
            and not any(a.get("refused") for a in msg.attachments)
            and (skew is None or abs(skew) <= mail_store.SKEW_LIMIT.total_seconds()))


def _follow_up(bot: Bot, session: Session, ticket: Ticket, person: Person, report: Report, msg: InboundMessage,
               now: datetime) -> None:
    """A mail on an existing ticket: add it; answer a pending question; tell the engineers. No acknowledgement."""
    service.append_report(session, ticket, person, report, now)
    conv = state.load(session, person.id or 0)
    if (conv is not None and conv.awaiting and conv.ticket_id == ticket.id
            and bot._answer(session, ticket, person, conv, _first_line(msg.text), now)):
        return
    bot._notify_engineers(session, ticket, f"工单 #{ticket.id} {person.name} 邮件补充：{texts.clip(report.text)}", now)


def _engineer(bot: Bot, session: Session, engineer: Person, ticket: Ticket | None, msg: InboundMessage,
              now: datetime) -> None:
    """An engineer's mail on a ticket's thread is a reply to the reporter; otherwise a command."""
    if ticket is None:
        bot._engineer(session, engineer, msg.model_copy(update={"text": _first_line(msg.text)}), now)
        return
    try:
        service.ensure_replyable(ticket)
        if ticket.assignee_id is None:
            service.claim(session, ticket, engineer, now)
        service.send_to_reporter(session, ticket, msg.text.strip() or "（见附件）", now, author=engineer)
    except TicketError as exc:
        outbox.enqueue(session, channel="email", recipient=engineer.email or msg.sender, text=exc.message, now=now,
                       ticket_id=ticket.id)
    if msg.raw.get("mail_item_id"):
        mail_store.link(session, msg.raw["mail_item_id"], ticket.id or 0)


def _bounce(bot: Bot, session: Session, msg: InboundMessage, now: datetime) -> None:
    """A delivery failure: it belongs to the ticket whose mail bounced, never a new ticket."""
    ticket_id = msg.thread_hints.get("ticket_id")
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        service.audit(session, service.SYSTEM, "mail.bounce_unmatched", now, external_id=msg.external_id)
        return
    service.audit(session, service.SYSTEM, "mail.bounced", now, ticket_id=ticket.id,
                  mail_item_id=msg.raw.get("mail_item_id"), text=texts.clip(msg.text, 300))
    bot._notify_engineers(session, ticket, f"工单 #{ticket.id} 发给报障人的邮件被退回（{texts.clip(msg.text, 80)}），"
                          "请改用电话或企业微信联系。", now)


def _flag_skew(session: Session, ticket: Ticket, msg: InboundMessage, now: datetime) -> None:
    """The sender's Date: far from the server's receipt time: keep both, flag it (the receipt counts)."""
    skew = msg.raw.get("skew_seconds")
    if skew is None or abs(skew) <= mail_store.SKEW_LIMIT.total_seconds():
        return
    service.audit(session, service.SYSTEM, "mail.date_skew", now, ticket_id=ticket.id, skew_seconds=skew,
                  date_header=msg.raw.get("date_header"), channel_ts=msg.channel_ts.isoformat())


def _refused_attachments(session: Session, ticket: Ticket, msg: InboundMessage, config: MailConfig,
                         now: datetime) -> None:
    refused = [a for a in msg.attachments if a.get("refused")]
    if not refused:
        return
    names = "、".join(f"「{a['filename']}」（{a['size'] / 1024 / 1024:.1f} MB）" for a in refused)
    text = (f"您发到工单 #{ticket.id} 的附件 {names} 超过 {config.max_attachment_mb:g} MB 上限，未能保存。"
            "请压缩或分卷后回复本邮件，或通过企业微信发送。")
    outbox.enqueue(session, channel="email", recipient=msg.sender, text=text, now=now, ticket_id=ticket.id)
    service.audit(session, service.BOT, "mail.attachment_refused", now, ticket_id=ticket.id,
                  files=[a["filename"] for a in refused])


# -- texts ----------------------------------------------------------------------------------------

def _report(msg: InboundMessage, *, new: bool) -> Report:
    return Report(channel="email", external_id=msg.external_id, text=_report_text(msg, new=new),
                  channel_ts=msg.channel_ts, received_at=msg.received_at, is_written_report=True, meta=_meta(msg))


def _report_text(msg: InboundMessage, *, new: bool) -> str:
    """What the person wrote; a new ticket also takes the subject (often the whole report: "HIS 登录不了")."""
    body = msg.text.strip()
    subject = _REPLY_PREFIX.sub("", untagged(msg.thread_hints.get("subject") or "")).strip()
    files = [a["filename"] for a in msg.attachments if not a.get("refused")]
    parts = [subject] if new and subject and not body.startswith(subject) else []
    parts.append(body)
    if files:
        parts.append("［附件］" + "、".join(files))
    return "\n".join(p for p in parts if p).strip() or subject or "（空邮件）"


def _meta(msg: InboundMessage) -> dict[str, Any]:
    hints = msg.thread_hints
    return {
        "message_id": hints.get("message_id"), "in_reply_to": hints.get("in_reply_to"),
        "references": (hints.get("references") or [])[-20:], "subject": hints.get("subject") or "",
        "from": msg.sender, "to": hints.get("to") or [], "cc": hints.get("cc") or [],
        "date_header": msg.raw.get("date_header"), "internaldate": msg.raw.get("internaldate"),
        "channel_ts_source": msg.raw.get("channel_ts_source"), "skew_seconds": msg.raw.get("skew_seconds"),
        "mail_item_id": msg.raw.get("mail_item_id"),
        "attachments": [a.get("id") for a in msg.attachments],
    }


def last_mail(session: Session, ticket_id: int) -> Message | None:
    """The latest mail taken in on a ticket (what our reply answers)."""
    stmt = (select(Message).where(Message.ticket_id == ticket_id, Message.channel == "email",
                                  Message.direction == Direction.IN)
            .order_by(col(Message.id).desc()))
    return session.exec(stmt).first()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
