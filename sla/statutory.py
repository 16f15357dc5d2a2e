"""China's statutory working-day calendar, read from the chinesecalendar package.

The State Council publishes each year's holidays and make-up working days
(调休) around November. chinesecalendar encodes them (verified against the
holidays package: identical for every day of 2025 and 2026); years it does not
know raise NotImplementedError there and are simply absent here. The product
copies these rows into its own table, where admins can correct them and add the
next year by hand the day the notice comes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from sla.calendar import DayRules

SOURCE = f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class StatutoryDay:
    """An exception to the weekday rule: a holiday, or a make-up working day (调休)."""

    day: date
    is_workday: bool
    name: str


def known_years() -> list[int]:
    """The years the library has official data for."""
    years = []
    for year in range(2004, date.today().year + 3):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        years.append(year)
    return years


def year_days(year: int) -> list[StatutoryDay]:
    """The year's days that differ from Mon–Fri, or are named holidays."""
    rows: list[StatutoryDay] = []
    day = date(year, 1, 1)
    while day.year == year:
        workday = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
        weekday_rule = day.weekday() < 5
        if workday != weekday_rule or (name and not workday):
            label = HOLIDAY_NAMES_ZH.get(name or "", name or "")
            if workday:
                label = f"{label}调休上班" if label else "调休上班"
            rows.append(StatutoryDay(day=day, is_workday=workday, name=label))
        day += timedelta(days=1)
    return rows


def library_rules() -> DayRules:
    """The library's days straight, without the database: for checking a deadline with no install around."""
    global _LIBRARY_RULES
    if _LIBRARY_RULES is None:
        years = known_years()
        days = {row.day: row.is_workday for year in years for row in year_days(year)}
        _LIBRARY_RULES = DayRules(statutory=days, confirmed_years=frozenset(years))
    return _LIBRARY_RULES


_LIBRARY_RULES: DayRules | None = None
