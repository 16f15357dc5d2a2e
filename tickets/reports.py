"""The service evaluation report for one contract and period, from the stored tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from sla import EvaluationReport, TicketOutcome, evaluation_report, policy_from
from tickets.calendars import calendars_for
from tickets.clocks import evaluate_ticket
from tickets.closing import LOW_RATING, CloseReason
from tickets.duties import DutyFigures, figures_json, missed_in
from tickets.models import Contract, CoveredSystem, Hospital, Ticket, TicketEvent


@dataclass
class ContractReport:
    contract: Contract
    hospital: Hospital
    start: date
    end: date  # inclusive
    report: EvaluationReport
    tickets: dict[int, Ticket]
    satisfaction: Satisfaction | None = None  # tickets closed in the period, as their reporters saw them
    duties: DutyFigures | None = None  # contract duties due in the period that were missed (issue 6)


def period_bounds(hospital: Hospital, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after ``end`` 00:00) in the hospital's time zone."""
    tz = ZoneInfo(hospital.timezone)
    return (datetime.combine(start, time(0), tzinfo=tz), datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz))


def contract_report(session: Session, contract: Contract, start: date, end: date, now: datetime,
                    sample: list[int] | None = None) -> ContractReport:
    """Seed 000 附件1 for the tickets of ``contract`` first reported in [start, end], clocks as of ``now``."""
    hospital = session.get(Hospital, contract.hospital_id)
    assert hospital is not None
    lo, hi = period_bounds(hospital, start, end)
    stmt = (select(Ticket)
            .where(Ticket.contract_id == contract.id, col(Ticket.reported_at) >= lo, col(Ticket.reported_at) < hi)
            .order_by(col(Ticket.id)))
    tickets = {t.id or 0: t for t in session.exec(stmt)}
    calendars = calendars_for(session, hospital)
    amounts = {s.id: s.amount_yuan for s in session.exec(select(CoveredSystem)
                                                         .where(CoveredSystem.contract_id == contract.id))}
    outcomes = [
        TicketOutcome(ticket_id=number, severity=t.severity, kind=t.kind, cause=t.cause,
                      clocks=evaluate_ticket(session, t, now, calendars),
                      system_amount=amounts.get(t.system_id) if t.system_id else None)
        for number, t in tickets.items()
    ]
    policy = policy_from(contract.sla_policy)
    report = evaluation_report(policy, outcomes, contract.amount_yuan, sample=sample)
    return ContractReport(contract=contract, hospital=hospital, start=start, end=end, report=report, tickets=tickets,
                          satisfaction=satisfaction(session, contract, lo, hi),
                          duties=missed_in(session, contract, lo, hi))


def report_json(cr: ContractReport) -> dict[str, object]:
    r = cr.report
    return {
        "contract": cr.contract.key, "hospital": cr.hospital.name, "from": cr.start.isoformat(),
        "to": cr.end.isoformat(), "tickets": r.tickets,
        "responses_over": {"minutes": r.response_over_minutes, "count": len(r.responses_over),
                           "tickets": r.responses_over},
        "faults_by_severity": {k: {"count": len(v), "tickets": v} for k, v in r.faults_by_severity.items()},
        "vendor_faults_by_severity": {k: {"count": len(v), "tickets": v}
                                      for k, v in r.vendor_faults_by_severity.items()},
        "sample": {"tickets": r.sample, "passed": r.passed, "failed": {str(k): v for k, v in r.failed.items()},
                   "pass_rate": str(r.pass_rate) if r.pass_rate is not None else None, "grade": r.grade},
        "penalties": {
            "total_yuan": str(r.penalties.total), "amount_unknown": r.penalties.amount_unknown,
            "by_rule": {k: str(v) for k, v in r.penalties.by_rule.items()},
            "capped": {k: str(v) for k, v in r.penalties.capped.items()},
            "items": [{"rule": i.rule, "name": i.name, "clause": i.clause, "ticket": i.ticket_id, "clock": i.clock,
                       "amount_yuan": str(i.amount) if i.amount is not None else None, "detail": i.detail}
                      for i in r.penalties.items],
        },
        "calendar_unconfirmed_tickets": r.unconfirmed,
        "satisfaction": satisfaction_json(cr.satisfaction) if cr.satisfaction else None,
        "duties": figures_json(cr.duties, r.penalties.total, cr.hospital.timezone) if cr.duties else None,
    }


# -- the reporters' side: confirmations, reopenings, scores ---------------------------------------

@dataclass(frozen=True)
class Satisfaction:
    """Seed 000 5.其他要求(2) 评价报告…包含用户评价; seed 002 一.1 满意度回访: the tickets closed in the period.

    Closed on the reporter's own 已解决, or by default after the confirmation period;
    reopenings (未解决) in the period; the reporters' scores (1–5) and the share of
    4 or 5 (满意率). Every figure carries its ticket numbers.
    """

    closed: list[int]
    confirmed: list[int]  # closed on the reporter's 已解决
    auto_closed: list[int]  # no answer within the confirmation period
    reopened: list[int]  # one entry per reopening in the period (a ticket reopened twice is there twice)
    ratings: dict[int, int]  # ticket → score, of the tickets closed in the period

    @property
    def average(self) -> Decimal | None:
        if not self.ratings:
            return None
        return (Decimal(sum(self.ratings.values())) / len(self.ratings)).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def satisfied_rate(self) -> Decimal | None:
        """Percent of the scores that are 4 or 5, one decimal (满意率)."""
        if not self.ratings:
            return None
        satisfied = sum(1 for score in self.ratings.values() if score >= SATISFIED)
        return (Decimal(satisfied) * 100 / len(self.ratings)).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def low(self) -> list[int]:
        """The tickets scored 1 or 2: each one asked the service managers for a 回访."""
        return [t for t, score in self.ratings.items() if score <= LOW_RATING]


SATISFIED = 4  # a score of 4 or 5 counts as satisfied (满意)


def satisfaction(session: Session, contract: Contract, lo: datetime, hi: datetime) -> Satisfaction:
    """The reporters' side of the tickets of ``contract`` closed in [lo, hi)."""
    stmt = (select(Ticket).where(Ticket.contract_id == contract.id, col(Ticket.closed_at) >= lo,
                                 col(Ticket.closed_at) < hi).order_by(col(Ticket.id)))
    closed = list(session.exec(stmt))
    reopen_stmt = (select(TicketEvent.ticket_id).join(Ticket, col(Ticket.id) == TicketEvent.ticket_id)
                   .where(Ticket.contract_id == contract.id, TicketEvent.name == "reopened",
                          col(TicketEvent.at) >= lo, col(TicketEvent.at) < hi)
                   .order_by(col(TicketEvent.ticket_id), col(TicketEvent.at)))
    return Satisfaction(
        closed=[t.id or 0 for t in closed],
        confirmed=[t.id or 0 for t in closed if t.close_reason == CloseReason.CONFIRMED],
        auto_closed=[t.id or 0 for t in closed if t.close_reason == CloseReason.AUTO],
        reopened=list(session.exec(reopen_stmt)),
        ratings={t.id or 0: t.rating for t in closed if t.rating is not None},
    )


def satisfaction_json(s: Satisfaction) -> dict[str, object]:
    def figure(numbers: list[int]) -> dict[str, object]:
        return {"count": len(numbers), "tickets": numbers}

    return {
        "closed": figure(s.closed), "confirmed": figure(s.confirmed), "auto_closed": figure(s.auto_closed),
        "reopened": {"count": len(s.reopened), "tickets": sorted(set(s.reopened))},
        "ratings": {"count": len(s.ratings), "tickets": list(s.ratings),
                    "average": str(s.average) if s.average is not None else None,
                    "satisfied_rate": str(s.satisfied_rate) if s.satisfied_rate is not None else None,
                    "by_score": {str(n): sum(1 for v in s.ratings.values() if v == n) for n in range(5, 0, -1)},
                    "low": figure(s.low)},
    }
