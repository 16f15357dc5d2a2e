"""Properties of the business-time arithmetic in :mod:`sla.calendar`.

Everything runs against the real China calendar (the State Council's 2025 and
2026 exceptions as read by :mod:`sla.statutory`) in Asia/Shanghai, with the two
working weeks hospitals actually use (08:00–18:00, and the same with a lunch
break), and against daylight-saving zones whose windows cover the transition
hours. Hypothesis drives the algebra (inverse, additivity, monotonicity,
antisymmetry, where ``add`` may land); a handful of hand-computed instants pin
the facts (Spring Festival 2026, National Day 2026, DST day lengths).

Instants are compared on the UTC time line (:func:`real`): two aware datetimes
that share a ``ZoneInfo`` are compared by Python on their wall clock, ignoring
``fold``, which is wrong inside a DST fall-back hour. The calendars must not
fall into that trap themselves: the DST properties hand them instants in their
own zone (both folds, imaginary wall times) as well as in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sla.calendar import (
    WEEKDAY_RULE,
    CalendarError,
    Continuous,
    DayRules,
    WorkingDays,
    WorkingHours,
    WorkingWeek,
    add,
    elapsed,
)
from sla.statutory import year_days

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA_FIXED = timezone(timedelta(hours=5, minutes=30))
US = timedelta(microseconds=1)
H = timedelta(hours=1)
DAY = timedelta(days=1)
ZERO = timedelta(0)

PROPS = settings(max_examples=60, deadline=None)
FEW = settings(max_examples=30, deadline=None)

# -- the calendars under test -----------------------------------------------------------

CHINA = DayRules(
    statutory={d.day: d.is_workday for y in (2025, 2026) for d in year_days(y)},
    confirmed_years=frozenset({2025, 2026}),
)
PLAIN_SPEC = {"mon-fri": ["08:00-18:00"]}
LUNCH_SPEC = {"mon-fri": ["08:00-12:00", "13:00-18:00"]}
PLAIN_WINDOWS = ((time(8), time(18)),)
LUNCH_WINDOWS = ((time(8), time(12)), (time(13), time(18)))

PLAIN = WorkingHours(SH, WorkingWeek.parse(PLAIN_SPEC), CHINA)
LUNCH = WorkingHours(SH, WorkingWeek.parse(LUNCH_SPEC), CHINA)
CONTINUOUS = Continuous()
PLAIN_DAYS = WorkingDays(SH, WorkingWeek.parse(PLAIN_SPEC), CHINA)
LUNCH_DAYS = WorkingDays(SH, WorkingWeek.parse(LUNCH_SPEC), CHINA)

CHINA_HOURS = [pytest.param(PLAIN, id="08-18"), pytest.param(LUNCH, id="lunch")]
CHINA_HOURS_AND_CONTINUOUS = [*CHINA_HOURS, pytest.param(CONTINUOUS, id="24x7")]
CHINA_DAYS = [pytest.param(PLAIN_DAYS, id="days-08-18"), pytest.param(LUNCH_DAYS, id="days-lunch")]

# Every day of the tested range (and the spill-over of a 30-day add) is a working day.
ALL_DAYS = DayRules(overrides={date(2024, 12, 25) + timedelta(days=i): True for i in range(820)})
DST_SPECS = {
    "24h": {"mon-sun": ["00:00-24:00"]},
    "split": {"mon-sun": ["01:00-04:00", "08:00-18:00"]},
    # 02:30 does not exist on a spring-forward day: the first window then runs into the second
    "gap": {"mon-sun": ["01:00-02:30", "03:00-04:00", "08:00-18:00"]},
}
DST_ENDS = {"24h": {time(0)}, "split": {time(4), time(18)}, "gap": {time(2, 30), time(4), time(18)}}  # local ends
DST_CALENDARS = [
    (WorkingHours(tz, WorkingWeek.parse(DST_SPECS[spec]), rules), DST_ENDS[spec])
    for tz in (BERLIN, NEW_YORK)
    for spec in DST_SPECS
    for rules in (ALL_DAYS, WEEKDAY_RULE)
]
TRANSITIONS = {
    BERLIN: [date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29), date(2026, 10, 25)],
    NEW_YORK: [date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1)],
}


# -- helpers and an independent oracle ---------------------------------------------------


def real(instant: datetime) -> datetime:
    """The instant on the UTC time line, where ``<``, ``==`` and ``-`` mean real time."""
    return instant.astimezone(UTC)


def at(tz, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at(SH, y, mo, d, h, mi)


def china_workday(day: date) -> bool:
    """Straight from chinesecalendar; the weekday rule for the years it has no data for."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def oracle_hours(windows, start: datetime, end: datetime) -> timedelta:
    """Working time between two instants, on naive Shanghai wall time (+08:00, no DST)."""
    lo_wall = start.astimezone(SH).replace(tzinfo=None)
    hi_wall = end.astimezone(SH).replace(tzinfo=None)
    total = ZERO
    day = lo_wall.date()
    while day <= hi_wall.date():
        if china_workday(day):
            for opens, closes in windows:
                overlap = min(datetime.combine(day, closes), hi_wall) - max(datetime.combine(day, opens), lo_wall)
                if overlap > ZERO:
                    total += overlap
        day += DAY
    return total


def oracle_days(start: datetime, end: datetime) -> int:
    """Working days after the start's day whose 18:00 close of business is at or before ``end``."""
    first, last = start.astimezone(SH).date(), end.astimezone(SH).date()
    return sum(
        1
        for i in range(1, (last - first).days + 1)
        if china_workday(first + timedelta(days=i))
        and real(datetime.combine(first + timedelta(days=i), time(18), tzinfo=SH)) <= real(end)
    )


# -- strategies --------------------------------------------------------------------------


def zoned(tz, lo: date = date(2025, 1, 1), hi: date = date(2026, 12, 31)) -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime.combine(lo, time.min),
        max_value=datetime.combine(hi, time.max),
        timezones=st.just(tz),
    )


def near(
    tz, days: list[date] | st.SearchStrategy[date], times: list[time], spread: st.SearchStrategy[int]
) -> st.SearchStrategy[datetime]:
    """Instants at (or a few microseconds / hours from) chosen local times of chosen days."""
    return st.builds(
        lambda d, t, offset: real(datetime.combine(d, t, tzinfo=tz)) + timedelta(microseconds=offset),
        st.sampled_from(days) if isinstance(days, list) else days,
        st.sampled_from(times),
        spread,
    )


CHINA_BOUNDARIES = [time(0), time(8), time(12), time(13), time(18)]
china_instants = st.one_of(
    zoned(SH),
    zoned(SH).map(real),
    zoned(SH).map(lambda x: x.astimezone(KOLKATA_FIXED)),
    near(SH, st.dates(date(2025, 1, 1), date(2026, 12, 31)), CHINA_BOUNDARIES, st.sampled_from([-1, 0, 1])),
    # around the 2026 Spring Festival and National Day blocks
    zoned(SH, date(2026, 2, 10), date(2026, 3, 2)),
    zoned(SH, date(2026, 9, 15), date(2026, 10, 12)),
)
spring_block = zoned(SH, date(2026, 2, 15), date(2026, 2, 23))  # 2026-02-15 00:00 .. 02-23 23:59:59.999999

durations = st.one_of(
    st.timedeltas(min_value=ZERO, max_value=timedelta(days=30)),
    st.integers(0, 30 * 24).map(lambda h: timedelta(hours=h)),
    st.integers(0, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)),
)
positive_durations = durations.filter(lambda d: d > ZERO)
working_day_counts = st.integers(0, 30)


def dst_instants(tz) -> st.SearchStrategy[datetime]:
    """Instants near the zone's 2025–2026 transitions or anywhere in those years.

    Local wall times (imaginary ones and both folds of ambiguous ones included, as
    Hypothesis draws them) and the same instants in UTC; instants computed near a
    transition come back in the zone with the right fold.
    """
    near_transitions = st.one_of(
        near(tz, TRANSITIONS[tz], [time(0)], st.integers(-2 * 86_400_000_000, 3 * 86_400_000_000)),
        near(tz, TRANSITIONS[tz], [time(0)], st.integers(-48 * 4, 72 * 4).map(lambda q: q * 900_000_000)),
    )
    return st.one_of(
        zoned(tz),
        zoned(tz).map(real),
        near_transitions,
        near_transitions.map(lambda x: x.astimezone(tz)),
        zoned(tz, TRANSITIONS[tz][3] - DAY, TRANSITIONS[tz][3] + DAY),  # the 2026 fall-back, wall time
    )


@st.composite
def dst_case(draw, instants: int = 1):
    """A DST-zone calendar, the local wall time of its window ends, and instants in its zone or UTC."""
    calendar, ends = draw(st.sampled_from(DST_CALENDARS))
    one = dst_instants(calendar.tz)
    return calendar, ends, [draw(one) for _ in range(instants)]


dst_durations = st.one_of(
    st.timedeltas(min_value=ZERO, max_value=timedelta(days=3)),
    st.integers(0, 72).map(lambda h: timedelta(hours=h)),
    st.timedeltas(min_value=ZERO, max_value=timedelta(days=30)),
)


# == WorkingHours and Continuous in the China calendar ==================================


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(a=china_instants, d=durations)
def test_elapsed_inverts_add(cal, a, d):
    r = add(a, d, cal)
    assert elapsed(a, r, cal) == d
    if d > ZERO:  # and r is the earliest such instant
        assert elapsed(a, real(r) - US, cal) == d - US


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(xs=st.lists(china_instants, min_size=3, max_size=3))
def test_elapsed_is_additive(cal, xs):
    a, b, c = sorted(xs, key=real)
    assert elapsed(a, c, cal) == elapsed(a, b, cal) + elapsed(b, c, cal)


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(starts=st.lists(china_instants, min_size=2, max_size=2), d=durations)
def test_add_is_monotone_in_start(cal, starts, d):
    early, late = sorted(starts, key=real)
    assert real(add(early, d, cal)) <= real(add(late, d, cal))


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(a=china_instants, ds=st.lists(durations, min_size=2, max_size=2))
def test_add_is_monotone_in_duration(cal, a, ds):
    short, long = sorted(ds)
    assert real(add(a, short, cal)) <= real(add(a, long, cal))


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(xs=st.lists(china_instants, min_size=3, max_size=3))
def test_elapsed_is_monotone(cal, xs):
    a, b1, b2 = sorted(xs, key=real)
    assert elapsed(a, b1, cal) <= elapsed(a, b2, cal)  # non-decreasing in the end
    assert elapsed(a, b2, cal) >= elapsed(b1, b2, cal)  # non-increasing in the start
    assert elapsed(a, b1, cal) >= ZERO


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(xs=st.lists(china_instants, min_size=2, max_size=2))
def test_add_of_elapsed_never_overshoots(cal, xs):
    a, b = sorted(xs, key=real)
    spent = elapsed(a, b, cal)
    r = add(a, spent, cal)
    assert real(r) <= real(b)
    assert elapsed(r, b, cal) == ZERO
    assert elapsed(a, r, cal) == spent


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(a=china_instants, b=china_instants)
def test_elapsed_is_antisymmetric(cal, a, b):
    assert elapsed(b, a, cal) == -elapsed(a, b, cal)


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@PROPS
@given(a=china_instants, b=china_instants)
def test_elapsed_matches_an_independent_count(cal, a, b):
    a, b = sorted((a, b), key=real)
    if isinstance(cal, Continuous):
        expected = real(b) - real(a)
    else:
        expected = oracle_hours(PLAIN_WINDOWS if cal is PLAIN else LUNCH_WINDOWS, a, b)
    assert elapsed(a, b, cal) == expected


@pytest.mark.parametrize(("cal", "ends"), [(PLAIN, {time(18)}), (LUNCH, {time(12), time(18)})], ids=["08-18", "lunch"])
@PROPS
@given(a=china_instants, d=positive_durations)
def test_add_lands_in_a_window_or_on_its_end(cal, ends, a, d):
    r = add(a, d, cal)
    assert cal.is_working_time(real(r) - US)  # the last microsecond counted was working time
    local = real(r).astimezone(SH)
    assert cal.is_working_time(r) or local.time() in ends
    assert china_workday(local.date())


@pytest.mark.parametrize("cal", CHINA_HOURS_AND_CONTINUOUS)
@FEW
@given(a=china_instants, d=st.timedeltas(min_value=-timedelta(days=30), max_value=-US))
def test_negative_duration_is_refused(cal, a, d):
    with pytest.raises(CalendarError):
        add(a, d, cal)


# -- the 2026 Spring Festival: Feb 15–23 off, Sat Feb 14 and Sat Feb 28 worked ----------


@pytest.mark.parametrize("cal", CHINA_HOURS)
@PROPS
@given(a=spring_block, b=spring_block)
def test_spring_festival_block_counts_nothing(cal, a, b):
    assert elapsed(a, b, cal) == ZERO
    assert not cal.is_working_time(a)


@pytest.mark.parametrize("cal", CHINA_HOURS)
@PROPS
@given(a=spring_block, d=durations)
def test_add_from_inside_spring_festival_starts_on_feb_24(cal, a, d):
    assert elapsed(a, sh(2026, 2, 24, 8), cal) == ZERO
    assert real(add(a, d, cal)) == real(add(sh(2026, 2, 24, 8), d, cal)) or d == ZERO


@pytest.mark.parametrize("cal", CHINA_HOURS)
@PROPS
@given(a=zoned(SH, date(2026, 2, 9), date(2026, 2, 14)), b=zoned(SH, date(2026, 2, 24), date(2026, 3, 6)))
def test_span_across_spring_festival_skips_the_block(cal, a, b):
    assert elapsed(a, b, cal) == elapsed(a, sh(2026, 2, 15), cal) + elapsed(sh(2026, 2, 24), b, cal)


@pytest.mark.parametrize(("cal", "hours"), [(PLAIN, 10), (LUNCH, 9)], ids=["08-18", "lunch"])
def test_make_up_saturdays_count_like_a_weekday(cal, hours):
    def whole(d: date) -> timedelta:
        return elapsed(sh(d.year, d.month, d.day), sh(d.year, d.month, d.day) + DAY, cal)

    weekday = whole(date(2026, 2, 13))  # Fri
    assert weekday == timedelta(hours=hours)
    assert whole(date(2026, 2, 14)) == weekday  # Sat, make-up
    assert whole(date(2026, 2, 28)) == weekday  # Sat, make-up
    assert whole(date(2026, 3, 7)) == ZERO  # an ordinary Saturday
    for day in range(15, 24):
        assert whole(date(2026, 2, day)) == ZERO, day
    assert whole(date(2026, 2, 24)) == weekday  # Tue, back at work


# -- hand-computed facts ---------------------------------------------------------------


def test_lunch_break_span_over_spring_festival_is_11_hours():
    # Fri 17:00–18:00 (1 h) + Sat 02-14 make-up 08–12, 13–18 (9 h) + Tue 02-24 08:00–09:00 (1 h)
    assert elapsed(sh(2026, 2, 13, 17), sh(2026, 2, 24, 9), LUNCH) == timedelta(hours=11)
    assert elapsed(sh(2026, 2, 24, 9), sh(2026, 2, 13, 17), LUNCH) == -timedelta(hours=11)


def test_four_hours_from_friday_afternoon_end_on_the_make_up_saturday():
    assert real(add(sh(2026, 2, 13, 16), 4 * H, PLAIN)) == real(sh(2026, 2, 14, 10))
    assert real(add(sh(2026, 2, 13, 16), 2 * H, PLAIN)) == real(sh(2026, 2, 13, 18))  # a window end stays put
    assert real(add(sh(2026, 2, 14, 17), 2 * H, PLAIN)) == real(sh(2026, 2, 24, 9))
    assert real(add(sh(2026, 2, 18, 12), H, LUNCH)) == real(sh(2026, 2, 24, 9))
    assert real(add(sh(2026, 2, 24, 11), 2 * H, LUNCH)) == real(sh(2026, 2, 24, 14))


@pytest.mark.parametrize(("cal", "hours"), [(PLAIN, 10), (LUNCH, 9)], ids=["08-18", "lunch"])
def test_national_day_2026(cal, hours):
    day = timedelta(hours=hours)
    assert elapsed(sh(2026, 9, 20), sh(2026, 9, 21), cal) == day  # Sun, make-up
    assert elapsed(sh(2026, 10, 10), sh(2026, 10, 11), cal) == day  # Sat, make-up
    assert elapsed(sh(2026, 10, 1), sh(2026, 10, 8), cal) == ZERO  # the holiday block
    assert elapsed(sh(2026, 9, 30), sh(2026, 10, 9), cal) == 2 * day  # Wed 09-30 + Thu 10-08
    assert elapsed(sh(2026, 10, 11), sh(2026, 10, 12), cal) == ZERO  # an ordinary Sunday
    assert real(add(sh(2026, 9, 30, 17), 2 * H, cal)) == real(sh(2026, 10, 8, 9))
    assert real(add(sh(2026, 9, 19, 12), H, cal)) == real(sh(2026, 9, 20, 9))  # Sat -> the make-up Sunday


# == WorkingDays: the Civil Code count ==================================================

day_instants = st.one_of(
    zoned(SH, date(2025, 1, 1), date(2026, 10, 31)),
    zoned(SH, date(2025, 1, 1), date(2026, 10, 31)).map(real),
    near(SH, st.dates(date(2025, 1, 1), date(2026, 10, 31)), [time(0), time(18)], st.sampled_from([-1, 0, 1])),
    zoned(SH, date(2026, 2, 1), date(2026, 3, 3)),
    zoned(SH, date(2026, 9, 10), date(2026, 10, 12)),
)


@pytest.mark.parametrize("cal", CHINA_DAYS)
@PROPS
@given(a=day_instants, n=working_day_counts)
def test_working_days_inverse(cal, a, n):
    r = add(a, timedelta(days=n), cal)
    assert elapsed(a, r, cal) == timedelta(days=n)
    if n:  # the period ends exactly at the close of business, not a microsecond earlier
        assert elapsed(a, real(r) - US, cal) == timedelta(days=n - 1)


@pytest.mark.parametrize("cal", CHINA_DAYS)
@PROPS
@given(a=day_instants, n=st.integers(1, 30))
def test_working_days_end_at_close_of_business_of_the_nth_working_day(cal, a, n):
    r = real(add(a, timedelta(days=n), cal)).astimezone(SH)
    assert r.time() == time(18)
    assert china_workday(r.date())
    start_day = a.astimezone(SH).date()
    assert sum(china_workday(start_day + timedelta(days=i)) for i in range(1, (r.date() - start_day).days + 1)) == n


@pytest.mark.parametrize("cal", CHINA_DAYS)
@PROPS
@given(starts=st.lists(day_instants, min_size=2, max_size=2), ns=st.lists(working_day_counts, min_size=2, max_size=2))
def test_working_days_add_is_monotone(cal, starts, ns):
    early, late = sorted(starts, key=real)
    few, many = sorted(ns)
    assert real(add(early, timedelta(days=many), cal)) <= real(add(late, timedelta(days=many), cal))
    assert real(add(early, timedelta(days=few), cal)) <= real(add(early, timedelta(days=many), cal))


@pytest.mark.parametrize("cal", CHINA_DAYS)
@PROPS
@given(xs=st.lists(day_instants, min_size=3, max_size=3))
def test_working_days_elapsed_is_monotone_and_counted(cal, xs):
    a, b1, b2 = sorted(xs, key=real)
    assert elapsed(a, b1, cal) <= elapsed(a, b2, cal)
    assert elapsed(a, b2, cal) >= elapsed(b1, b2, cal)
    assert elapsed(a, b2, cal) == timedelta(days=oracle_days(a, b2))
    assert elapsed(b2, a, cal) == -elapsed(a, b2, cal)


@pytest.mark.parametrize("cal", CHINA_DAYS)
@FEW
@given(a=day_instants, n=working_day_counts, part=st.integers(1, 86_400_000_000 - 1))
def test_working_days_refuse_a_partial_day(cal, a, n, part):
    with pytest.raises(CalendarError):
        add(a, timedelta(days=n, microseconds=part), cal)
    with pytest.raises(CalendarError):
        add(a, -timedelta(days=n + 1), cal)


@pytest.mark.parametrize("cal", CHINA_DAYS)
def test_working_days_hand_computed(cal):
    def due(start: datetime, n: int) -> datetime:
        return real(add(start, timedelta(days=n), cal))

    assert due(sh(2026, 3, 2, 9), 1) == real(sh(2026, 3, 3, 18))  # Mon -> Tue: the start day does not count
    assert due(sh(2026, 3, 2, 23, 59), 1) == real(sh(2026, 3, 3, 18))
    assert due(sh(2026, 2, 12, 10), 2) == real(sh(2026, 2, 14, 18))  # Thu -> Fri, make-up Sat
    assert due(sh(2026, 2, 12, 10), 3) == real(sh(2026, 2, 24, 18))  # then the whole Spring Festival is skipped
    assert due(sh(2026, 2, 13, 23), 1) == real(sh(2026, 2, 14, 18))
    assert due(sh(2026, 9, 18, 10), 1) == real(sh(2026, 9, 20, 18))  # Fri -> make-up Sun
    assert due(sh(2026, 9, 30, 9), 1) == real(sh(2026, 10, 8, 18))  # National Day skipped
    assert due(sh(2026, 9, 30, 9), 3) == real(sh(2026, 10, 10, 18))  # make-up Sat
    assert real(add(sh(2026, 3, 2, 9), ZERO, cal)) == real(sh(2026, 3, 2, 9))
    assert elapsed(sh(2026, 9, 30, 9), sh(2026, 10, 8, 17, 59), cal) == ZERO
    assert elapsed(sh(2026, 9, 30, 9), sh(2026, 10, 8, 18), cal) == DAY


# == daylight saving: Europe/Berlin and America/New_York ===============================


@PROPS
@given(case=dst_case(1), d=dst_durations)
@example(case=(*DST_CALENDARS[0], [datetime(2026, 10, 25, 2, 50, tzinfo=BERLIN)]), d=timedelta(minutes=30))
def test_dst_elapsed_inverts_add(case, d):
    cal, _, (a,) = case
    r = add(a, d, cal)
    assert elapsed(a, r, cal) == d
    if d > ZERO:
        assert elapsed(a, real(r) - US, cal) == d - US


@PROPS
@given(case=dst_case(3))
def test_dst_elapsed_is_additive(case):
    cal, _, xs = case
    a, b, c = sorted(xs, key=real)
    assert elapsed(a, c, cal) == elapsed(a, b, cal) + elapsed(b, c, cal)
    assert elapsed(c, a, cal) == -elapsed(a, c, cal)


@PROPS
@given(case=dst_case(2))
def test_dst_add_of_elapsed_never_overshoots(case):
    cal, _, xs = case
    a, b = sorted(xs, key=real)
    r = add(a, elapsed(a, b, cal), cal)
    assert real(r) <= real(b)
    assert elapsed(r, b, cal) == ZERO


@PROPS
@given(case=dst_case(2), ds=st.lists(dst_durations, min_size=2, max_size=2))
def test_dst_add_is_monotone(case, ds):
    cal, _, xs = case
    early, late = sorted(xs, key=real)
    short, long = sorted(ds)
    assert real(add(early, long, cal)) <= real(add(late, long, cal))
    assert real(add(early, short, cal)) <= real(add(early, long, cal))


@PROPS
@given(case=dst_case(1), d=dst_durations.filter(lambda d: d > ZERO))
def test_dst_add_lands_in_a_window_or_on_its_end(case, d):
    cal, ends, (a,) = case
    r = add(a, d, cal)
    assert cal.is_working_time(real(r) - US)
    assert cal.is_working_time(r) or real(r).astimezone(cal.tz).time() in ends


@pytest.mark.parametrize(
    ("tz", "day", "whole_day", "split", "gap"),
    [
        # 01:00–04:00 loses 02:00–03:00; 01:00–"02:30" and 03:00–04:00 cover 01:00 CET–04:00 CEST once
        (BERLIN, date(2026, 3, 29), 23, 12, 12),
        # 01:00–04:00 lives 02:00–03:00 twice; 01:00–02:30 ends at the first 02:30 (CEST)
        (BERLIN, date(2026, 10, 25), 25, 14, 12.5),
        (BERLIN, date(2025, 3, 30), 23, 12, 12),
        (BERLIN, date(2025, 10, 26), 25, 14, 12.5),
        (NEW_YORK, date(2026, 3, 8), 23, 12, 12),
        (NEW_YORK, date(2026, 11, 1), 25, 14, 13.5),  # New York repeats 01:00–02:00, inside 01:00–02:30
        (BERLIN, date(2026, 3, 30), 24, 13, 12.5),  # an ordinary Monday
    ],
)
def test_dst_day_lengths(tz, day, whole_day, split, gap):
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + DAY, time(0), tzinfo=tz)
    for spec, hours in (("24h", whole_day), ("split", split), ("gap", gap)):
        week = WorkingWeek.parse(DST_SPECS[spec])
        every_day = WorkingHours(tz, week, ALL_DAYS)
        assert elapsed(start, end, every_day) == timedelta(hours=hours), spec
        assert real(add(start, timedelta(hours=hours), every_day)) == real(end) - (ZERO if spec == "24h" else 6 * H)
        # With no day rules the week decides: these weeks have windows every day, Sundays included.
        week_rule = WorkingHours(tz, week, DayRules())
        assert elapsed(start, end, week_rule) == timedelta(hours=hours), spec
        # A day the rules give off counts nothing, whatever the week says.
        day_off = WorkingHours(tz, week, DayRules(overrides={day: False}))
        assert elapsed(start, end, day_off) == ZERO, spec


def test_dst_add_across_the_transition_hours():
    split = WorkingHours(BERLIN, WorkingWeek.parse(DST_SPECS["split"]), ALL_DAYS)
    # 2026-03-29: 01:00 CET = 00:00 UTC .. 04:00 CEST = 02:00 UTC
    assert real(add(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), H, split)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert real(add(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 2 * H, split)) == datetime(2026, 3, 29, 6, 30, tzinfo=UTC)
    # 2026-10-25: 01:00 CEST = 23:00 UTC (the 24th) .. 04:00 CET = 03:00 UTC
    assert real(add(datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 3 * H, split)) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert real(add(datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 4 * H, split)) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK], ids=["berlin", "new-york"])
@PROPS
@given(data=st.data(), d=dst_durations)
def test_dst_continuous_counts_real_time(tz, data, d):
    a, b = data.draw(dst_instants(tz)), data.draw(dst_instants(tz))
    r = add(a, d, CONTINUOUS)
    assert real(r) - real(a) == d
    assert elapsed(a, r, CONTINUOUS) == d
    assert elapsed(a, b, CONTINUOUS) == real(b) - real(a)


# -- pinned examples (each broke an earlier version of sla/calendar.py) -----------------

BERLIN_24H = WorkingHours(BERLIN, WorkingWeek.parse(DST_SPECS["24h"]), ALL_DAYS)


def test_fall_back_hour_in_the_calendars_own_zone():
    # 02:50 CEST (fold 0) + 30 min = 02:20 CET (fold 1): earlier on the wall clock, later in real time.
    a = datetime(2026, 10, 25, 2, 50, tzinfo=BERLIN)
    r = add(a, timedelta(minutes=30), BERLIN_24H)
    assert (r.tzinfo, r.fold, r.hour, r.minute) == (BERLIN, 1, 2, 20)
    assert elapsed(a, r, BERLIN_24H) == timedelta(minutes=30)  # was 0 when elapsed compared wall clocks
    assert elapsed(r, a, BERLIN_24H) == -timedelta(minutes=30)
    assert elapsed(a, r, WorkingDays(BERLIN, BERLIN_24H.week, ALL_DAYS)) == ZERO
    assert elapsed(r, a, CONTINUOUS) == -timedelta(minutes=30)


def test_continuous_counts_real_time_across_spring_forward():
    start = datetime(2026, 3, 28, 12, tzinfo=BERLIN)  # Sat 11:00 UTC; Berlin springs forward that night
    assert real(add(start, 24 * H, CONTINUOUS)) == datetime(2026, 3, 29, 11, tzinfo=UTC)  # 13:00 CEST
    assert elapsed(start, datetime(2026, 3, 29, 12, tzinfo=BERLIN), CONTINUOUS) == 23 * H


# == naive datetimes =====================================================================

naive_instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31))
ALL_CALENDARS = [*CHINA_HOURS_AND_CONTINUOUS, *CHINA_DAYS]


@pytest.mark.parametrize("cal", ALL_CALENDARS)
@FEW
@given(naive=naive_instants, other=naive_instants, aware=china_instants, n=st.integers(0, 30))
def test_naive_datetimes_are_refused(cal, naive, other, aware, n):
    with pytest.raises(CalendarError):
        add(naive, timedelta(days=n), cal)  # a zero duration included
    with pytest.raises(CalendarError):
        elapsed(naive, other, cal)
    with pytest.raises(CalendarError):
        elapsed(naive, aware, cal)
    with pytest.raises(CalendarError):
        elapsed(aware, naive, cal)
    with pytest.raises(CalendarError):
        cal.elapsed(naive, naive)
