"""Closing a resolved ticket: the reporter's confirmation, the default after N working days, the score.

Seed 002 一.1 asks for 定期进行满意度回访服务，形成全流程服务闭环管理: a resolution is not
the end of a ticket. The reporter confirms it (or says it is not solved, which reopens
it) and rates the service; seed 000 5.其他要求(2) wants 用户评价 in the evaluation report. A
reporter who never answers must not leave the ticket resolved for ever: after the
confirmation period (working days, counted as the contract counts them) it closes as
confirmed by default.

Every change is audited. The conversation around it (what the reporter is asked and
told) is the bot's (``bot.confirm``); this module only changes the ticket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, select

from tickets import service, timers
from tickets.audit import Actor, audit
from tickets.calendars import calendars_for
from tickets.models import Contract, Hospital, Ticket, TicketEvent, TicketStatus, Timer, TimerStatus

DEFAULT_CONFIRM_DAYS = 3  # HELPDESK_CONFIRM_DAYS
AUTOCLOSE = "autoclose"  # Timer.kind of the timer that closes an unanswered resolution


class CloseReason(StrEnum):
    CONFIRMED = "confirmed"  # the reporter said 已解决
    AUTO = "auto"  # no answer within the confirmation period: closed as confirmed by default
    ADMIN = "admin"  # closed by the vendor's administrator


CLOSE_REASON_NAMES: dict[str, str] = {CloseReason.CONFIRMED: "报障人确认", CloseReason.AUTO: "逾期未确认自动关闭",
                                      CloseReason.ADMIN: "管理员关闭"}
RATINGS = range(1, 6)  # 1–5, 5 最满意
LOW_RATING = 2  # this score or lower: the service managers call the reporter back (回访)


def resolutions(session: Session, ticket: Ticket) -> int:
    """How many times the ticket was resolved: each resolution has its own autoclose timer."""
    stmt = select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                               TicketEvent.name == "resolved")
    return int(session.exec(stmt).one())


def autoclose_key(ticket: Ticket, resolution: int) -> str:
    return f"ticket:{ticket.id}:{AUTOCLOSE}:{resolution}"


def autoclose_at(session: Session, ticket: Ticket, resolved_at: datetime, days: int) -> datetime:
    """Close of business of the ``days``-th working day after the resolution, in the hospital's calendar.

    民法典 第二百零一条: the day of the resolution itself does not count; 第二百零三条: the
    period ends when business stops on its last day — sla's working-days arithmetic,
    with the hospital's holidays, 调休 and own days, and the contract's working hours.
    """
    hospital = session.get(Hospital, ticket.hospital_id)
    contract = session.get(Contract, ticket.contract_id)
    assert hospital is not None and contract is not None
    calendars = calendars_for(session, hospital).for_policy(service.policy_of(contract))
    return calendars.working_days.add(resolved_at, timedelta(days=days))


def await_confirmation(session: Session, ticket: Ticket, now: datetime, *, days: int) -> Timer:
    """After a resolution: remember when, and set the timer that closes the ticket if nobody answers."""
    ticket.resolved_at = now
    session.add(ticket)
    session.flush()
    due = autoclose_at(session, ticket, now, days)
    timer = Timer(key=autoclose_key(ticket, resolutions(session, ticket)), kind=AUTOCLOSE, ticket_id=ticket.id,
                  label=f"{days}个工作日未确认", due_at=due, created_at=now)
    session.add(timer)
    audit(session, service.SYSTEM, "ticket.confirmation_requested", now, ticket_id=ticket.id, days=days,
          autoclose_at=due.isoformat())
    return timer


def close(session: Session, ticket: Ticket, reason: CloseReason, actor: Actor, now: datetime) -> None:
    """Close a resolved ticket; only the reporter's own word counts as a confirmation."""
    if ticket.status != TicketStatus.RESOLVED:
        raise service.TicketError(f"工单 #{ticket.id} 未处于已解决状态，无法关闭。")
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.close_reason = reason
    if reason is CloseReason.CONFIRMED:
        ticket.confirmed_at = now
    ticket.updated_at = now
    session.add(ticket)
    _cancel_autoclose(session, ticket, now)
    audit(session, actor, "ticket.closed", now, ticket_id=ticket.id, reason=str(reason),
          resolved_at=ticket.resolved_at.isoformat() if ticket.resolved_at else None)


def reopen(session: Session, ticket: Ticket, actor: Actor, now: datetime, *, note: str = "") -> None:
    """未解决: the ticket goes back to work and its resolution no longer stops any clock.

    The resolution clock continues from the original report as if the resolution had
    never been (sla.clocks: a resolution undone by a reopening does not stop a clock) —
    seed 000 三(3)2.(3) 4小时内解决问题 counts until the problem is solved, not until
    somebody said it was.
    """
    service.record_event(session, ticket, "reopened", actor, now, note=note[:1000])
    ticket.resolved_at = None
    session.add(ticket)
    _cancel_autoclose(session, ticket, now)


def rate(session: Session, ticket: Ticket, score: int, comment: str, actor: Actor, now: datetime) -> None:
    """The reporter's score for a closed ticket (满意度回访), with what they said beside it."""
    if score not in RATINGS:
        raise service.TicketError("评分请用 1–5 分。")
    if ticket.status != TicketStatus.CLOSED:
        raise service.TicketError(f"工单 #{ticket.id} 尚未关闭，暂不能评分。")
    old = ticket.rating
    ticket.rating = score
    ticket.rating_comment = comment.strip()[:500]
    ticket.updated_at = now
    session.add(ticket)
    audit(session, actor, "ticket.rated", now, ticket_id=ticket.id, old=old, rating=score,
          comment=ticket.rating_comment)


def _cancel_autoclose(session: Session, ticket: Ticket, now: datetime) -> None:
    stmt = select(Timer).where(Timer.ticket_id == ticket.id, Timer.kind == AUTOCLOSE,
                               Timer.status == TimerStatus.PENDING)
    for timer in session.exec(stmt):
        timers.mark(timer, TimerStatus.CANCELLED, now)
        session.add(timer)
