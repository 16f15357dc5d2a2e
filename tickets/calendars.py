"""The calendar tables: statutory days, confirmed years, hospitals' own days.

Seeded from chinesecalendar (sla.statutory) and editable by admins; every edit
is audited and recomputes the clocks of the open tickets it can affect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from sla import Calendars, DayRules, WorkingWeek, statutory
from tickets.lookups import remembered
from tickets.models import CalendarYear, Hospital, HospitalDay, StatutoryDay


def seed_statutory(session: Session, now: datetime) -> list[int]:
    """Copy the library's years that the table does not have yet; never touch a year already there.

    Returns the years added. Admin edits survive: a year present is left alone.
    """
    have = set(session.exec(select(CalendarYear.year)).all())
    added = []
    for year in statutory.known_years():
        if year in have:
            continue
        for row in statutory.year_days(year):
            if session.get(StatutoryDay, row.day) is None:
                session.add(StatutoryDay(day=row.day, is_workday=row.is_workday, name=row.name,
                                         source=statutory.SOURCE, updated_at=now))
        session.add(CalendarYear(year=year, source=statutory.SOURCE, confirmed_at=now))
        added.append(year)
    session.flush()
    return added


# The statutory table changes a few times a year but is read on every clock
# evaluation: keep it per database, keyed by a cheap fingerprint of the table so
# that an edit made by another process (the CLI, a second worker) is seen at once.
_STATUTORY: dict[str, tuple[tuple[object, ...], dict[date, bool], frozenset[int]]] = {}


def _statutory(session: Session) -> tuple[dict[date, bool], frozenset[int]]:
    workdays = func.sum(case((col(StatutoryDay.is_workday), 1), else_=0))
    stamp = tuple(session.exec(select(func.count(), func.max(StatutoryDay.updated_at), workdays)).one()) + tuple(
        session.exec(select(func.count(), func.max(CalendarYear.confirmed_at))).one())
    key = str(session.get_bind().url)
    cached = _STATUTORY.get(key)
    if cached is None or cached[0] != stamp:
        days = {row.day: row.is_workday for row in session.exec(select(StatutoryDay))}
        years = frozenset(session.exec(select(CalendarYear.year)).all())
        cached = _STATUTORY[key] = (stamp, days, years)
    return cached[1], cached[2]


def day_rules(session: Session, hospital_id: int | None) -> DayRules:
    return remembered(session, ("day_rules", hospital_id), lambda: _day_rules(session, hospital_id))


def _day_rules(session: Session, hospital_id: int | None) -> DayRules:
    statutory_days, years = _statutory(session)
    overrides: dict[date, bool] = {}
    if hospital_id is not None:
        stmt = select(HospitalDay).where(HospitalDay.hospital_id == hospital_id)
        overrides = {row.day: row.is_workday for row in session.exec(stmt)}
    return DayRules(statutory=statutory_days, overrides=overrides, confirmed_years=years)


def calendars_for(session: Session, hospital: Hospital) -> Calendars:
    """The hospital's calendars: its time zone, working hours, statutory days and its own days."""
    return Calendars(hospital.timezone, WorkingWeek.parse(hospital.working_hours), day_rules(session, hospital.id))


@dataclass(frozen=True)
class YearStatus:
    year: int
    confirmed: bool
    source: str


def calendar_check(session: Session, today: date) -> list[YearStatus]:
    """This year and the next: is each one's holiday schedule in the table?

    The State Council publishes next year's schedule around November; until it
    is entered, deadlines reaching into that year use the weekday rule and are
    flagged as unconfirmed.
    """
    rows = {row.year: row for row in session.exec(select(CalendarYear))}
    return [YearStatus(year=y, confirmed=y in rows, source=rows[y].source if y in rows else "")
            for y in (today.year, today.year + 1)]


def confirmed_years(session: Session) -> list[int]:
    return list(session.exec(select(CalendarYear.year).order_by(col(CalendarYear.year))).all())


def set_statutory_day(session: Session, day: date, is_workday: bool, name: str, editor: str,
                      now: datetime) -> None:
    row = session.get(StatutoryDay, day)
    if row is None:
        row = StatutoryDay(day=day, is_workday=is_workday)
    row.is_workday, row.name, row.source, row.updated_at = is_workday, name, editor, now
    session.add(row)
    session.flush()


def confirm_year(session: Session, year: int, editor: str, now: datetime) -> None:
    """Mark a year's schedule as entered by hand (the days must be set first)."""
    if session.get(CalendarYear, year) is None:
        session.add(CalendarYear(year=year, source=editor, confirmed_at=now))
        session.flush()


def set_hospital_day(session: Session, hospital_id: int, day: date, is_workday: bool | None, note: str,
                     now: datetime) -> None:
    """Set (or with ``is_workday=None`` remove) a hospital's own day."""
    stmt = select(HospitalDay).where(HospitalDay.hospital_id == hospital_id, HospitalDay.day == day)
    row = session.exec(stmt).first()
    if is_workday is None:
        if row is not None:
            session.delete(row)
        session.flush()
        return
    if row is None:
        row = HospitalDay(hospital_id=hospital_id, day=day, is_workday=is_workday)
    row.is_workday, row.note, row.updated_at = is_workday, note, now
    session.add(row)
    session.flush()
