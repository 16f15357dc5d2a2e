"""What a due duty timer says, and to whom (issue 6: contract duties).

A reminder ``remind_days_before`` days ahead of a duty, and the notice at its due
instant that it is missed, go to the engineers' group(s) and to the service
managers: the engineers do the inspection, the managers answer for the penalty
(seed 004 6.2 6.6.1 按1000元/次). A timer whose duty was completed, withdrawn or
belongs to a stopped contract says nothing and is cancelled. Lines due for one
recipient in one pass travel as one message, as ticket reminders do.

The duty rows are locked before they are read: an upload closing the same duty at
the same instant either lands first (the miss is then not said) or waits for this
pass (the upload then closes a missed duty, late).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from bot import texts
from bot.reminders import ReminderRoutes, Route, managers, route_to
from tickets import duties, outbox
from tickets.models import Contract, Duty, DutyStatus, Hospital, Timer

DUTY = duties.DUTY  # the timer kind Bot.remind hands to :func:`fire`


def fire(session: Session, due: list[Timer], now: datetime, routes: ReminderRoutes) -> list[Timer]:
    """Queue the messages of the due duty timers, mark missed duties; returns the timers that no longer apply."""
    ids = sorted({i for t in due if (i := duties.duty_id_of(t)) is not None})
    rows = (session.exec(select(Duty).where(col(Duty.id).in_(ids)).order_by(col(Duty.id)).with_for_update())
            .all() if ids else [])
    by_id = {d.id: d for d in rows}
    audience = _audience(session, routes)
    lines: dict[Route, list[str]] = defaultdict(list)
    touched: dict[int, Contract] = {}
    stale = []
    for timer in sorted(due, key=lambda t: (t.due_at, t.id or 0)):
        duty = by_id.get(duties.duty_id_of(timer))
        contract = session.get(Contract, duty.contract_id) if duty is not None else None
        if duty is None or contract is None or not contract.active or duty.status != DutyStatus.PENDING:
            stale.append(timer)
            continue
        if timer.level == 0 and now >= duty.due_at:  # a reminder fired late (workers were down): the miss says it
            stale.append(timer)
            continue
        spec = duties.spec_of(contract, duty)
        if timer.level >= 1:
            duties.mark_missed(session, duty, spec, now)
        line = _line(session, timer, duty, contract, spec.closes_with if spec else "报告", now)
        for route in audience:
            lines[route].append(line)
        touched[contract.id or 0] = contract
    for (channel, recipient), said in lines.items():
        outbox.enqueue(session, channel=channel, recipient=recipient, text="\n".join(said), now=now)
    for contract in touched.values():  # the next periods, once these are told (see tickets.duties)
        duties.top_up(session, contract, now)
    return stale


def _line(session: Session, timer: Timer, duty: Duty, contract: Contract, closes_with: str, now: datetime) -> str:
    """📋 柳州市工人医院 2026年第4季度巡检 将于 12月31日 18:00 到期（剩余 7 天），完成后请在管理后台上传巡检报告."""
    hospital = session.get(Hospital, contract.hospital_id)
    where = hospital.name if hospital else contract.name
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    what, when = duties.title(duty), texts.when(duty.due_at, now, tz)
    if timer.level == 0:
        return f"📋 {where} {what} 将于 {when} 到期（剩余 {left(duty.due_at - now)}），完成后请在管理后台上传{closes_with}"
    cost = f"，按合同计违约金 {yuan(duty.penalty_yuan)} 元" if duty.penalty_yuan is not None else ""
    return f"🔴 合同义务逾期：{where} {what} 已于 {when} 到期，未上传{closes_with}{cost}。请尽快补做并在管理后台上传"


def left(span: timedelta) -> str:
    """7 天 (to the nearest day: a pass a few minutes late still says 7); under a day, hours and minutes."""
    if span >= timedelta(days=1):
        return f"{round(span / timedelta(days=1))} 天"
    return texts.span(span)


def yuan(amount: Decimal) -> str:
    """1000 → 1,000; 1234.5 → 1,234.50."""
    return f"{int(amount):,}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _audience(session: Session, routes: ReminderRoutes) -> list[Route]:
    """The engineers' group(s), then each active service manager; each once."""
    out = list(routes.group)
    for manager in managers(session):
        route = route_to(manager, routes.person_channel)
        if route not in out:
            out.append(route)
    return out
