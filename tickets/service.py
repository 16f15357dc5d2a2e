"""The ticket service: every state change of a ticket, each audited.

Functions take the caller's session (one transaction per inbound message or
command, committed by the caller) and ``now`` from the caller's clock. Nothing
here sends anything: outgoing messages go to the outbox in the same
transaction, so a change and the notice of it commit or vanish together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from sla import CAUSES, KINDS, PAUSE_REASONS, SlaPolicy, policy_from
from tickets import clocks, deferred, outbox
from tickets.audit import BOT, SYSTEM, Actor, audit  # noqa: F401  (callers use service.BOT)
from tickets.db import insert_all
from tickets.lookups import remembered
from tickets.models import (
    OPEN_STATUSES,
    AuthorKind,
    Contract,
    CoveredSystem,
    Direction,
    Hospital,
    Message,
    Person,
    Ticket,
    TicketEvent,
    TicketPause,
    TicketStatus,
)

SUMMARY_LEN = 60


class TicketError(Exception):
    """A requested change is not possible; ``message`` is Chinese text for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def policy_of(contract: Contract) -> SlaPolicy:
    return policy_from(contract.sla_policy)


# -- lookups ------------------------------------------------------------------

def contract_for_hospital(session: Session, hospital_id: int) -> Contract | None:
    # The statements are built only when the session has not read them yet: building one
    # costs more than the remembered answer (issue 5's intake asks several times per mail).
    def load() -> Contract | None:
        stmt = select(Contract).where(Contract.hospital_id == hospital_id, Contract.active == True)  # noqa: E712
        return session.exec(stmt.order_by(col(Contract.id))).first()

    return remembered(session, ("contract", hospital_id), load)


def systems_of(session: Session, contract_id: int) -> list[CoveredSystem]:
    def load() -> list[CoveredSystem]:
        stmt = select(CoveredSystem).where(CoveredSystem.contract_id == contract_id).order_by(col(CoveredSystem.id))
        return list(session.exec(stmt).all())

    return list(remembered(session, ("systems", contract_id), load))


def open_ticket_of(session: Session, reporter_id: int) -> Ticket | None:
    stmt = (
        select(Ticket)
        .where(Ticket.reporter_id == reporter_id, col(Ticket.status).in_(OPEN_STATUSES))
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(stmt).first()


def get_ticket(session: Session, number: int) -> Ticket:
    ticket = session.get(Ticket, number)
    if ticket is None:
        raise TicketError(f"未找到工单 #{number}。")
    return ticket


def people_by_id(session: Session, ids: set[int | None]) -> dict[int, Person]:
    """The people among ``ids`` (a directory can hold thousands: never load it whole for a page)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id or 0: p for p in session.exec(select(Person).where(col(Person.id).in_(wanted)))}


def author_names(session: Session, messages: list[Message]) -> dict[int, str]:
    """Names of the people who wrote ``messages`` (the bot's messages have no author)."""
    return {i: p.name for i, p in people_by_id(session, {m.author_id for m in messages}).items()}


def messages_of(session: Session, ticket_id: int) -> list[Message]:
    stmt = select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.id))
    return list(session.exec(stmt).all())


# -- opening and appending ------------------------------------------------------

@dataclass(frozen=True)
class Report:
    """A reporter's inbound message as the ticket service needs it."""

    channel: str
    external_id: str | None
    text: str
    channel_ts: datetime
    received_at: datetime
    is_written_report: bool = True
    meta: dict[str, Any] | None = None  # channel evidence (mail: Message-ID, Date, Cc, …)
    # A phone call (issue 7): not written, and a ticket it opens waits for a written report
    # before clocks that start on "written_report" run.
    awaits_written: bool = False


@dataclass(frozen=True)
class NewTicket:
    """A ticket composed but not yet stored, with its clocks evaluated (see :func:`new_ticket`)."""

    ticket: Ticket
    system: CoveredSystem | None
    evaluated: clocks.Evaluation


def new_ticket(session: Session, *, reporter: Person, hospital: Hospital, contract: Contract, report: Report,
               system: CoveredSystem | None, now: datetime) -> NewTicket:
    """The ticket a reporter's first message opens, not stored yet.

    Until the reporter says how bad it is, the ticket runs on the contract's
    most urgent level (unconfirmed), so waiting for an answer never hides a deadline.
    Its clocks are evaluated here, so the response deadline goes in with its INSERT;
    the inbound worker composes a batch's new tickets and inserts them together
    (tickets.db.insert_all) before opening each with :func:`open_ticket`.
    """
    ticket = Ticket(
        hospital_id=hospital.id or 0, contract_id=contract.id or 0, reporter_id=reporter.id or 0,
        system_id=system.id if system else None, summary=_summary(report.text), status=TicketStatus.NEW,
        severity=policy_of(contract).most_urgent.code, severity_confirmed=False, reported_at=report.channel_ts,
        first_contact_at=report.channel_ts, created_at=now, updated_at=now,
        written_report_pending=report.awaits_written and not report.is_written_report,
    )
    evaluated = clocks.evaluate_new(session, ticket, now)
    ticket.response_due_at = clocks.response_due(evaluated[0])
    return NewTicket(ticket, system, evaluated)


def open_ticket(session: Session, *, reporter: Person, hospital: Hospital, contract: Contract,
                report: Report, system: CoveredSystem | None, now: datetime,
                new: NewTicket | None = None) -> tuple[Ticket, Message]:
    """Open a ticket from a reporter's first message (``new``: composed, and maybe stored, already)."""
    new = new or new_ticket(session, reporter=reporter, hospital=hospital, contract=contract, report=report,
                            system=system, now=now)
    ticket = new.ticket
    if ticket.id is None:
        insert_all(session, [ticket], key="reporter_id")
    message = _add_report(session, ticket, reporter, report)
    audit(session, Actor.of(reporter), "ticket.opened", now, ticket_id=ticket.id, channel=report.channel,
          reported_at=ticket.reported_at.isoformat(), severity=ticket.severity, severity_confirmed=False,
          system=new.system.name if new.system else None)
    clocks.sync(session, ticket, now, reason="opened", fresh=True, evaluated=new.evaluated)
    return ticket, message


def append_report(session: Session, ticket: Ticket, reporter: Person, report: Report, now: datetime) -> Message:
    """Add a reporter's further message; an earlier written report moves ``reported_at`` back."""
    message = _add_report(session, ticket, reporter, report)
    moved = False
    if ticket.first_contact_at is None or report.channel_ts < ticket.first_contact_at:
        ticket.first_contact_at = report.channel_ts
        moved = True
    if report.is_written_report and ticket.written_report_pending:  # the written confirmation of a call
        ticket.written_report_pending = False
        ticket.reported_at = report.channel_ts
        moved = True
        audit(session, Actor.of(reporter), "ticket.written_report_received", now, ticket_id=ticket.id,
              reported_at=report.channel_ts.isoformat(), channel=report.channel)
    elif report.is_written_report and report.channel_ts < ticket.reported_at:
        old = ticket.reported_at
        ticket.reported_at = report.channel_ts
        moved = True
        audit(session, Actor.of(reporter), "ticket.reported_at_moved", now, ticket_id=ticket.id,
              old=old.isoformat(), new=ticket.reported_at.isoformat())
    ticket.updated_at = now
    session.add(ticket)
    if moved:
        clocks.sync(session, ticket, now, reason="earlier_report")
    return message


def _add_report(session: Session, ticket: Ticket, reporter: Person, report: Report) -> Message:
    message = Message(
        ticket_id=ticket.id or 0, direction=Direction.IN, channel=report.channel, author_id=reporter.id,
        author_kind=AuthorKind.REPORTER, text=report.text, channel_ts=report.channel_ts,
        received_at=report.received_at, is_written_report=report.is_written_report,
        external_id=report.external_id, meta=report.meta,
    )
    session.add(message)  # flushed with the next statement: its id is not needed before then
    return message


def _summary(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= SUMMARY_LEN else first[: SUMMARY_LEN - 1] + "…"


# -- classification -------------------------------------------------------------

def set_system(session: Session, ticket: Ticket, system: CoveredSystem, actor: Actor, now: datetime) -> None:
    old = ticket.system_id
    ticket.system_id = system.id
    ticket.updated_at = now
    session.add(ticket)
    audit(session, actor, "ticket.system_set", now, ticket_id=ticket.id, old=old, new=system.id, name=system.name)


def set_severity(session: Session, ticket: Ticket, code: str, actor: Actor, now: datetime, *,
                 note: str = "") -> None:
    """Set the severity and recompute the response deadline from the original report time."""
    contract = session.get(Contract, ticket.contract_id)
    assert contract is not None
    policy_of(contract).level(code)  # raises KeyError on a code the contract does not have
    old = ticket.severity
    ticket.severity = code
    ticket.severity_confirmed = True
    ticket.updated_at = now
    clocks.sync(session, ticket, now, reason="severity_set", actor=actor)
    audit(session, actor, "ticket.severity_set", now, ticket_id=ticket.id, old=old, new=code, note=note,
          response_due_at=ticket.response_due_at.isoformat() if ticket.response_due_at else None)


def set_kind(session: Session, ticket: Ticket, kind: str, actor: Actor, now: datetime) -> None:
    """Re-classify the work (fault / bug / data / change / consult): targets change, starts stay."""
    if kind not in KINDS:
        raise TicketError(f"未知的工作类型「{kind}」，可选：{_options(KINDS)}。")
    old = ticket.kind
    ticket.kind = kind
    ticket.updated_at = now
    clocks.sync(session, ticket, now, reason="kind_set", actor=actor)
    audit(session, actor, "ticket.kind_set", now, ticket_id=ticket.id, old=old, new=kind)


def set_cause(session: Session, ticket: Ticket, cause: str | None, actor: Actor, now: datetime) -> None:
    """Record what caused the fault (for penalty rules such as seed 000's vendor-caused faults)."""
    if cause is not None and cause not in CAUSES:
        raise TicketError(f"未知的故障原因「{cause}」，可选：{_options(CAUSES)}。")
    old = ticket.cause
    ticket.cause = cause
    ticket.updated_at = now
    session.add(ticket)
    audit(session, actor, "ticket.cause_set", now, ticket_id=ticket.id, old=old, new=cause)


def _options(names: dict[str, str]) -> str:
    return "、".join(f"{k}（{v}）" for k, v in names.items())


# -- clock events and pauses ------------------------------------------------------------

EVENTS = {
    "onsite_requested": "提出现场服务要求",
    "onsite_arrival": "工程师到达现场",
    "change_approved": "院方确认修改方案",
    "document_uploaded": "文档已提交",
    "resolved": "已解决",
    "reopened": "重新打开",
}


def record_event(session: Session, ticket: Ticket, name: str, actor: Actor, now: datetime, *,
                 at: datetime | None = None, note: str = "") -> None:
    """Record an event that starts or stops clocks; ``at`` (default now) may be earlier, e.g. an arrival noted late."""
    if name not in EVENTS:
        raise TicketError(f"未知的事件「{name}」。")
    when = at or now
    if when > now:
        raise TicketError("事件时间不能晚于当前时间。")
    if name == "resolved":
        _ensure_open(ticket)
        ticket.status = TicketStatus.RESOLVED
    elif name == "reopened":
        if ticket.status != TicketStatus.RESOLVED:
            raise TicketError(f"工单 #{ticket.id} 未处于已解决状态，无需重新打开。")
        ticket.status = TicketStatus.CLAIMED if ticket.assignee_id else TicketStatus.NEW
    else:
        _ensure_open(ticket)
    session.add(TicketEvent(ticket_id=ticket.id or 0, name=name, at=when, actor=actor.label, note=note,
                            recorded_at=now))
    ticket.updated_at = now
    audit(session, actor, f"ticket.{name}", now, ticket_id=ticket.id, at=when.isoformat(), note=note)
    clocks.sync(session, ticket, now, reason=name, actor=actor)


def _ensure_open(ticket: Ticket) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise TicketError(f"工单 #{ticket.id} 已{_status_text(ticket.status)}。")


def allowed_pause_reasons(session: Session, ticket: Ticket) -> list[str]:
    """The pause reasons the contract allows for any clock of this ticket's level."""
    contract = session.get(Contract, ticket.contract_id)
    assert contract is not None
    level = policy_of(contract).level(ticket.severity)
    reasons: dict[str, None] = {}
    for spec in level.clocks.values():
        reasons.update(dict.fromkeys(spec.pause_on))
    return list(reasons)


def pause(session: Session, ticket: Ticket, reason: str, actor: Actor, now: datetime, *, note: str = "") -> None:
    """Stop the clocks the contract lets stand still for ``reason`` (e.g. waiting for the hospital's signature)."""
    _ensure_open(ticket)
    if ticket.hold_reason is not None:
        raise TicketError(f"工单 #{ticket.id} 已因「{PAUSE_REASONS.get(ticket.hold_reason, ticket.hold_reason)}」暂停计时。")
    allowed = allowed_pause_reasons(session, ticket)
    if reason not in allowed:
        options = "、".join(f"{r}（{PAUSE_REASONS[r]}）" for r in allowed) or "无（本合同不允许暂停计时）"
        raise TicketError(f"合同不允许因「{PAUSE_REASONS.get(reason, reason)}」暂停计时。可用原因：{options}。")
    session.add(TicketPause(ticket_id=ticket.id or 0, reason=reason, note=note, started_at=now,
                            started_by=actor.label))
    ticket.hold_reason = reason
    ticket.updated_at = now
    audit(session, actor, "sla.paused", now, ticket_id=ticket.id, reason=reason, note=note)
    clocks.sync(session, ticket, now, reason="paused", actor=actor)


def resume(session: Session, ticket: Ticket, actor: Actor, now: datetime, *, note: str = "") -> None:
    stmt = select(TicketPause).where(TicketPause.ticket_id == ticket.id, TicketPause.ended_at == None)  # noqa: E711
    open_pause = session.exec(stmt).first()
    if open_pause is None:
        raise TicketError(f"工单 #{ticket.id} 没有暂停计时。")
    open_pause.ended_at = now
    open_pause.ended_by = actor.label
    session.add(open_pause)
    ticket.hold_reason = None
    ticket.updated_at = now
    audit(session, actor, "sla.resumed", now, ticket_id=ticket.id, reason=open_pause.reason, note=note,
          paused_from=open_pause.started_at.isoformat())
    clocks.sync(session, ticket, now, reason="resumed", actor=actor)


# -- engineers ----------------------------------------------------------------------

class ClaimResult(StrEnum):
    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"


def lock(session: Session, ticket: Ticket) -> None:
    """Re-read the ticket under a row lock, for changes that may race (two taps on 接单, a reporter's
    answer meeting the autoclose timer). SQLite's BEGIN IMMEDIATE already serialises writers."""
    session.flush()
    session.refresh(ticket, with_for_update=True)


def claim(session: Session, ticket: Ticket, engineer: Person, now: datetime) -> ClaimResult:
    if ticket.status not in OPEN_STATUSES:
        raise TicketError(f"工单 #{ticket.id} 已{_status_text(ticket.status)}，无法接单。")
    if ticket.assignee_id == engineer.id:
        return ClaimResult.ALREADY_YOURS
    if ticket.assignee_id is not None:
        holder = session.get(Person, ticket.assignee_id)
        raise TicketError(f"工单 #{ticket.id} 已由 {holder.name if holder else '他人'} 接单。")
    # Two engineers tapping 接单 at once: the row lock makes the second see the first's claim.
    lock(session, ticket)
    if ticket.assignee_id is not None:
        return claim(session, ticket, engineer, now)
    ticket.assignee_id = engineer.id
    ticket.status = TicketStatus.CLAIMED
    ticket.updated_at = now
    session.add(ticket)
    audit(session, Actor.of(engineer), "ticket.claimed", now, ticket_id=ticket.id)
    return ClaimResult.CLAIMED


def reassign(session: Session, ticket: Ticket, engineer: Person, actor: Actor, now: datetime) -> None:
    """Give the ticket to ``engineer`` (转 N @某人); the clocks run on, a reassignment is no response."""
    _ensure_open(ticket)
    if ticket.assignee_id == engineer.id:
        raise TicketError(f"工单 #{ticket.id} 已经由 {engineer.name} 处理。")
    old = ticket.assignee_id
    ticket.assignee_id = engineer.id
    ticket.status = TicketStatus.CLAIMED
    ticket.updated_at = now
    session.add(ticket)
    audit(session, actor, "ticket.reassigned", now, ticket_id=ticket.id, old=old, new=engineer.id)


def ensure_replyable(ticket: Ticket) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise TicketError(f"工单 #{ticket.id} 已{_status_text(ticket.status)}，无法回复。")


def _status_text(status: str) -> str:
    return {"resolved": "解决", "closed": "关闭"}.get(status, status)


# -- outgoing messages ------------------------------------------------------------------

def reply_route(session: Session, ticket: Ticket, latest: str | None = None) -> tuple[str, str]:
    """(channel, recipient) that reaches the reporter: the channel of their latest message.

    ``latest``: that channel, when the caller has the message in hand (a ticket it just opened).
    """
    reporter = session.get(Person, ticket.reporter_id)
    assert reporter is not None
    channel = latest or _latest_channel(session, ticket) or "webchat"
    if channel == "hotline":  # a call has no way back: WeCom, else mail, else the web chat (issue 7)
        channel = "wecom" if reporter.wecom_userid else ("email" if reporter.email else "webchat")
    return channel, address_of(reporter, channel)


def _latest_channel(session: Session, ticket: Ticket) -> str | None:
    stmt = (
        select(Message.channel)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.IN,
               Message.author_id == ticket.reporter_id)
        .order_by(col(Message.id).desc())
    )
    return session.exec(stmt).first()


def address_of(person: Person, channel: str) -> str:
    if channel in ("wecom", "aibot") and person.wecom_userid:
        return person.wecom_userid
    if channel == "email" and person.email:
        return person.email
    return str(person.id)


def send_to_reporter(session: Session, ticket: Ticket, text: str, now: datetime, *,
                     author: Person | None = None, latest: str | None = None) -> Message:
    """Write an outgoing message to the reporter and queue its delivery.

    ``author`` given means a person's reply: when it is delivered it stops the
    response clock. The bot's own texts (no author) never do. ``latest``: see
    :func:`reply_route`.
    """
    channel, recipient = reply_route(session, ticket, latest)
    message = Message(
        ticket_id=ticket.id or 0, direction=Direction.OUT, channel=channel,
        author_id=author.id if author else None,
        author_kind=AuthorKind.ENGINEER if author else AuthorKind.BOT, text=text,
        channel_ts=now, received_at=now, is_human=author is not None,
    )
    session.add(message)
    if author is not None:
        session.flush()  # the audit entry below names the message
    # The outbox row takes the message's id when it is written (tickets.deferred), so the
    # bot's acknowledgement of a new ticket costs no flush of its own.
    outbox.enqueue(session, channel=channel, recipient=recipient, text=text, now=now,
                   ticket_id=ticket.id, message_id=deferred.IdOf(message))
    if author is not None:
        audit(session, Actor.of(author), "ticket.replied", now, ticket_id=ticket.id, message_id=message.id,
              channel=channel)
    return message


def record_delivery(session: Session, message_id: int, delivered_at: datetime) -> None:
    """A queued message reached its channel. The first human one stops the response clock."""
    message = session.get(Message, message_id)
    if message is None or message.delivered_at is not None:
        return
    message.delivered_at = delivered_at
    session.add(message)
    if not message.is_human:
        return
    ticket = session.get(Ticket, message.ticket_id)
    if ticket is not None and ticket.first_response_at is None:
        ticket.first_response_at = delivered_at
        session.add(ticket)
        audit(session, SYSTEM, "sla.response_stopped", delivered_at, ticket_id=ticket.id, message_id=message.id,
              first_response_at=delivered_at.isoformat(),
              breached=bool(ticket.response_due_at and delivered_at > ticket.response_due_at))
        clocks.sync(session, ticket, delivered_at, reason="first_human_reply")
