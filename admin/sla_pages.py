"""What the SLA pages of the admin panel show: a ticket's clocks, the holiday
calendar, the contracts' SLA and the evaluation report.

Plain reads of the request's session turned into rows for the templates; the
routes (and every write) live in :mod:`admin.web`. All text for people is
Chinese; times are shown in the hospital's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from sla import (
    CALENDAR_NAMES,
    CAUSES,
    CLOCK_NAMES,
    PAUSE_REASONS,
    PRESETS,
    READINGS,
    CalendarError,
    SlaPolicy,
    WorkingWeek,
    policy_from,
)
from sla.describe import HEADERS, ClockRow, clock_rows
from sla.policy import PenaltyRule
from tickets.calendars import YearStatus, calendar_check
from tickets.clocks import clocks_of
from tickets.models import (
    CalendarYear,
    Contract,
    CoveredSystem,
    Hospital,
    HospitalDay,
    StatutoryDay,
    TicketEvent,
    TicketPause,
)
from tickets.reports import contract_report, report_json
from tickets.service import EVENTS

CHINA_TZ = "Asia/Shanghai"  # the statutory calendar is China's: "today" for it is Beijing's date
STATE_TEXT = {"running": "计时中", "paused": "已暂停", "stopped": "已停止"}
WEEKDAY_TEXT = "一二三四五六日"
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_REPORT_DAYS = 3 * 366
RECENT_YEARS = 2  # the calendar page lists this many past years one by one


class FormError(Exception):
    """Input a person typed that cannot be used; the message is shown to them as is."""


def local_time(ts: datetime | None, tz: str) -> str:
    return ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def clock_label(name: str) -> str:
    return CLOCK_NAMES.get(name, name)


def duration_text(seconds: int, calendar: str) -> str:
    """A duration as people read it: working days count whole days, the others hours and minutes."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if calendar == "working_days":
        return f"{sign}{seconds // 86400}个工作日"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if calendar == "working_hours":  # business hours: a "day" of them would mislead
        hours += days * 24
        days = 0
    parts = [f"{days}天"] if days else []
    if hours:
        parts.append(f"{hours}小时")
    if minutes or not parts:
        parts.append(f"{minutes}分钟")
    return sign + "".join(parts)


def weekday_text(day: date) -> str:
    return "周" + WEEKDAY_TEXT[day.weekday()]


def parse_day(text: str, what: str = "日期") -> date:
    text = (text or "").strip()
    if not text:
        raise FormError(f"请填写{what}。")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise FormError(f"{what}格式不对：「{text[:40]}」，请按 2027-01-01 的格式填写。") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise FormError(f"{what}超出范围：只能填 {MIN_YEAR}–{MAX_YEAR} 年之间的日期。")
    return day


def parse_year(text: str | None, default: int) -> int:
    if text is None or not text.strip():
        return default
    try:
        year = int(text.strip())
    except ValueError:
        raise FormError(f"年份格式不对：「{text.strip()[:20]}」，请填写四位数字，如 2027。") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FormError(f"年份超出范围：只能查看 {MIN_YEAR}–{MAX_YEAR} 年。")
    return year


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def china_today(now: datetime) -> date:
    return local_today(now, CHINA_TZ)


# -- a ticket's clocks, pauses and events ------------------------------------------------------

@dataclass
class ClockView:
    name: str
    label: str
    calendar: str
    target: str
    started: str
    due: str
    due_iso: str
    state: str
    state_text: str
    seconds_left: int | None  # running with a deadline: wall-clock seconds to it (negative = overdue)
    progress: str  # what the "剩余/用时" column says when there is no live countdown
    breached: bool
    confirmed: bool
    clause: str


def clock_views(session: Session, ticket_id: int, tz: str, now: datetime) -> list[ClockView]:
    views = []
    for row in clocks_of(session, ticket_id):
        running = row.state == "running" and row.due_at is not None
        breached = row.breached or (row.state != "stopped" and row.due_at is not None and now > row.due_at)
        elapsed = duration_text(row.elapsed_seconds, row.calendar)
        if row.state == "stopped":
            progress = f"用时 {elapsed}"
        elif row.state == "paused":
            left = duration_text(max(row.target_seconds - row.elapsed_seconds, 0), row.calendar)
            progress = f"已用 {elapsed}，剩余 {left}（暂停中）"
        else:
            progress = f"已用 {elapsed}"
        views.append(ClockView(
            name=row.name, label=clock_label(row.name), calendar=CALENDAR_NAMES.get(row.calendar, row.calendar),
            target=duration_text(row.target_seconds, row.calendar), started=local_time(row.started_at, tz),
            due=local_time(row.due_at, tz) or ("暂停中，恢复后重新计算" if row.state == "paused" else "—"),
            due_iso=row.due_at.isoformat() if row.due_at else "", state=row.state,
            state_text=STATE_TEXT.get(row.state, row.state),
            seconds_left=int((row.due_at - now).total_seconds()) if running and row.due_at else None,
            progress=progress, breached=breached, confirmed=row.calendar_confirmed, clause=row.clause,
        ))
    return views


@dataclass
class PauseView:
    reason: str
    note: str
    started: str
    ended: str
    started_by: str
    ended_by: str
    length: str


def pause_views(session: Session, ticket_id: int, tz: str, now: datetime) -> list[PauseView]:
    stmt = select(TicketPause).where(TicketPause.ticket_id == ticket_id).order_by(col(TicketPause.started_at))
    views = []
    for p in session.exec(stmt):
        end = p.ended_at or now
        views.append(PauseView(
            reason=PAUSE_REASONS.get(p.reason, p.reason), note=p.note, started=local_time(p.started_at, tz),
            ended=local_time(p.ended_at, tz) or "暂停中", started_by=p.started_by, ended_by=p.ended_by or "",
            length=duration_text(int((end - p.started_at).total_seconds()), "24x7"),
        ))
    return views


@dataclass
class EventView:
    name: str
    at: str
    actor: str
    note: str
    recorded: str


def event_views(session: Session, ticket_id: int, tz: str) -> list[EventView]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.at),
                                                                                  col(TicketEvent.id))
    return [EventView(name=EVENTS.get(e.name, e.name), at=local_time(e.at, tz), actor=e.actor, note=e.note,
                      recorded=local_time(e.recorded_at, tz)) for e in session.exec(stmt)]


# -- the holiday calendar ----------------------------------------------------------------------

@dataclass
class YearRow:
    year: int
    confirmed: bool
    source: str
    confirmed_at: str


@dataclass
class DayRow:
    day: str
    weekday: str
    is_workday: bool
    name: str
    source: str


@dataclass
class HospitalDays:
    hospital: Hospital
    days: list[DayRow] = field(default_factory=list)


@dataclass
class CalendarPage:
    today: date
    year: int
    year_confirmed: bool
    years: list[YearRow]
    older: str  # confirmed years before those listed, e.g. 2004–2023
    check: list[YearStatus]
    missing: list[int]
    days: list[DayRow]
    hospitals: list[HospitalDays]


def calendar_page(session: Session, now: datetime, year: int, hospital_id: int | None) -> CalendarPage:
    """The calendar as ``hospital_id`` may see it (None: every hospital)."""
    today = china_today(now)
    all_years = [YearRow(year=r.year, confirmed=True, source=r.source,
                         confirmed_at=local_time(r.confirmed_at, CHINA_TZ))
                 for r in session.exec(select(CalendarYear).order_by(col(CalendarYear.year).desc()))]
    # The last few years one by one; the long tail the library brought as ranges.
    recent = [r for r in all_years if r.year >= today.year - RECENT_YEARS or r.year == year]
    older = year_ranges(sorted(r.year for r in all_years if r not in recent))
    check = calendar_check(session, today)
    stmt = (select(StatutoryDay).where(col(StatutoryDay.day) >= date(year, 1, 1),
                                       col(StatutoryDay.day) <= date(year, 12, 31))
            .order_by(col(StatutoryDay.day)))
    days = [DayRow(day=d.day.isoformat(), weekday=weekday_text(d.day), is_workday=d.is_workday, name=d.name,
                   source=d.source) for d in session.exec(stmt)]
    hstmt = select(Hospital).order_by(col(Hospital.id))
    if hospital_id is not None:
        hstmt = hstmt.where(Hospital.id == hospital_id)
    hospitals = [HospitalDays(h) for h in session.exec(hstmt)]
    by_id = {h.hospital.id: h for h in hospitals}
    dstmt = select(HospitalDay).order_by(col(HospitalDay.day).desc())
    if hospital_id is not None:
        dstmt = dstmt.where(HospitalDay.hospital_id == hospital_id)
    for d in session.exec(dstmt):
        if d.hospital_id in by_id:
            by_id[d.hospital_id].days.append(DayRow(day=d.day.isoformat(), weekday=weekday_text(d.day),
                                                    is_workday=d.is_workday, name=d.note, source=""))
    return CalendarPage(today=today, year=year, year_confirmed=any(r.year == year for r in all_years), years=recent,
                        older=older,
                        check=check, missing=[s.year for s in check if not s.confirmed], days=days,
                        hospitals=hospitals)


def year_ranges(years: list[int]) -> str:
    """[2004, 2005, 2006, 2010] → 2004–2006、2010."""
    runs: list[list[int]] = []
    for y in years:
        if runs and runs[-1][1] == y - 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return "、".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def statutory_days_in(session: Session, year: int) -> int:
    stmt = select(func.count()).select_from(StatutoryDay).where(col(StatutoryDay.day) >= date(year, 1, 1),
                                                                col(StatutoryDay.day) <= date(year, 12, 31))
    return int(session.exec(stmt).one())


# -- contracts ---------------------------------------------------------------------------------

def hours_text(spec: dict[str, list[str]] | None) -> str:
    """``{"mon-fri": ["08:00-18:00"]}`` → 周一至周五 08:00-18:00."""
    if not spec:
        return "—"
    try:
        week = WorkingWeek.parse(spec)
    except CalendarError:
        return "；".join(f"{k} {', '.join(v)}" for k, v in spec.items())
    per_day = [", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ws) for ws in week.days]
    groups: list[tuple[int, int, str]] = []
    for i, windows in enumerate(per_day):
        if groups and groups[-1][2] == windows and groups[-1][1] == i - 1:
            groups[-1] = (groups[-1][0], i, windows)
        else:
            groups.append((i, i, windows))
    parts = []
    for first, last, windows in groups:
        if not windows:
            continue
        days = f"周{WEEKDAY_TEXT[first]}" + (f"至周{WEEKDAY_TEXT[last]}" if last > first else "")
        parts.append(f"{days} {windows}")
    return "；".join(parts) or "—"


@dataclass
class ContractRow:
    key: str
    name: str
    hospital: str
    amount: str
    period: str
    active: bool
    policy: str
    levels: str


def yuan(amount: Decimal | None) -> str:
    return f"{amount:,.2f} 元" if amount is not None else "未登记"


def _period(c: Contract) -> str:
    if c.starts_on is None and c.ends_on is None:
        return "—"
    return f"{c.starts_on.isoformat() if c.starts_on else '…'} 至 {c.ends_on.isoformat() if c.ends_on else '…'}"


def contracts_in_scope(session: Session, hospital_id: int | None) -> list[Contract]:
    stmt = select(Contract).order_by(col(Contract.id))
    if hospital_id is not None:
        stmt = stmt.where(Contract.hospital_id == hospital_id)
    return list(session.exec(stmt).all())


def contract_rows(session: Session, hospital_id: int | None) -> list[ContractRow]:
    hospitals = {h.id: h.name for h in session.exec(select(Hospital))}
    rows = []
    for c in contracts_in_scope(session, hospital_id):
        policy = policy_from(c.sla_policy)
        rows.append(ContractRow(key=c.key, name=c.name, hospital=hospitals.get(c.hospital_id, ""),
                                amount=yuan(c.amount_yuan), period=_period(c), active=c.active, policy=policy.name,
                                levels="、".join(lvl.name for lvl in policy.levels)))
    return rows


def penalty_text(rule: PenaltyRule, policy: SlaPolicy) -> dict[str, str]:
    levels = {lvl.code: lvl.name for lvl in policy.levels}
    clocks = "、".join(clock_label(c) for c in rule.clocks)
    if rule.trigger == "breach":
        when = f"{clocks}时钟超时，每次"
    elif rule.trigger == "elapsed_over":
        when = f"{clocks}用时超过 {rule.over_minutes} 分钟（不论级别），每次"
    else:
        when = "故障原因为" + "、".join(CAUSES.get(c, c) for c in rule.causes or []) + "，每张工单"
    if rule.levels:
        when = "仅 " + "、".join(levels.get(c, c) for c in rule.levels) + "：" + when
    a = rule.amount
    base = "子系统合同金额" if a.of == "system" else "合同金额"
    if a.yuan is not None:
        amount = f"{a.yuan} 元"
    elif a.percent is not None:
        amount = f"{base}的 {a.percent}%"
    else:
        amount = f"{base}的 " + "、".join(f"{levels.get(k, k)} {v}%" for k, v in (a.percent_by_level or {}).items())
    caps = []
    if rule.cap_yuan is not None:
        caps.append(f"{rule.cap_yuan} 元")
    if rule.cap_percent is not None:
        caps.append(f"合同金额的 {rule.cap_percent}%")
    return {
        "code": rule.code, "name": rule.name, "clause": rule.clause, "when": when, "amount": amount,
        "exclude": "、".join(CAUSES.get(c, c) for c in rule.exclude_causes),
        "cap": "累计上限 " + "、".join(caps) if caps else "无上限",
    }


@dataclass
class ContractPage:
    contract: Contract
    hospital: Hospital
    policy: SlaPolicy
    amount: str
    period: str
    headers: tuple[str, ...]
    rows: list[ClockRow]
    penalties: list[dict[str, str]]
    readings: list[str]
    preset: str | None  # the preset key the readings come from
    same_as_preset: bool
    hospital_hours: str
    contract_hours: str | None
    systems: list[CoveredSystem]


def contract_page(session: Session, contract: Contract) -> ContractPage:
    hospital = session.get(Hospital, contract.hospital_id)
    assert hospital is not None
    policy = policy_from(contract.sla_policy)
    preset = contract.key if contract.key in PRESETS else None
    same = preset is not None and PRESETS[preset].model_dump(mode="json") == policy.model_dump(mode="json")
    systems = list(session.exec(select(CoveredSystem).where(CoveredSystem.contract_id == contract.id)
                                .order_by(col(CoveredSystem.id))).all())
    return ContractPage(
        contract=contract, hospital=hospital, policy=policy, amount=yuan(contract.amount_yuan),
        period=_period(contract), headers=HEADERS,
        rows=[_labelled(r) for r in clock_rows(policy)], penalties=[penalty_text(r, policy) for r in policy.penalties],
        readings=READINGS.get(preset, []) if preset else [], preset=preset, same_as_preset=same,
        hospital_hours=hours_text(hospital.working_hours),
        contract_hours=hours_text(policy.working_hours) if policy.working_hours else None, systems=systems,
    )


def _labelled(row: ClockRow) -> ClockRow:
    label = CLOCK_NAMES.get(row.clock)
    return replace(row, clock=f"{label}（{row.clock}）") if label else row


# -- the evaluation report ---------------------------------------------------------------------

def current_quarter(today: date) -> tuple[date, date]:
    first_month = (today.month - 1) // 3 * 3 + 1
    start = date(today.year, first_month, 1)
    end = (date(today.year + 1, 1, 1) if first_month == 10 else date(today.year, first_month + 3, 1)) - timedelta(days=1)
    return start, end


def report_period(start_text: str | None, end_text: str | None, today: date) -> tuple[date, date]:
    default_start, default_end = current_quarter(today)
    start = parse_day(start_text, "起始日期") if start_text and start_text.strip() else default_start
    end = parse_day(end_text, "截止日期") if end_text and end_text.strip() else default_end
    if end < start:
        raise FormError("截止日期早于起始日期，请检查统计期间。")
    if (end - start).days > MAX_REPORT_DAYS:
        raise FormError("统计期间太长：最多 3 年。")
    return start, end


@dataclass
class OverRow:
    number: int
    severity: str
    reported: str
    responded: str
    detail: str


@dataclass
class ReportPage:
    data: dict[str, Any]
    levels: dict[str, str]
    rules: dict[str, str]
    rate: str
    total: str
    over: list[OverRow]
    over_label: str  # 1小时


def report_page(session: Session, contract: Contract, start: date, end: date, now: datetime) -> ReportPage:
    cr = contract_report(session, contract, start, end, now)
    data = report_json(cr)
    tz = cr.hospital.timezone
    policy = policy_from(contract.sla_policy)
    levels = {lvl.code: lvl.name for lvl in policy.levels}
    rules = {r.code: r.name for r in policy.penalties}
    sample: dict[str, Any] = data["sample"]  # type: ignore[assignment]
    penalties: dict[str, Any] = data["penalties"]  # type: ignore[assignment]
    for item in penalties["items"]:
        item["clock_label"] = clock_label(item["clock"]) if item["clock"] else "—"
        if item["clock"]:
            item["detail"] = item["detail"].replace(item["clock"], item["clock_label"])
        item["amount_text"] = yuan(Decimal(item["amount_yuan"])) if item["amount_yuan"] is not None else "金额未登记"
    sample["failed_rows"] = [(int(t), "、".join(clock_label(c) for c in names))
                             for t, names in sample["failed"].items()]
    details = {i["ticket"]: i["detail"] for i in penalties["items"] if i["clock"] == "response"}
    over = []
    for number in cr.report.responses_over:
        t = cr.tickets[number]
        over.append(OverRow(number=number, severity=levels.get(t.severity, t.severity),
                            reported=local_time(t.reported_at, tz),
                            responded=local_time(t.first_response_at, tz) or "尚未响应",
                            detail=details.get(number, "")))
    rate = f"{sample['pass_rate']}%" if sample["pass_rate"] is not None else "—"
    return ReportPage(data=data, levels=levels, rules=rules, rate=rate, total=yuan(Decimal(penalties["total_yuan"])),
                      over=over, over_label=duration_text(cr.report.response_over_minutes * 60, "working_hours"))
