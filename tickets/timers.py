"""Each ticket's reminder and escalation timers, kept in step with its clocks.

:func:`schedule` runs inside :func:`tickets.clocks.sync`, so every change that can
move a deadline (a report, a reply, a pause, a severity change, a calendar edit)
moves the timers in the same transaction: a paused or stopped clock's pending
timers are deleted, a moved deadline moves them, a new target gets new ones.
Timers that fired stay as the record of what was said when.

:func:`claim_due` hands the due rows to one worker (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises workers); the caller writes the
outbox rows and marks the timers fired before it commits. A worker killed before
the commit leaves its rows pending and unlocked: the next worker fires them.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from sla import Calendars, ClockState, SlaPolicy
from sla.reminders import ESCALATE, REMIND, checkpoints, plan_of
from tickets import deferred
from tickets.db import skip_locked
from tickets.models import Ticket, Timer, TimerStatus


def schedule(session: Session, ticket: Ticket, states: list[ClockState], calendars: Calendars, policy: SlaPolicy,
             now: datetime, *, fresh: bool = False) -> None:
    """Make the ticket's pending timers those its running clocks need now.

    ``fresh``: the ticket was opened in this transaction and has no timers yet.
    """
    plan = plan_of(policy)
    wanted = {}
    for state in states:
        for point in checkpoints(state, calendars.get(state.calendar), now, plan):
            wanted[f"ticket:{ticket.id}:{point.key}"] = (state, point)
    existing: dict[str, Timer] = {}
    if not fresh:
        # Only the clocks' own timers: others of the ticket (e.g. tickets.closing's autoclose) are not ours.
        stmt = select(Timer).where(Timer.ticket_id == ticket.id, col(Timer.kind).in_((REMIND, ESCALATE)))
        existing = {t.key: t for t in session.exec(stmt)}
    for key, timer in existing.items():
        if timer.status == TimerStatus.PENDING and key not in wanted:
            session.delete(timer)
    for key, (state, point) in wanted.items():
        timer = existing.get(key)
        if timer is None:  # nothing reads it back in this transaction: written with the batch (tickets.deferred)
            deferred.insert_later(session, _TABLE, {
                "key": key, "kind": point.kind, "level": point.level, "ticket_id": ticket.id, "clock": state.name,
                "label": point.label, "left_seconds": int(point.left.total_seconds()), "due_at": point.at,
                "status": TimerStatus.PENDING, "created_at": now, "fired_at": None})
        elif timer.status == TimerStatus.PENDING and timer.due_at != point.at:
            timer.due_at = point.at
            session.add(timer)


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Timer]:
    """Lock up to ``limit`` pending timers due by ``now``, earliest first."""
    stmt = (select(Timer).where(Timer.status == TimerStatus.PENDING, col(Timer.due_at) <= now)
            .order_by(col(Timer.due_at), col(Timer.id)).limit(limit).with_for_update(**skip_locked(session)))
    return list(session.exec(stmt).all())


def mark(timer: Timer, status: TimerStatus, now: datetime) -> None:
    timer.status = status
    timer.fired_at = now


_TABLE = Timer.__table__  # type: ignore[attr-defined]
