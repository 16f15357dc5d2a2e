"""What an engineer's command does beyond claiming and replying (issue 6 command grammar).

Each function takes the parsed command and answers the engineer in one short
Chinese text; the reporter is told where the contract makes it their business
(a pause, a visit, a resolution). Every change goes through :mod:`tickets.service`,
which audits it and re-times the clocks and reminders.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot import texts
from bot.commands import Command, Verb
from sla import CLOCK_NAMES, PAUSE_REASONS
from tickets import service
from tickets.models import OPEN_STATUSES, STATUS_NAMES, Hospital, Person, Ticket, TicketClock
from tickets.service import Actor, TicketError

LIST_LIMIT = 10
# Words in an engineer's pause reason that name the contract's pause reasons (sla.PAUSE_REASONS).
_REASON_WORDS = {"waiting_authorisation": ("授权", "签字", "签批"), "waiting_review": ("评审", "审核", "审批")}


def run(session: Session, engineer: Person, command: Command, ticket: Ticket | None, now: datetime) -> str:
    actor = Actor.of(engineer)
    if command.verb is Verb.MINE:
        return _list(session, now, "您处理中的工单", Ticket.assignee_id == engineer.id)
    if command.verb is Verb.TODO:
        return _list(session, now, "待认领的工单", Ticket.assignee_id == None)  # noqa: E711
    assert ticket is not None
    if command.verb is Verb.QUERY:
        return describe(session, ticket, now)
    if command.verb is Verb.PAUSE:
        reason = pause_reason(session, ticket, command.text)
        service.pause(session, ticket, reason, actor, now, note=command.text)
        service.send_to_reporter(session, ticket, f"工单 #{ticket.id} 因「{command.text}」暂停计时，"
                                 "条件具备后工程师会继续处理。", now)
        return f"已暂停 #{ticket.id} 计时（{PAUSE_REASONS[reason]}）。恢复请发：恢复 {ticket.id}"
    if command.verb is Verb.RESUME:
        service.resume(session, ticket, actor, now)
        service.send_to_reporter(session, ticket, f"工单 #{ticket.id} 已恢复处理。", now)
        return f"已恢复 #{ticket.id} 计时。"
    if command.verb is Verb.ONSITE:
        service.record_event(session, ticket, "onsite_requested", actor, now)
        return f"已登记 #{ticket.id} 需要现场服务，到场后请发：到达 {ticket.id}"
    if command.verb is Verb.ARRIVE:
        service.record_event(session, ticket, "onsite_arrival", actor, now)
        return f"已登记 {engineer.name} 到达 #{ticket.id} 现场。"
    if command.verb is Verb.RESOLVE:
        service.record_event(session, ticket, "resolved", actor, now, note=command.text)
        service.send_to_reporter(session, ticket, f"【工单 #{ticket.id}】已处理：{command.text}", now, author=engineer)
        return f"已将 #{ticket.id} 标记为已解决。"
    raise TicketError(f"「{command.verb}」指令尚未开放，请在管理后台操作工单 #{ticket.id}。")


def pause_reason(session: Session, ticket: Ticket, said: str) -> str:
    """The contract's pause reason the engineer's words name; the only one, if the contract has one."""
    allowed = service.allowed_pause_reasons(session, ticket)
    if not allowed:
        raise TicketError(f"工单 #{ticket.id} 的合同不允许暂停计时。")
    named = [r for r in allowed if any(w in said for w in _REASON_WORDS.get(r, ()))]
    if len(named) == 1 or len(allowed) == 1:
        return (named or allowed)[0]
    options = "、".join(PAUSE_REASONS[r] for r in allowed)
    raise TicketError(f"请写明暂停原因属于哪一类：{options}。")


def describe(session: Session, ticket: Ticket, now: datetime) -> str:
    hospital = session.get(Hospital, ticket.hospital_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    owner = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    lines = [f"#{ticket.id} {hospital.name if hospital else ''} · {ticket.summary}",
             f"状态：{STATUS_NAMES.get(ticket.status, ticket.status)} · 处理人：{owner.name if owner else '未认领'}"]
    stmt = select(TicketClock).where(TicketClock.ticket_id == ticket.id).order_by(col(TicketClock.id))
    for clock in session.exec(stmt):
        name = CLOCK_NAMES.get(clock.name, clock.name)
        if clock.stopped_at is not None:
            lines.append(f"{name}：已完成{'（超时）' if clock.breached else ''}")
        elif clock.paused_since is not None:
            lines.append(f"{name}：暂停计时中")
        elif clock.due_at is not None:
            lines.append(f"{name}：{texts.when(clock.due_at, now, tz)} 到期（{texts.left(clock.due_at, now)}）")
    return "\n".join(lines)


def _list(session: Session, now: datetime, title: str, condition: object) -> str:
    stmt = (select(Ticket).where(col(Ticket.status).in_(OPEN_STATUSES), condition)
            .order_by(col(Ticket.response_due_at).asc().nulls_last(), col(Ticket.id)).limit(LIST_LIMIT + 1))
    rows = list(session.exec(stmt).all())
    if not rows:
        return f"{title}：无。"
    lines = [f"{title}（按响应时限排序）："]
    for t in rows[:LIST_LIMIT]:
        due = f"，{texts.left(t.response_due_at, now)}" if t.response_due_at and t.first_response_at is None else ""
        lines.append(f"#{t.id} {texts.clip(t.summary, 30)}{due}")
    if len(rows) > LIST_LIMIT:
        lines.append(f"……仅显示前 {LIST_LIMIT} 条，完整队列请看管理后台。")
    return "\n".join(lines)
