"""What a due timer says, and to whom: reminders before a deadline, escalations after it.

Who hears it (issue 6):
- a reminder goes to the engineer who claimed the ticket, or to the engineers'
  group while nobody has;
- the breach goes to the service managers (people with the manager role), or to
  the group where there are none;
- the second level goes to the people named in ``HELPDESK_ESCALATION_SECOND_LEVEL``
  (the vendor's project director, say), else to the managers again.

WeCom silently drops more than 30 messages a minute from one app to one member, so
the lines due for one recipient in one pass travel as one message.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from bot import texts
from sla import CLOCK_NAMES
from sla.reminders import REMIND
from tickets import outbox, service
from tickets.models import OPEN_STATUSES, Contract, Hospital, Person, Role, Ticket, TicketClock, Timer

Route = tuple[str, str]  # (channel, recipient)


@dataclass(frozen=True)
class ReminderRoutes:
    group: list[Route]  # the engineers' group(s): BotConfig.engineer_routes
    person_channel: str = "webchat"  # how a person is reached: "wecom" when the app can send
    second_level: tuple[str, ...] = ()  # WeCom userids or mail addresses of the second escalation level


def fire(session: Session, due: list[Timer], now: datetime, routes: ReminderRoutes) -> list[Timer]:
    """Queue the messages of the due timers; returns those that no longer apply (to cancel)."""
    lines: dict[Route, list[str]] = defaultdict(list)
    tickets_of: dict[Route, set[int]] = defaultdict(set)
    stale = []
    for timer in due:
        ticket = session.get(Ticket, timer.ticket_id) if timer.ticket_id else None
        clock = _clock(session, timer) if ticket is not None else None
        if ticket is None or clock is None or not _applies(timer, ticket, clock):
            stale.append(timer)
            continue
        line = _line(session, timer, ticket, clock, now)
        for route in _recipients(session, timer, ticket, routes):
            lines[route].append(line)
            tickets_of[route].add(ticket.id or 0)
    for (channel, recipient), said in lines.items():
        only = tickets_of[(channel, recipient)]
        outbox.enqueue(session, channel=channel, recipient=recipient, text="\n".join(said), now=now,
                       ticket_id=next(iter(only)) if len(only) == 1 else None)
    return stale


def _clock(session: Session, timer: Timer) -> TicketClock | None:
    stmt = select(TicketClock).where(TicketClock.ticket_id == timer.ticket_id, TicketClock.name == timer.clock)
    return session.exec(stmt).first()


def _applies(timer: Timer, ticket: Ticket, clock: TicketClock) -> bool:
    """A guard behind the scheduling: only running clocks of open tickets remind or escalate."""
    return ticket.status in OPEN_STATUSES and clock.state == "running" and clock.due_at is not None


def _line(session: Session, timer: Timer, ticket: Ticket, clock: TicketClock, now: datetime) -> str:
    """"#12 致命 响应将于 10:32 到期，剩余 15 分钟，未认领" — what is due, when, and who has it."""
    hospital = session.get(Hospital, ticket.hospital_id)
    contract = session.get(Contract, ticket.contract_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    level = service.policy_of(contract).level(ticket.severity).name if contract else ticket.severity
    what = CLOCK_NAMES.get(clock.name, clock.name)
    assert clock.due_at is not None
    due = texts.when(clock.due_at, now, tz)
    owner = _owner(session, ticket)
    where = f"（{hospital.name}）" if hospital else ""
    if timer.kind == REMIND:
        return (f"⏰ #{ticket.id} {level} {what}将于 {due} 到期，剩余 {_span(timedelta(seconds=timer.left_seconds))}，"
                f"{owner}{where}")
    if timer.level == 1:
        return f"🔴 超时：#{ticket.id} {level} {what}已于 {due} 到期仍未完成，{owner}{where}"
    late = _span(now - clock.due_at)
    return f"🔴 二次升级：#{ticket.id} {level} {what}已超时 {late} 仍未完成，{owner}{where}，请督办"


def _owner(session: Session, ticket: Ticket) -> str:
    if ticket.assignee_id is None:
        return "未认领"
    engineer = session.get(Person, ticket.assignee_id)
    return f"处理人 {engineer.name}" if engineer else "已认领"


def _span(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def _recipients(session: Session, timer: Timer, ticket: Ticket, routes: ReminderRoutes) -> list[Route]:
    if timer.kind == REMIND:
        engineer = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        return [_route(engineer, routes)] if engineer is not None and engineer.active else list(routes.group)
    people = _second_level(session, routes) if timer.level >= 2 else []
    people = people or _managers(session)
    return [_route(p, routes) for p in people] or list(routes.group)


def _route(person: Person, routes: ReminderRoutes) -> Route:
    channel = routes.person_channel if routes.person_channel != "wecom" or person.wecom_userid else "webchat"
    return channel, service.address_of(person, channel)


def _managers(session: Session) -> list[Person]:
    stmt = select(Person).where(Person.role == Role.MANAGER, Person.active == True).order_by(col(Person.id))  # noqa: E712
    return list(session.exec(stmt).all())


def _second_level(session: Session, routes: ReminderRoutes) -> list[Person]:
    if not routes.second_level:
        return []
    keys = list(routes.second_level)
    stmt = (select(Person).where(or_(col(Person.wecom_userid).in_(keys), col(Person.email).in_(keys)),
                                 Person.active == True).order_by(col(Person.id)))  # noqa: E712
    return list(session.exec(stmt).all())
