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

from sla import SlaPolicy, response_due
from tickets import outbox
from tickets.models import (
    OPEN_STATUSES,
    AuditLog,
    AuthorKind,
    Contract,
    CoveredSystem,
    Direction,
    Hospital,
    Message,
    Person,
    Ticket,
    TicketStatus,
)

SUMMARY_LEN = 60


class TicketError(Exception):
    """A requested change is not possible; ``message`` is Chinese text for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a person, or the bot / system itself."""

    label: str
    person_id: int | None = None

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(label=person.name, person_id=person.id)


BOT = Actor("bot")
SYSTEM = Actor("system")


def audit(session: Session, actor: Actor, action: str, now: datetime, *, ticket_id: int | None = None,
          **detail: Any) -> None:
    session.add(AuditLog(at=now, actor_id=actor.person_id, actor=actor.label, ticket_id=ticket_id,
                         action=action, detail=detail))


def policy_of(contract: Contract) -> SlaPolicy:
    return SlaPolicy.model_validate(contract.sla_policy)


# -- lookups ------------------------------------------------------------------

def contract_for_hospital(session: Session, hospital_id: int) -> Contract | None:
    stmt = select(Contract).where(Contract.hospital_id == hospital_id, Contract.active == True)  # noqa: E712
    return session.exec(stmt.order_by(col(Contract.id))).first()


def systems_of(session: Session, contract_id: int) -> list[CoveredSystem]:
    stmt = select(CoveredSystem).where(CoveredSystem.contract_id == contract_id).order_by(col(CoveredSystem.id))
    return list(session.exec(stmt).all())


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


def open_ticket(session: Session, *, reporter: Person, hospital: Hospital, contract: Contract,
                report: Report, system: CoveredSystem | None, now: datetime) -> tuple[Ticket, Message]:
    """Open a ticket from a reporter's first message.

    Until the reporter says how bad it is, the ticket runs on the contract's
    most urgent level (unconfirmed), so waiting for an answer never hides a deadline.
    """
    policy = policy_of(contract)
    severity = policy.most_urgent.code
    ticket = Ticket(
        hospital_id=hospital.id or 0, contract_id=contract.id or 0, reporter_id=reporter.id or 0,
        system_id=system.id if system else None, summary=_summary(report.text), status=TicketStatus.NEW,
        severity=severity, severity_confirmed=False, reported_at=report.channel_ts,
        response_due_at=response_due(policy, severity, report.channel_ts), created_at=now, updated_at=now,
    )
    session.add(ticket)
    session.flush()
    message = _add_report(session, ticket, reporter, report)
    audit(session, Actor.of(reporter), "ticket.opened", now, ticket_id=ticket.id, channel=report.channel,
          reported_at=ticket.reported_at.isoformat(), severity=severity, severity_confirmed=False,
          system=system.name if system else None)
    return ticket, message


def append_report(session: Session, ticket: Ticket, reporter: Person, report: Report, now: datetime) -> Message:
    """Add a reporter's further message; an earlier written report moves ``reported_at`` back."""
    message = _add_report(session, ticket, reporter, report)
    if report.is_written_report and report.channel_ts < ticket.reported_at:
        old = ticket.reported_at
        ticket.reported_at = report.channel_ts
        _recompute_due(session, ticket)
        audit(session, Actor.of(reporter), "ticket.reported_at_moved", now, ticket_id=ticket.id,
              old=old.isoformat(), new=ticket.reported_at.isoformat())
    ticket.updated_at = now
    session.add(ticket)
    return message


def _add_report(session: Session, ticket: Ticket, reporter: Person, report: Report) -> Message:
    message = Message(
        ticket_id=ticket.id or 0, direction=Direction.IN, channel=report.channel, author_id=reporter.id,
        author_kind=AuthorKind.REPORTER, text=report.text, channel_ts=report.channel_ts,
        received_at=report.received_at, is_written_report=report.is_written_report,
        external_id=report.external_id,
    )
    session.add(message)
    session.flush()
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


def set_severity(session: Session, ticket: Ticket, code: str, actor: Actor, now: datetime) -> None:
    """Set the severity and recompute the response deadline from the original report time."""
    contract = session.get(Contract, ticket.contract_id)
    assert contract is not None
    policy_of(contract).level(code)  # raises KeyError on a code the contract does not have
    old = ticket.severity
    ticket.severity = code
    ticket.severity_confirmed = True
    _recompute_due(session, ticket)
    ticket.updated_at = now
    session.add(ticket)
    audit(session, actor, "ticket.severity_set", now, ticket_id=ticket.id, old=old, new=code,
          response_due_at=ticket.response_due_at.isoformat() if ticket.response_due_at else None)


def _recompute_due(session: Session, ticket: Ticket) -> None:
    contract = session.get(Contract, ticket.contract_id)
    assert contract is not None
    ticket.response_due_at = response_due(policy_of(contract), ticket.severity, ticket.reported_at)


# -- engineers ----------------------------------------------------------------------

class ClaimResult(StrEnum):
    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"


def claim(session: Session, ticket: Ticket, engineer: Person, now: datetime) -> ClaimResult:
    if ticket.status not in OPEN_STATUSES:
        raise TicketError(f"工单 #{ticket.id} 已{_status_text(ticket.status)}，无法接单。")
    if ticket.assignee_id == engineer.id:
        return ClaimResult.ALREADY_YOURS
    if ticket.assignee_id is not None:
        holder = session.get(Person, ticket.assignee_id)
        raise TicketError(f"工单 #{ticket.id} 已由 {holder.name if holder else '他人'} 接单。")
    ticket.assignee_id = engineer.id
    ticket.status = TicketStatus.CLAIMED
    ticket.updated_at = now
    session.add(ticket)
    audit(session, Actor.of(engineer), "ticket.claimed", now, ticket_id=ticket.id)
    return ClaimResult.CLAIMED


def ensure_replyable(ticket: Ticket) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise TicketError(f"工单 #{ticket.id} 已{_status_text(ticket.status)}，无法回复。")


def _status_text(status: str) -> str:
    return {"resolved": "解决", "closed": "关闭"}.get(status, status)


# -- outgoing messages ------------------------------------------------------------------

def reply_route(session: Session, ticket: Ticket) -> tuple[str, str]:
    """(channel, recipient) that reaches the reporter: the channel of their latest message."""
    reporter = session.get(Person, ticket.reporter_id)
    assert reporter is not None
    stmt = (
        select(Message.channel)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.IN,
               Message.author_id == ticket.reporter_id)
        .order_by(col(Message.id).desc())
    )
    channel = session.exec(stmt).first() or "webchat"
    return channel, address_of(reporter, channel)


def address_of(person: Person, channel: str) -> str:
    if channel == "wecom" and person.wecom_userid:
        return person.wecom_userid
    if channel == "email" and person.email:
        return person.email
    return str(person.id)


def send_to_reporter(session: Session, ticket: Ticket, text: str, now: datetime, *,
                     author: Person | None = None) -> Message:
    """Write an outgoing message to the reporter and queue its delivery.

    ``author`` given means a person's reply: when it is delivered it stops the
    response clock. The bot's own texts (no author) never do.
    """
    channel, recipient = reply_route(session, ticket)
    message = Message(
        ticket_id=ticket.id or 0, direction=Direction.OUT, channel=channel,
        author_id=author.id if author else None,
        author_kind=AuthorKind.ENGINEER if author else AuthorKind.BOT, text=text,
        channel_ts=now, received_at=now, is_human=author is not None,
    )
    session.add(message)
    session.flush()
    outbox.enqueue(session, channel=channel, recipient=recipient, text=text, now=now,
                   ticket_id=ticket.id, message_id=message.id)
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
