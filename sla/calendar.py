"""Business time in a contract's calendar: plain functions over aware instants.

Three calendars, one interface (``add`` / ``elapsed`` / ``unconfirmed_years``):

- :class:`Continuous` — 7×24: wall-clock time, holidays do not matter.
- :class:`WorkingHours` — only the working-hour windows of working days count
  (e.g. 08:00–12:00 and 13:00–18:00). A working day is decided by
  :class:`DayRules`: a hospital's own override first, then the statutory table
  (holidays and 调休 make-up working days), then, for a year the State Council
  has not published yet, the weekday rule — flagged as unconfirmed.
- :class:`WorkingDays` — "N个工作日" counted as Chinese law counts periods
  (民法典 第二百零一条、第二百零三条): the day of the report does not count,
  counting starts on the next working day, and the period ends at the close of
  business of the N-th working day.

Everything is computed in integer microseconds since the epoch, so ``add`` and
``elapsed`` are exact inverses (no float rounding), and the cost of both is
proportional to the number of days spanned — never minute stepping. Windows are
laid out in the calendar's own time zone, so a zone with daylight saving gets
the right number of hours on its transition days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
DAY_MINUTES = 24 * 60
# add() gives up after this many days without finding enough working time.
MAX_SPAN_DAYS = 3700

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

Window = tuple[int, int]  # minutes of the local day, end exclusive; 1440 means 24:00


class CalendarError(ValueError):
    """A calendar cannot answer (naive instant, no working time at all, bad spec)."""


# -- which days are working days -------------------------------------------------


@dataclass(frozen=True)
class DayRules:
    """Which dates are working days.

    ``statutory`` holds the State Council's exceptions to the weekday rule
    (holidays on weekdays, make-up working days on weekends) for the years in
    ``confirmed_years``; ``overrides`` are one hospital's own days (a closure,
    an extra working day) and win over both.
    """

    statutory: Mapping[date, bool] = field(default_factory=dict)
    overrides: Mapping[date, bool] = field(default_factory=dict)
    confirmed_years: frozenset[int] = frozenset()

    def explicit(self, day: date) -> bool | None:
        """The hospital's or the State Council's word on ``day``; None when neither says anything."""
        own = self.overrides.get(day)
        if own is not None:
            return own
        return self.statutory.get(day)

    def is_workday(self, day: date) -> bool:
        """With no word on ``day``, Monday to Friday work (a week of windows may say otherwise)."""
        said = self.explicit(day)
        return said if said is not None else day.weekday() < 5

    def is_confirmed(self, year: int) -> bool:
        return year in self.confirmed_years


WEEKDAY_RULE = DayRules()  # Mon–Fri, no holidays known: every year unconfirmed


# -- working-hour windows per weekday -----------------------------------------------


@dataclass(frozen=True)
class WorkingWeek:
    """Working-hour windows per weekday (Monday first), in minutes of the local day.

    A make-up working day (调休) that falls on a weekday without windows — a
    Saturday — works the ``makeup`` windows: those of an ordinary weekday.
    """

    days: tuple[tuple[Window, ...], ...]
    makeup: tuple[Window, ...]

    @classmethod
    def parse(cls, spec: Mapping[str, Iterable[str]]) -> WorkingWeek:
        """Build from ``{"mon-fri": ["08:00-12:00", "13:00-18:00"], "sat": [...]}``."""
        days: list[tuple[Window, ...]] = [()] * 7
        for key, windows in spec.items():
            parsed = _parse_windows(windows)
            for index in _weekday_indexes(key):
                days[index] = parsed
        makeup = next((d for d in days[:5] if d), ()) or next((d for d in days if d), ())
        if not makeup:
            raise CalendarError("working hours define no window at all")
        return cls(days=tuple(days), makeup=makeup)

    def windows(self, day: date, is_workday: bool) -> tuple[Window, ...]:
        if not is_workday:
            return ()
        return self.days[day.weekday()] or self.makeup

    def spec(self) -> dict[str, list[str]]:
        """The week back as a spec, one key per weekday that has windows."""
        return {WEEKDAYS[i]: [_format_window(w) for w in ws] for i, ws in enumerate(self.days) if ws}


def _weekday_indexes(key: str) -> list[int]:
    key = key.strip().lower()
    if "-" in key:
        first, last = (part.strip() for part in key.split("-", 1))
        lo, hi = _weekday_index(first), _weekday_index(last)
        if hi < lo:
            raise CalendarError(f"weekday range runs backwards: {key!r}")
        return list(range(lo, hi + 1))
    return [_weekday_index(key)]


def _weekday_index(name: str) -> int:
    try:
        return WEEKDAYS.index(name)
    except ValueError:
        raise CalendarError(f"unknown weekday {name!r}; use one of {', '.join(WEEKDAYS)}") from None


def _parse_windows(windows: Iterable[str]) -> tuple[Window, ...]:
    parsed = sorted(_parse_window(w) for w in windows)
    for (_, end), (start, _) in zip(parsed, parsed[1:], strict=False):
        if start < end:
            raise CalendarError(f"working-hour windows overlap: {windows!r}")
    return tuple(parsed)


def _parse_window(text: str) -> Window:
    try:
        first, last = text.split("-")
        start, end = _minutes(first), _minutes(last)
    except ValueError:
        raise CalendarError(f"bad working-hour window {text!r}; expected HH:MM-HH:MM") from None
    if not 0 <= start < end <= DAY_MINUTES:
        raise CalendarError(f"bad working-hour window {text!r}")
    return start, end


def _minutes(text: str) -> int:
    hours, minutes = text.strip().split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(text)
    return h * 60 + m


def _format_window(window: Window) -> str:
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in window)


# -- instants as integer microseconds -------------------------------------------------


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(f"naive datetime {instant!r}: business time needs an aware instant")
    return instant


def to_us(instant: datetime) -> int:
    return (_aware(instant) - _EPOCH) // _US


def from_us(us: int, tz: ZoneInfo | timezone) -> datetime:
    return (_EPOCH + timedelta(microseconds=us)).astimezone(tz)


def _local_midnight_us(day: date, minute: int, tz: ZoneInfo) -> int:
    if minute >= DAY_MINUTES:
        return to_us(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
    return to_us(datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz))


# -- the calendars ---------------------------------------------------------------------


class Calendar(Protocol):
    kind: str

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...

    def unconfirmed_years(self, start: datetime, end: datetime) -> list[int]: ...


@dataclass(frozen=True)
class Continuous:
    """7×24: every second counts; no holiday data is needed."""

    kind: str = "24x7"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        # Via UTC: Python adds wall-clock time to an aware datetime, which is wrong across a DST change.
        _check_duration(duration)
        return from_us(to_us(start) + duration // _US, _aware(start).tzinfo)  # type: ignore[arg-type]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return timedelta(microseconds=to_us(end) - to_us(start))

    def unconfirmed_years(self, start: datetime, end: datetime) -> list[int]:
        return []


CONTINUOUS = Continuous()


class _DayCalendar:
    """Shared by the calendars that depend on which days are working days."""

    kind = ""

    def __init__(self, tz: ZoneInfo | str, week: WorkingWeek, days: DayRules = WEEKDAY_RULE) -> None:
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.week = week
        self.days = days
        self._cache: dict[int, tuple[tuple[int, int], ...]] = {}

    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()

    def day_windows(self, day: date) -> tuple[tuple[int, int], ...]:
        """The day's working windows as epoch-microsecond pairs."""
        return self.windows_of(day.toordinal())

    def windows_of(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """Same, by the day's ordinal (cached: days repeat a lot, and loops step ordinals)."""
        cached = self._cache.get(ordinal)
        if cached is None:
            cached = self._cache[ordinal] = self._compute_windows(date.fromordinal(ordinal))
        return cached

    def _compute_windows(self, day: date) -> tuple[tuple[int, int], ...]:
        result: list[tuple[int, int]] = []
        floor = None
        said = self.days.explicit(day)
        if said and day.weekday() >= 5:
            windows = self.week.makeup  # 调休: a make-up Saturday or Sunday works a weekday's hours
        else:
            windows = self.week.windows(day, self.is_workday(day))
        for start_min, end_min in windows:
            lo = _local_midnight_us(day, start_min, self.tz)
            hi = _local_midnight_us(day, end_min, self.tz)
            if floor is not None:  # a DST jump can make local windows overlap in real time
                lo = max(lo, floor)
            if hi > lo:
                result.append((lo, hi))
                floor = hi
        return tuple(result)

    def is_workday(self, day: date) -> bool:
        """A hospital that works Saturday mornings works every Saturday the State Council does not give off."""
        said = self.days.explicit(day)
        return said if said is not None else bool(self.week.days[day.weekday()])

    def is_working_time(self, instant: datetime) -> bool:
        us = to_us(instant)
        return any(lo <= us < hi for lo, hi in self.day_windows(self.local_date(instant)))

    def unconfirmed_years(self, start: datetime, end: datetime) -> list[int]:
        first, last = sorted((self.local_date(start).year, self.local_date(end).year))
        return [y for y in range(first, last + 1) if not self.days.is_confirmed(y)]


class WorkingHours(_DayCalendar):
    """Only the working-hour windows of working days count."""

    kind = "working_hours"

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        # Compare as epoch microseconds: two datetimes of one ZoneInfo compare by wall clock, ignoring fold.
        a, b = to_us(start), to_us(end)
        if b < a:
            return -self.elapsed(end, start)
        total = 0
        day, last = self.local_date(start).toordinal(), self.local_date(end).toordinal()
        while day <= last:
            for lo, hi in self.windows_of(day):
                overlap = min(hi, b) - max(lo, a)
                if overlap > 0:
                    total += overlap
            day += 1
        return timedelta(microseconds=total)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which ``duration`` of working time has passed since ``start``.

        A deadline that ends exactly at a window's end is that end (18:00), not
        the next morning's opening.
        """
        _check_duration(duration)
        a = to_us(start)
        remaining = duration // _US
        if remaining == 0:
            return start
        day = self.local_date(start).toordinal()
        for _ in range(MAX_SPAN_DAYS):
            for lo, hi in self.windows_of(day):
                lo = max(lo, a)
                if hi <= lo:
                    continue
                if remaining <= hi - lo:
                    return from_us(lo + remaining, self.tz)
                remaining -= hi - lo
            day += 1
        raise CalendarError(f"no {duration} of working time within {MAX_SPAN_DAYS} days of {start.isoformat()}")


class WorkingDays(_DayCalendar):
    """"N个工作日" as the Civil Code counts a period of days.

    民法典 第二百零一条: the day the period starts is not counted; 第二百零三条:
    the period ends at 24:00 of its last day, or where there are business hours,
    when business stops. So ``add(report, 1 day)`` is the close of business of
    the next working day, and ``elapsed`` counts the working days whose close of
    business has passed, not counting the start's own day.
    """

    kind = "working_days"

    def close_of(self, ordinal: int) -> int | None:
        windows = self.windows_of(ordinal)
        return windows[-1][1] if windows else None

    def add(self, start: datetime, duration: timedelta) -> datetime:
        _check_duration(duration)
        if duration % timedelta(days=1):
            raise CalendarError(f"a working-days calendar counts whole days, not {duration}")
        remaining = duration.days
        day = self.local_date(start).toordinal()
        if remaining == 0:
            return start
        for _ in range(MAX_SPAN_DAYS):
            day += 1
            close = self.close_of(day)
            if close is not None:
                remaining -= 1
                if remaining == 0:
                    return from_us(close, self.tz)
        raise CalendarError(f"no {duration.days} working days within {MAX_SPAN_DAYS} days of {start.isoformat()}")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        b = to_us(end)
        if b < to_us(start):
            return -self.elapsed(end, start)
        count = 0
        day, last = self.local_date(start).toordinal(), self.local_date(end).toordinal()
        while day < last:
            day += 1
            close = self.close_of(day)
            if close is not None and close <= b:
                count += 1
        return timedelta(days=count)


def _check_duration(duration: timedelta) -> None:
    if duration < timedelta(0):
        raise CalendarError(f"negative duration {duration}")


# -- the module-level functions the rest of the product calls ------------------------------


def add(start: datetime, duration: timedelta, calendar: Calendar) -> datetime:
    """``start`` plus ``duration`` of business time in ``calendar``."""
    return calendar.add(start, duration)


def elapsed(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """Business time between two instants in ``calendar`` (negative if ``end`` is earlier)."""
    return calendar.elapsed(start, end)


DEFAULT_WORKING_HOURS: dict[str, list[str]] = {"mon-fri": ["08:00-18:00"]}


def make_calendar(kind: str, *, tz: ZoneInfo | str = "Asia/Shanghai",
                  week: WorkingWeek | None = None, days: DayRules = WEEKDAY_RULE) -> Calendar:
    """The calendar named by a clock's ``calendar`` field."""
    if kind == "24x7":
        return CONTINUOUS
    week = week or WorkingWeek.parse(DEFAULT_WORKING_HOURS)
    if kind == "working_hours":
        return WorkingHours(tz, week, days)
    if kind == "working_days":
        return WorkingDays(tz, week, days)
    raise CalendarError(f"unknown calendar {kind!r}; use 24x7, working_hours or working_days")
