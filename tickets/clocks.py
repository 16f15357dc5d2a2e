"""Each ticket's clocks, kept in step with its facts.

After anything that can move a deadline — a report, a reply delivered, a
severity or kind change, an event, a pause, a calendar edit — the service calls
:func:`sync`, which evaluates the contract's clocks from the ticket's facts
(sla.evaluate) and stores the result, auditing every clock that starts, stops,
or whose deadline moves.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from sla import Calendars, ClockState, Pause, SlaPolicy, TicketFacts, evaluate, policy_from
from tickets import deferred, timers
from tickets.audit import SYSTEM, Actor, audit
from tickets.calendars import calendars_for
from tickets.models import (
    OPEN_STATUSES,
    Contract,
    Hospital,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketPause,
)


def facts_of(session: Session, ticket: Ticket, *, fresh: bool = False) -> TicketFacts:
    """The facts the clocks run on; ``fresh``: a ticket opened in this transaction has no events or pauses."""
    events: dict[str, list[datetime]] = {"written_report": [ticket.reported_at],
                                         "any_report": [ticket.first_contact_at or ticket.reported_at]}
    if ticket.written_report_pending:  # a call only: clocks on the written report wait for it (issue 7)
        del events["written_report"]
    if ticket.first_response_at is not None:
        events["first_human_reply"] = [ticket.first_response_at]
    if fresh:
        return TicketFacts(severity=ticket.severity, kind=ticket.kind, events=events, pauses=[])
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.at))
    for event in session.exec(stmt):
        events.setdefault(event.name, []).append(event.at)
    stmt_p = select(TicketPause).where(TicketPause.ticket_id == ticket.id).order_by(col(TicketPause.started_at))
    pauses = [Pause(reason=p.reason, start=p.started_at, end=p.ended_at) for p in session.exec(stmt_p)]
    return TicketFacts(severity=ticket.severity, kind=ticket.kind, events=events, pauses=pauses)


Evaluation = tuple[list[ClockState], Calendars, SlaPolicy]


def evaluate_new(session: Session, ticket: Ticket, now: datetime) -> Evaluation:
    """The clocks of a ticket about to be inserted (it needs no id yet): pass to :func:`sync`.

    Opening a ticket evaluates them before its INSERT, so the response deadline goes in
    with the row instead of as an UPDATE right after it (issue 5's intake path).
    """
    return _evaluate(session, ticket, now, None, fresh=True)


def response_due(states: list[ClockState]) -> datetime | None:
    response = next((s for s in states if s.name == "response"), None)
    return response.due_at if response else None


def evaluate_ticket(session: Session, ticket: Ticket, now: datetime,
                    calendars: Calendars | None = None, *, fresh: bool = False) -> list[ClockState]:
    return _evaluate(session, ticket, now, calendars, fresh=fresh)[0]


def _evaluate(session: Session, ticket: Ticket, now: datetime, calendars: Calendars | None, *,
              fresh: bool) -> tuple[list[ClockState], Calendars, SlaPolicy]:
    contract = session.get(Contract, ticket.contract_id)
    hospital = session.get(Hospital, ticket.hospital_id)
    assert contract is not None and hospital is not None
    calendars = calendars or calendars_for(session, hospital)
    policy = policy_from(contract.sla_policy)
    states = evaluate(policy, facts_of(session, ticket, fresh=fresh), calendars, now)
    return states, calendars.for_policy(policy), policy


def clocks_of(session: Session, ticket_id: int) -> list[TicketClock]:
    stmt = select(TicketClock).where(TicketClock.ticket_id == ticket_id).order_by(col(TicketClock.id))
    return list(session.exec(stmt).all())


def sync(session: Session, ticket: Ticket, now: datetime, *, reason: str,
         calendars: Calendars | None = None, actor: Actor = SYSTEM, fresh: bool = False,
         evaluated: Evaluation | None = None) -> list[ClockState]:
    """Re-evaluate the ticket's clocks and store them; ``reason`` says why, for the audit log.

    ``fresh``: the ticket was opened in this transaction, so it has no events,
    pauses or clock rows to read back (the intake hot path spares three reads);
    ``evaluated``: what :func:`evaluate_new` gave for it before its INSERT.
    """
    if not fresh:
        session.flush()
    states, calendars, policy = evaluated or _evaluate(session, ticket, now, calendars, fresh=fresh)
    rows = {} if fresh else {row.name: row for row in clocks_of(session, ticket.id or 0)}
    for state in states:
        _store(session, ticket, rows.pop(state.name, None), state, now, reason, actor)
    for row in rows.values():  # no longer applies (e.g. the kind of work changed)
        session.delete(row)
        audit(session, actor, "sla.clock_removed", now, ticket_id=ticket.id, clock=row.name, reason=reason)
    ticket.response_due_at = response_due(states)
    session.add(ticket)
    timers.schedule(session, ticket, states, calendars, policy, now, fresh=fresh)
    return states


def _store(session: Session, ticket: Ticket, row: TicketClock | None, state: ClockState, now: datetime,
           reason: str, actor: Actor) -> None:
    values = {
        "calendar": state.calendar, "target_seconds": int(state.target.total_seconds()),
        "clause": state.clause[:300], "state": state.state, "started_at": state.started_at, "due_at": state.due_at,
        "stopped_at": state.stopped_at, "paused_since": state.paused_since,
        "paused_seconds": int(state.paused.total_seconds()), "elapsed_seconds": int(state.elapsed.total_seconds()),
        "breached": state.breached, "calendar_confirmed": state.calendar_confirmed, "updated_at": now,
    }
    if row is None:  # a new clock: nothing reads the row back before the batch is written (tickets.deferred)
        deferred.insert_later(session, _TABLE, {"ticket_id": ticket.id, "name": state.name, **values})
        audit(session, actor, "sla.clock_started", now, ticket_id=ticket.id, clock=state.name,
              started_at=state.started_at.isoformat(), due_at=_iso(state.due_at), calendar=state.calendar,
              target_seconds=int(state.target.total_seconds()), reason=reason)
        return
    if row.stopped_at is None and state.stopped_at is not None:
        audit(session, actor, "sla.clock_stopped", now, ticket_id=ticket.id, clock=state.name,
              stopped_at=state.stopped_at.isoformat(), due_at=_iso(state.due_at), breached=state.breached)
    elif row.due_at is not None and state.due_at is not None and row.due_at != state.due_at:
        audit(session, actor, "sla.clock_recomputed", now, ticket_id=ticket.id, clock=state.name,
              old_due_at=row.due_at.isoformat(), due_at=state.due_at.isoformat(), reason=reason)
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)


_TABLE = TicketClock.__table__  # type: ignore[attr-defined]


def recompute_open(session: Session, now: datetime, *, hospital_id: int | None = None, reason: str,
                   actor: Actor = SYSTEM) -> int:
    """Re-evaluate the open tickets (of one hospital, or all) after a calendar or policy edit."""
    stmt = select(Ticket).where(col(Ticket.status).in_(OPEN_STATUSES))
    if hospital_id is not None:
        stmt = stmt.where(Ticket.hospital_id == hospital_id)
    cache: dict[int, Calendars] = {}
    count = 0
    for ticket in session.exec(stmt.order_by(col(Ticket.id))).all():
        calendars = cache.get(ticket.hospital_id)
        if calendars is None:
            hospital = session.get(Hospital, ticket.hospital_id)
            assert hospital is not None
            calendars = cache[ticket.hospital_id] = calendars_for(session, hospital)
        sync(session, ticket, now, reason=reason, calendars=calendars, actor=actor)
        count += 1
    return count


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None
