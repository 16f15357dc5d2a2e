"""Contract duties (issue 6): each contract's recurring obligations as dated rows.

A duty period is a :class:`~tickets.models.Duty` row (the 2026 Q4 inspection of one
contract) generated from the contract's policy (:class:`sla.policy.DutySpec`), with
timer rows of kind :data:`DUTY` — reminders ``remind_days_before`` days ahead and
one at the due instant that marks the duty missed — fired by the ordinary timer pass
(``admin.runtime.Runtime.fire_due_timers`` → ``bot.duties.fire``), so several workers
fire each exactly once and a crash loses none. Uploading the report closes the duty
and cancels its pending timers.

Where duties are scheduled: :func:`schedule` (insert what is missing, withdraw or
move what the policy no longer says) runs at ``helpdesk migrate``, ``helpdesk demo``
and ``helpdesk sla policy import``; :func:`top_up` (inserts only, so concurrent
workers cannot trip on each other) runs whenever a duty's timer fires and whenever a
duty is completed. Every scheduled duty ends in one of the two, and the horizon is
longer than the longest period, so the chain of duties never runs dry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePosixPath, PureWindowsPath
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from sla.policy import DutySpec, policy_from
from tickets import timers
from tickets.audit import SYSTEM, Actor, audit
from tickets.db import insert_returning_id, skip_locked
from tickets.models import Contract, Duty, DutyReport, DutyStatus, Hospital, Timer, TimerStatus

DUTY = "duty"  # Timer.kind of duty reminders and of the miss at the due instant
# Longer than a year plus the largest grace period: a yearly duty always has its next period scheduled.
HORIZON = timedelta(days=400)
# A scanned, signed inspection report (seed 000 三(3)2.(5) 书面的巡检单…签字确认) fits easily.
MAX_REPORT_BYTES = 20 * 1024 * 1024
MISSED = "missed"  # the timer point at the due instant


class DutyError(Exception):
    """Something a person asked that cannot be done; the message is Chinese and shown as is."""


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class _Point:
    at: datetime
    level: int  # 0 reminder, 1 the due instant (missed if still pending)
    label: str
    left: timedelta


# -- naming ------------------------------------------------------------------------------------

def period_label(start: date, end: date) -> str:
    """2026年第4季度 / 2026年上半年 / 2026年度 / 2026年3月 for calendar periods; else the dates."""
    last_of_month = (end + timedelta(days=1)).day == 1
    if start.day == 1 and last_of_month and start.year == end.year:
        months = end.month - start.month + 1
        if months == 12:
            return f"{start.year}年度"
        if months == 6 and start.month in (1, 7):
            return f"{start.year}年{'上' if start.month == 1 else '下'}半年"
        if months == 3 and start.month % 3 == 1:
            return f"{start.year}年第{(start.month + 2) // 3}季度"
        if months == 1:
            return f"{start.year}年{start.month}月"
    return ""


def title(duty: Duty) -> str:
    """2026年第4季度巡检; 维护验收申请（2026-07-01至2027-06-30） where the period is no calendar one."""
    label = period_label(duty.period_start, duty.period_end)
    if label:
        return f"{label}{duty.name}"
    return f"{duty.name}（{duty.period_start.isoformat()}至{duty.period_end.isoformat()}）"


def timer_key(duty_id: int, point: str) -> str:
    return f"duty:{duty_id}:{point}"


def duty_id_of(timer: Timer) -> int | None:
    """The duty a timer of kind :data:`DUTY` is for (its key: ``duty:{id}:{point}``)."""
    parts = timer.key.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "duty" and parts[1].isdigit() else None


def spec_of(contract: Contract, duty: Duty) -> DutySpec | None:
    return policy_from(contract.sla_policy).duty(duty.key)


# -- scheduling --------------------------------------------------------------------------------

def schedule(session: Session, contract: Contract, now: datetime, horizon: timedelta = HORIZON) -> int:
    """Make the contract's pending duties and their timers what its policy says now; idempotent.

    New periods are added (:func:`top_up`); pending duties the policy, the contract's
    dates or its active flag no longer call for are withdrawn, and those whose due
    instant moved are moved with their timers. Done and missed duties stay as they are:
    they are the record. Returns how many duties were added.
    """
    added = top_up(session, contract, now, horizon)
    _reconcile(session, contract, now, horizon)
    return added


def schedule_all(session: Session, now: datetime, horizon: timedelta = HORIZON) -> int:
    """:func:`schedule` for every contract (``helpdesk migrate`` and ``helpdesk demo``)."""
    contracts = session.exec(select(Contract).order_by(col(Contract.id))).all()
    return sum(schedule(session, c, now, horizon) for c in contracts)


def top_up(session: Session, contract: Contract, now: datetime, horizon: timedelta = HORIZON) -> int:
    """Add the duties (with their timers) of periods falling due in [now, now + horizon] not there yet.

    Inserts only, each unless its (contract, key, period) exists, in one fixed order:
    two workers topping up the same contract at once wait for each other and add
    each duty once, never deadlock. Periods that fell due before ``now`` are not
    invented as missed. Returns how many duties were added.
    """
    if not contract.active:
        return 0
    tz = _tz(session, contract)
    wanted = [(period, spec) for spec in policy_from(contract.sla_policy).duties
              for period in spec.periods(contract.starts_on, contract.ends_on, tz, now, now + horizon)]
    wanted.sort(key=lambda pair: (pair[0].start, pair[1].key))
    added = 0
    for period, spec in wanted:
        values = {"contract_id": contract.id, "key": spec.key, "name": spec.name, "clause": spec.clause[:300],
                  "period_start": period.start, "period_end": period.end, "due_at": period.due_at,
                  "status": DutyStatus.PENDING, "done_by": "", "report_filename": "", "report_size": 0,
                  "note": "", "created_at": now}
        duty_id = insert_returning_id(session, Duty, values, ["contract_id", "key", "period_start"])
        if duty_id is None:
            continue
        added += 1
        _sync_timers(session, duty_id, spec, period.due_at, now, existing={})
    return added


def _reconcile(session: Session, contract: Contract, now: datetime, horizon: timedelta) -> None:
    # Duties a worker is firing right now are skipped (it decides them): nothing here waits on a worker.
    pending = list(session.exec(select(Duty).where(Duty.contract_id == contract.id,
                                                   Duty.status == DutyStatus.PENDING)
                                .order_by(col(Duty.id)).with_for_update(**skip_locked(session))).all())
    if not pending:
        return
    policy = policy_from(contract.sla_policy)
    tz = _tz(session, contract)
    # Every period a pending duty can be, overdue ones included, even if the new rule moves its due
    # instant earlier (a due day lies at most 180 days before its period's start).
    first = min(d.period_start for d in pending) - timedelta(days=181)
    since = datetime.combine(first, time(0), tzinfo=ZoneInfo(tz))
    for duty in pending:
        spec = policy.duty(duty.key) if contract.active else None
        periods = spec.periods(contract.starts_on, contract.ends_on, tz, since, now + horizon) if spec else []
        period = next((p for p in periods if p.start == duty.period_start), None)
        if spec is None or period is None:
            _withdraw(session, duty, now)
            continue
        duty.name, duty.clause, duty.period_end = spec.name, spec.clause[:300], period.end
        if duty.due_at != period.due_at:
            audit(session, SYSTEM, "duty.moved", now, contract=contract.key, duty_id=duty.id,
                  old=duty.due_at.isoformat(), new=period.due_at.isoformat())
            duty.due_at = period.due_at
        session.add(duty)
        _sync_timers(session, duty.id or 0, spec, duty.due_at, now, existing=_pending_timers(session, duty.id or 0))


def _withdraw(session: Session, duty: Duty, now: datetime) -> None:
    """A pending duty the contract no longer calls for: it and its pending timers go (it never fell due)."""
    for timer in _pending_timers(session, duty.id or 0).values():
        session.delete(timer)
    audit(session, SYSTEM, "duty.withdrawn", now, duty_id=duty.id, key=duty.key,
          period_start=duty.period_start.isoformat())
    session.delete(duty)


def _points(spec: DutySpec, due_at: datetime) -> dict[str, _Point]:
    points = {f"{days}d": _Point(at=due_at - timedelta(days=days), level=0, label=f"{days}天",
                                 left=timedelta(days=days))
              for days in spec.remind_days_before}
    points[MISSED] = _Point(at=due_at, level=1, label="已逾期", left=timedelta(0))
    return points


def _sync_timers(session: Session, duty_id: int, spec: DutySpec, due_at: datetime, now: datetime,
                 existing: dict[str, Timer]) -> None:
    """The duty's pending timers become its points; a reminder whose instant has passed is not sent late.

    ``existing``: the duty's pending timers (unlocked ones: a worker firing one right now keeps it).
    """
    wanted = {timer_key(duty_id, name): point for name, point in _points(spec, due_at).items()}
    for key, timer in existing.items():
        point = wanted.get(key)
        if point is None or (point.level == 0 and point.at <= now):
            session.delete(timer)
        elif timer.due_at != point.at:
            timer.due_at, timer.left_seconds = point.at, int(point.left.total_seconds())
            session.add(timer)
    known = set(existing) | set(session.exec(select(Timer.key).where(col(Timer.key).in_(list(wanted)))).all())
    for key, point in wanted.items():
        if key in known or (point.level == 0 and point.at <= now):
            continue
        session.add(Timer(key=key, kind=DUTY, level=point.level, label=point.label,
                          left_seconds=int(point.left.total_seconds()), due_at=point.at, created_at=now))


def _pending_timers(session: Session, duty_id: int) -> dict[str, Timer]:
    """Pending timers of a duty not being fired by a worker at this moment (those are skipped)."""
    stmt = (select(Timer).where(col(Timer.key).startswith(timer_key(duty_id, "")), Timer.status == TimerStatus.PENDING)
            .with_for_update(**skip_locked(session)))
    return {t.key: t for t in session.exec(stmt)}


def _tz(session: Session, contract: Contract) -> str:
    hospital = session.get(Hospital, contract.hospital_id)
    return hospital.timezone if hospital else "Asia/Shanghai"


# -- closing and missing -----------------------------------------------------------------------

def complete(session: Session, duty: Duty, actor: Actor, file: UploadedFile, now: datetime,
             note: str = "") -> DutyReport:
    """Close ``duty`` with its uploaded report: stored, audited, pending timers cancelled.

    A missed duty may be closed late: it keeps ``missed_at`` and its penalty (the
    contract counts the miss, seed 004 6.2 6.6.1). A done duty may get a corrected
    report; the earlier files stay. The duty row is locked first, so a worker firing
    its miss at the same instant sees the upload or is seen by it, never half of it.
    """
    locked = session.exec(select(Duty).where(Duty.id == duty.id).with_for_update()
                          .execution_options(populate_existing=True)).one()
    data = file.data
    if not data:
        raise DutyError("上传的文件是空的，请选择报告文件后再上传。")
    if len(data) > MAX_REPORT_BYTES:
        raise DutyError(f"文件太大：最大 {MAX_REPORT_BYTES // (1024 * 1024)} MB。")
    name = _safe_filename(file.filename)
    report = DutyReport(duty_id=locked.id or 0, filename=name,
                        content_type=(file.content_type or "application/octet-stream")[:127], size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), data=data, uploaded_at=now, uploaded_by=actor.label)
    session.add(report)
    replaced = locked.status == DutyStatus.DONE
    if not replaced:
        locked.status, locked.done_at, locked.done_by = DutyStatus.DONE, now, actor.label[:100]
    locked.report_filename, locked.report_size = name, len(data)
    if note:
        locked.note = " ".join(note.split())[:1000]
    session.add(locked)
    for timer in _pending_timers(session, locked.id or 0).values():
        timers.mark(timer, TimerStatus.CANCELLED, now)
        session.add(timer)
    contract = session.get(Contract, locked.contract_id)
    assert contract is not None
    audit(session, actor, "duty.report_uploaded" if replaced else "duty.completed", now, contract=contract.key,
          duty_id=locked.id, key=locked.key, period_start=locked.period_start.isoformat(), filename=name,
          size=len(data), sha256=report.sha256, late=locked.missed_at is not None)
    top_up(session, contract, now)
    session.flush()
    return report


def mark_missed(session: Session, duty: Duty, spec: DutySpec | None, now: datetime) -> bool:
    """The due instant passed with no report: the duty is missed and costs the spec's penalty; False if it was not pending."""
    if duty.status != DutyStatus.PENDING:
        return False
    duty.status, duty.missed_at = DutyStatus.MISSED, now
    duty.penalty_yuan = spec.penalty_yuan if spec is not None else None
    session.add(duty)
    audit(session, SYSTEM, "duty.missed", now, duty_id=duty.id, contract_id=duty.contract_id, key=duty.key,
          period_start=duty.period_start.isoformat(),
          penalty_yuan=str(duty.penalty_yuan) if duty.penalty_yuan is not None else None)
    return True


def _safe_filename(name: str) -> str:
    """The uploaded name without any folder part a browser may send (C:\\…\\报告.pdf)."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name.strip()
    return base[-255:] or "报告"


# -- reading -----------------------------------------------------------------------------------

def duties_of(session: Session, contract: Contract) -> list[Duty]:
    stmt = select(Duty).where(Duty.contract_id == contract.id).order_by(col(Duty.due_at), col(Duty.key))
    return list(session.exec(stmt).all())


def latest_report(session: Session, duty: Duty) -> DutyReport | None:
    stmt = select(DutyReport).where(DutyReport.duty_id == duty.id).order_by(col(DutyReport.id).desc())
    return session.exec(stmt).first()


@dataclass
class DutyFigures:
    """Missed duties of a contract falling due in a period, and what they cost (issue 6)."""

    missed: list[Duty] = field(default_factory=list)
    total_yuan: Decimal = Decimal(0)
    without_amount: int = 0  # missed duties the contract names no amount for


def missed_in(session: Session, contract: Contract, lo: datetime, hi: datetime) -> DutyFigures:
    """Duties of ``contract`` due in [lo, hi) that were missed, late reports included (the miss stands)."""
    stmt = (select(Duty).where(Duty.contract_id == contract.id, col(Duty.missed_at).is_not(None),
                               col(Duty.due_at) >= lo, col(Duty.due_at) < hi)
            .order_by(col(Duty.due_at), col(Duty.key)))
    figures = DutyFigures(missed=list(session.exec(stmt).all()))
    for duty in figures.missed:
        if duty.penalty_yuan is None:
            figures.without_amount += 1
        else:
            figures.total_yuan += duty.penalty_yuan
    return figures


def figures_json(figures: DutyFigures, ticket_penalties: Decimal, tz: str) -> dict[str, object]:
    """The evaluation report's duties block; ``ticket_penalties``: the report's other deductions, for the sum."""
    return {
        "missed": [{"id": d.id, "key": d.key, "name": d.name, "title": title(d), "clause": d.clause,
                    "period_start": d.period_start.isoformat(), "period_end": d.period_end.isoformat(),
                    "due_at": d.due_at.isoformat(),
                    "due_local": d.due_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"), "late_report": d.status == DutyStatus.DONE,
                    "penalty_yuan": str(d.penalty_yuan) if d.penalty_yuan is not None else None}
                   for d in figures.missed],
        "count": len(figures.missed),
        "total_yuan": str(figures.total_yuan),
        "without_amount": figures.without_amount,
        "penalties_with_duties_yuan": str(ticket_penalties + figures.total_yuan),
    }
