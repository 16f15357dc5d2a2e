"""What an engineer's command does beyond claiming and replying (issue 6 command grammar).

Each function takes the parsed command and answers the engineer in one short
Chinese text; the reporter is told where the contract makes it their business
(a pause, a visit, a resolution). Every change goes through :mod:`tickets.service`,
which audits it and re-times the clocks and reminders.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot import confirm, groups, texts
from bot.commands import Command, Verb
from sla import CLOCK_NAMES, PAUSE_REASONS, SeverityLevel
from tickets import service
from tickets.closing import DEFAULT_CONFIRM_DAYS
from tickets.models import (
    ENGINEER_ROLES,
    OPEN_STATUSES,
    STATUS_NAMES,
    Contract,
    Hospital,
    Person,
    Ticket,
    TicketClock,
)
from tickets.service import Actor, TicketError

LIST_LIMIT = 10
# Words in an engineer's pause reason that name the contract's pause reasons (sla.PAUSE_REASONS).
_REASON_WORDS = {"waiting_authorisation": ("授权", "签字", "签批"), "waiting_review": ("评审", "审核", "审批")}


def run(session: Session, engineer: Person, command: Command, ticket: Ticket | None, now: datetime, *,
        confirm_days: int = DEFAULT_CONFIRM_DAYS) -> str:
    actor = Actor.of(engineer)
    if command.verb is Verb.MINE:
        return _list(session, now, "您处理中的工单", Ticket.assignee_id == engineer.id)
    if command.verb is Verb.TODO:
        return _list(session, now, "待认领的工单", Ticket.assignee_id == None,  # noqa: E711
                     served_by=engineer)
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
    if command.verb in (Verb.ESCALATE, Verb.DEESCALATE):
        return _change_level(session, engineer, command, ticket, now)
    if command.verb is Verb.RESOLVE:
        service.record_event(session, ticket, "resolved", actor, now, note=command.text)
        question = confirm.ask(session, ticket, now, days=confirm_days)  # seed 002 一.1 全流程服务闭环
        service.send_to_reporter(session, ticket, f"【工单 #{ticket.id}】已处理：{command.text}\n\n{question}", now,
                                 author=engineer)
        return f"已将 #{ticket.id} 标记为已解决，已请报障人确认；{confirm_days} 个工作日内未答复将自动关闭。"
    raise TicketError(f"「{command.verb}」指令尚未开放，请在管理后台操作工单 #{ticket.id}。")


def colleague(session: Session, said: str) -> Person:
    """The vendor's person a ticket is passed to: by WeCom account, else by name (unique)."""
    said = said.strip().lstrip("@")
    stmt = select(Person).where(col(Person.role).in_(ENGINEER_ROLES), Person.active == True,  # noqa: E712
                                Person.hospital_id == None)  # noqa: E711
    people = list(session.exec(stmt))
    found = [p for p in people if p.wecom_userid == said] or [p for p in people if p.name == said]
    if not found:
        raise TicketError(f"没有找到工程师「{said}」，请写同事的姓名或企业微信账号。")
    if len(found) > 1:
        raise TicketError(f"有 {len(found)} 位同事叫「{said}」，请改写企业微信账号，例如 @{found[0].wecom_userid or '账号'}。")
    return found[0]


def level_named(levels: list[SeverityLevel], said: str) -> SeverityLevel:
    """The contract's level an engineer's word names: its code, its name or the start of it, or its rank.

    Levels are listed most urgent first, so 一级 / 1级 / P1 is the first one when no
    level is called that by name.
    """
    said = said.strip()
    for level in levels:
        if said.lower() == level.code.lower() or said == level.name or level.name.startswith(said):
            return level
    rank = _rank(said)
    if rank is not None and 1 <= rank <= len(levels):
        return levels[rank - 1]
    names = "、".join(level.name for level in levels)
    raise TicketError(f"合同里没有「{said}」这一级别，可选：{names}。")


_RANKS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}


def _rank(said: str) -> int | None:
    digit = said.removeprefix("P").removesuffix("级").removesuffix("故障")
    if digit.isdigit():
        return int(digit)
    return _RANKS.get(digit)


def _change_level(session: Session, engineer: Person, command: Command, ticket: Ticket, now: datetime) -> str:
    """升级 / 降级 N 级别 原因: the response deadline is recomputed from the original report time."""
    contract = session.get(Contract, ticket.contract_id)
    assert contract is not None
    levels = service.policy_of(contract).levels
    target = level_named(levels, command.level)
    current = next((i for i, level in enumerate(levels) if level.code == ticket.severity), 0)
    wanted = levels.index(target)
    if command.verb is Verb.ESCALATE and wanted >= current:
        raise TicketError(f"「{target.name}」不比当前级别「{levels[current].name}」更紧急，升级请选更高的级别。")
    if command.verb is Verb.DEESCALATE and wanted <= current:
        raise TicketError(f"「{target.name}」不比当前级别「{levels[current].name}」更低，降级请选更低的级别。")
    service.set_severity(session, ticket, target.code, Actor.of(engineer), now, note=command.text)
    hospital = session.get(Hospital, ticket.hospital_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    service.send_to_reporter(session, ticket, f"工单 #{ticket.id} 级别已调整为「{target.name}」：{command.text}\n"
                             f"{texts.deadline_line(ticket.response_due_at, now, tz)}", now)
    return (f"已将 #{ticket.id} 从「{levels[current].name}」调整为「{target.name}」。"
            f"{texts.deadline_line(ticket.response_due_at, now, tz)}")


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


def _list(session: Session, now: datetime, title: str, condition: object, *,
          served_by: Person | None = None) -> str:
    stmt = (select(Ticket).where(col(Ticket.status).in_(OPEN_STATUSES), condition)
            .order_by(col(Ticket.response_due_at).asc().nulls_last(), col(Ticket.id)).limit(LIST_LIMIT + 1))
    if served_by is not None and groups.EVERY_HOSPITAL not in served_by.serves:
        keys = select(Hospital.id).where(col(Hospital.key).in_(served_by.serves or [""]))
        stmt = stmt.where(col(Ticket.hospital_id).in_(keys))
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
