"""The service evaluation report for one contract and period, from the stored tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from sla import EvaluationReport, TicketOutcome, evaluation_report, policy_from
from tickets.calendars import calendars_for
from tickets.clocks import evaluate_ticket
from tickets.models import Contract, CoveredSystem, Hospital, Ticket


@dataclass
class ContractReport:
    contract: Contract
    hospital: Hospital
    start: date
    end: date  # inclusive
    report: EvaluationReport
    tickets: dict[int, Ticket]


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
    return ContractReport(contract=contract, hospital=hospital, start=start, end=end, report=report, tickets=tickets)


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
    }
