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
from collections.abc import Callable
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
    ids = {t.ticket_id for t in due if t.ticket_id}
    tickets = {t.id: t for t in session.exec(select(Ticket).where(col(Ticket.id).in_(ids)))} if ids else {}
    clocks = ({(c.ticket_id, c.name): c for c in session.exec(select(TicketClock)
                                                              .where(col(TicketClock.ticket_id).in_(ids)))}
              if ids else {})
    people = service.people_by_id(session, {t.assignee_id for t in tickets.values()})
    audience = _Audience(routes, people, escalation=lambda: managers(session),
                         second=lambda: _second_level(session, routes))
    lines: dict[Route, list[str]] = defaultdict(list)
    tickets_of: dict[Route, set[int]] = defaultdict(set)
    stale = []
    for timer in due:
        ticket = tickets.get(timer.ticket_id)
        clock = clocks.get((timer.ticket_id, timer.clock))
        if ticket is None or clock is None or not _applies(ticket, clock):
            stale.append(timer)
            continue
        line = _line(session, timer, ticket, clock, people, now)
        for route in audience.of(timer, ticket):
            lines[route].append(line)
            tickets_of[route].add(ticket.id or 0)
    for (channel, recipient), said in lines.items():
        only = tickets_of[(channel, recipient)]
        outbox.enqueue(session, channel=channel, recipient=recipient, text="\n".join(said), now=now,
                       ticket_id=next(iter(only)) if len(only) == 1 else None)
    return stale


def _applies(ticket: Ticket, clock: TicketClock) -> bool:
    """A guard behind the scheduling: only running clocks of open tickets remind or escalate."""
    return ticket.status in OPEN_STATUSES and clock.state == "running" and clock.due_at is not None


def _line(session: Session, timer: Timer, ticket: Ticket, clock: TicketClock, people: dict[int, Person],
          now: datetime) -> str:
    """"#12 致命 响应将于 10:32 到期，剩余 15 分钟，未认领" — what is due, when, and who has it."""
    hospital = session.get(Hospital, ticket.hospital_id)
    contract = session.get(Contract, ticket.contract_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    level = service.policy_of(contract).level(ticket.severity).name if contract else ticket.severity
    what = CLOCK_NAMES.get(clock.name, clock.name)
    assert clock.due_at is not None
    due = texts.when(clock.due_at, now, tz)
    owner = _owner(ticket, people)
    where = f"（{hospital.name}）" if hospital else ""
    if timer.kind == REMIND:
        return (f"⏰ #{ticket.id} {level} {what}将于 {due} 到期，剩余 {texts.span(timedelta(seconds=timer.left_seconds))}，"
                f"{owner}{where}")
    if timer.level == 1:
        return f"🔴 超时：#{ticket.id} {level} {what}已于 {due} 到期仍未完成，{owner}{where}"
    late = texts.span(now - clock.due_at)
    return f"🔴 二次升级：#{ticket.id} {level} {what}已超时 {late} 仍未完成，{owner}{where}，请督办"


def _owner(ticket: Ticket, people: dict[int, Person]) -> str:
    if ticket.assignee_id is None:
        return "未认领"
    engineer = people.get(ticket.assignee_id)
    return f"处理人 {engineer.name}" if engineer else "已认领"


class _Audience:
    """Who hears each timer; the managers and the second level are looked up once per pass."""

    def __init__(self, routes: ReminderRoutes, people: dict[int, Person], *,
                 escalation: Callable[[], list[Person]], second: Callable[[], list[Person]]) -> None:
        self.routes, self.people = routes, people
        self._escalation, self._second = escalation, second
        self._cache: dict[int, list[Route]] = {}

    def of(self, timer: Timer, ticket: Ticket) -> list[Route]:
        if timer.kind == REMIND:
            engineer = self.people.get(ticket.assignee_id) if ticket.assignee_id else None
            if engineer is not None and engineer.active:
                return [route_to(engineer, self.routes.person_channel)]
            return list(self.routes.group)
        level = min(timer.level, 2)
        if level not in self._cache:
            chosen = (self._second() if level == 2 else []) or self._escalation()
            self._cache[level] = [route_to(p, self.routes.person_channel) for p in chosen] or list(self.routes.group)
        return self._cache[level]


def route_to(person: Person, person_channel: str) -> Route:
    """How one person is reached alone: WeCom (app or AI bot) by userid; without one, the web chat."""
    needs_userid = person_channel in ("wecom", "aibot")
    channel = person_channel if person.wecom_userid or not needs_userid else "webchat"
    return channel, service.address_of(person, channel)


def managers(session: Session) -> list[Person]:
    """The active service managers: they hear of breaches, missed duties and low scores."""
    stmt = select(Person).where(Person.role == Role.MANAGER, Person.active == True).order_by(col(Person.id))  # noqa: E712
    return list(session.exec(stmt).all())


def _second_level(session: Session, routes: ReminderRoutes) -> list[Person]:
    if not routes.second_level:
        return []
    keys = list(routes.second_level)
    stmt = (select(Person).where(or_(col(Person.wecom_userid).in_(keys), col(Person.email).in_(keys)),
                                 Person.active == True).order_by(col(Person.id)))  # noqa: E712
    return list(session.exec(stmt).all())
