"""Staged reminders before deadlines and escalation after them (issue 6), on pinned clocks.

The contract in these tests has one level whose response clock counts 4 working
hours (Mon–Fri 08:00–18:00 on the statutory calendar), so the points fall where a
person can check them: 2026 National Day runs 10-01..10-07 and Saturday 10-10 is
a make-up working day (调休).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from sla import Calendars, ClockState, DayRules, WorkingWeek
from sla.reminders import ESCALATE, REMIND, ReminderPlan, checkpoints
from sla.statutory import year_days
from tests.conftest import Env, FakeClock, make_env, postgres_database
from tests.helpers import chat, fire_after_a_crash, person, tickets
from tickets import service
from tickets.models import Contract, Hospital, Outbox, Person, Ticket, Timer, TimerStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = DayRules(statutory={d.day: d.is_workday for d in year_days(2026)}, confirmed_years=frozenset({2026}))
CALENDARS = Calendars("Asia/Shanghai", WorkingWeek.parse({"mon-fri": ["08:00-18:00"]}), CHINA)
POLICY = {
    "name": "测试合同",
    "working_hours": {"mon-fri": ["08:00-18:00"]},
    "levels": [{"code": "fatal", "name": "致命", "description": "系统停机",
                "clocks": {"response": {"calendar": "working_hours", "minutes": 240, "pause_on": ["waiting_hospital"],
                                        "clause": "测试：4个工作小时内响应"}}}],
}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def running(started: datetime, now: datetime, target: timedelta = timedelta(hours=4)) -> ClockState:
    cal = CALENDARS.working_hours
    elapsed = cal.elapsed(started, now)
    return ClockState(name="response", calendar="working_hours", target=target, clause="", started_at=started,
                      due_at=cal.add(started, target), stopped_at=None, paused_since=None, pause_reason=None,
                      paused=timedelta(0), elapsed=elapsed, breached=elapsed > target, calendar_confirmed=True)


# -- the arithmetic -------------------------------------------------------------------------------------

def test_points_skip_national_day_and_land_on_working_hours() -> None:
    started = local(2026, 9, 30, 15, 0)  # the last working afternoon before the holiday
    points = checkpoints(running(started, started), CALENDARS.working_hours, started, ReminderPlan())
    assert [(p.label, p.at.astimezone(SHANGHAI).replace(tzinfo=None)) for p in points] == [
        ("50%", datetime(2026, 9, 30, 17, 0)),
        ("80%", datetime(2026, 10, 8, 8, 12)),  # 3 h on 09-30, then 12 min after the holiday
        ("15 分钟", datetime(2026, 10, 8, 8, 45)),
        ("已超时", datetime(2026, 10, 8, 9, 0)),
        ("超时未处理", datetime(2026, 10, 8, 10, 0)),  # an hour of business time later
    ]
    assert [p.kind for p in points] == [REMIND] * 3 + [ESCALATE] * 2
    assert [p.left for p in points[:3]] == [timedelta(hours=2), timedelta(minutes=48), timedelta(minutes=15)]


def test_points_use_the_make_up_saturday() -> None:
    started = local(2026, 10, 9, 17, 0)  # Friday; Saturday 10-10 is a working day (调休)
    points = checkpoints(running(started, started), CALENDARS.working_hours, started, ReminderPlan())
    assert [p.at.astimezone(SHANGHAI).replace(tzinfo=None) for p in points[:4]] == [
        datetime(2026, 10, 10, 9, 0), datetime(2026, 10, 10, 10, 12), datetime(2026, 10, 10, 10, 45),
        datetime(2026, 10, 10, 11, 0)]


def test_a_working_days_clock_is_reminded_at_closes_of_business() -> None:
    cal = CALENDARS.working_days
    started = local(2026, 9, 30, 15, 0)
    state = running(started, started, timedelta(days=3))
    state.calendar, state.elapsed, state.due_at = "working_days", timedelta(0), cal.add(started, timedelta(days=3))
    points = checkpoints(state, cal, started, ReminderPlan())
    assert [(p.label, p.at.astimezone(SHANGHAI).replace(tzinfo=None)) for p in points] == [
        ("50%", datetime(2026, 10, 8, 18, 0)),  # 1.5 days: the first whole day, after the holiday
        ("80%", datetime(2026, 10, 9, 18, 0)),  # 2.4 days: two whole days
        ("15 分钟", datetime(2026, 10, 10, 17, 45)),  # the make-up Saturday closes the third day
        ("已超时", datetime(2026, 10, 10, 18, 0)),
        ("超时未处理", datetime(2026, 10, 10, 19, 0)),  # an hour is no whole day: wall-clock time
    ]


def test_points_already_passed_are_not_sent_late_but_the_breach_is() -> None:
    started = local(2026, 11, 23, 9, 0)
    now = local(2026, 11, 23, 12, 0)  # 75 % gone
    points = checkpoints(running(started, now), CALENDARS.working_hours, now, ReminderPlan())
    assert [p.label for p in points] == ["80%", "15 分钟", "已超时", "超时未处理"]
    overdue = local(2026, 11, 23, 13, 30)
    assert [p.label for p in checkpoints(running(started, overdue), CALENDARS.working_hours, overdue,
                                         ReminderPlan())] == ["已超时", "超时未处理"]


def test_paused_and_stopped_clocks_have_no_points() -> None:
    started = local(2026, 11, 23, 9, 0)
    state = running(started, started)
    state.paused_since = started + timedelta(minutes=5)
    assert checkpoints(state, CALENDARS.working_hours, started, ReminderPlan()) == []
    state.paused_since, state.stopped_at = None, started + timedelta(minutes=5)
    assert checkpoints(state, CALENDARS.working_hours, started, ReminderPlan()) == []


@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)),
       minutes=st.integers(min_value=20, max_value=3000), gone=st.floats(min_value=0, max_value=1.3))
def test_each_point_is_where_its_share_of_business_time_has_elapsed(start: datetime, minutes: int,
                                                                    gone: float) -> None:
    cal = CALENDARS.working_hours
    started = start.replace(tzinfo=SHANGHAI)
    target = timedelta(minutes=minutes)
    now = cal.add(started, target * gone)
    state = running(started, now, target)
    points = checkpoints(state, cal, now, ReminderPlan())
    assert [p.at for p in points] == sorted(p.at for p in points)
    for point in points:
        if point.kind == REMIND:
            assert point.at >= now
            assert abs(cal.elapsed(started, point.at) - (target - point.left)) < timedelta(seconds=1)
    breach = next(p for p in points if p.level == 1)
    assert breach.at == state.due_at


# -- through the product ---------------------------------------------------------------------------------

def _contract_env(env: Env) -> None:
    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
        contract.sla_policy = POLICY
        session.add(contract)


def _timers(env: Env, status: str | None = None) -> list[Timer]:
    with env.db.session() as session:
        stmt = select(Timer).order_by(col(Timer.due_at))
        if status:
            stmt = stmt.where(Timer.status == status)
        return list(session.exec(stmt).all())


def _said(env: Env, since: int = 0) -> list[tuple[str, str]]:
    with env.db.session() as session:
        rows = session.exec(select(Outbox).where(col(Outbox.id) > since).order_by(col(Outbox.id))).all()
        return [(r.recipient, r.text) for r in rows]


def _last_outbox_id(env: Env) -> int:
    with env.db.session() as session:
        return max([r.id or 0 for r in session.exec(select(Outbox))] or [0])


@pytest.fixture
def holiday_env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    clock = FakeClock(local(2026, 9, 30, 15, 0).astimezone(UTC))
    env = make_env(tmp_path, db_url, clock)
    _contract_env(env)
    yield env
    env.db.dispose()


def test_reminders_fire_at_their_instants_across_national_day_then_escalate(holiday_env: Env) -> None:
    env, clock = holiday_env, holiday_env.clock
    chat(env, "liufang", "DRG系统无法登录，全科室都进不去")
    (ticket,) = tickets(env)
    assert [t.label for t in _timers(env, TimerStatus.PENDING)] == ["50%", "80%", "15 分钟", "已超时", "超时未处理"]
    mark = _last_outbox_id(env)

    clock.now = local(2026, 9, 30, 16, 59).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 0  # a minute early: nothing
    clock.now = local(2026, 9, 30, 17, 0).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 1
    assert _said(env, mark) == [("engineers", f"⏰ #{ticket.id} 致命 响应将于 10月8日 09:00 到期，剩余 2 小时 0 分钟，未认领"
                                              "（武汉市中心医院）")]
    mark = _last_outbox_id(env)

    for day in range(1, 8):  # the whole holiday: silence
        clock.now = local(2026, 10, day, 12, 0).astimezone(UTC)
        assert env.runtime.fire_due_timers() == 0
    clock.now = local(2026, 10, 8, 8, 12).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 1
    assert "剩余 48 分钟" in _said(env, mark)[0][1]

    clock.now = local(2026, 10, 8, 9, 0).astimezone(UTC)  # the -15 min point and the breach, in one pass
    assert env.runtime.fire_due_timers() == 2
    manager = person(env, "wangqiang")
    said = _said(env, mark)
    assert ("engineers", f"⏰ #{ticket.id} 致命 响应将于 今天 09:00 到期，剩余 15 分钟，未认领（武汉市中心医院）") in said
    assert (str(manager.id), f"🔴 超时：#{ticket.id} 致命 响应已于 今天 09:00 到期仍未完成，未认领（武汉市中心医院）") in said
    mark = _last_outbox_id(env)

    clock.now = local(2026, 10, 8, 10, 0).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 1
    ((to, text),) = _said(env, mark)
    assert to == str(manager.id) and text.startswith(f"🔴 二次升级：#{ticket.id} 致命 响应已超时 1 小时")
    assert _timers(env, TimerStatus.PENDING) == []
    assert env.runtime.fire_due_timers() == 0  # each fired once


def test_claimed_tickets_remind_their_engineer_and_a_reply_ends_the_reminders(holiday_env: Env) -> None:
    env, clock = holiday_env, holiday_env.clock
    clock.now = local(2026, 11, 23, 9, 0).astimezone(UTC)
    chat(env, "liufang", "DRG系统打不开")
    (ticket,) = tickets(env)
    engineer = person(env, "zhangwei")
    with env.db.session() as session:  # claimed, but the claim notice is not delivered yet: the clock still runs
        service.claim(session, session.get(Ticket, ticket.id), session.get(Person, engineer.id), clock())
    mark = _last_outbox_id(env)
    clock.now = local(2026, 11, 23, 11, 0).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 1
    assert _said(env, mark) == [(str(engineer.id), f"⏰ #{ticket.id} 致命 响应将于 今天 13:00 到期，剩余 2 小时 0 分钟，"
                                                   "处理人 张伟（武汉市中心医院）")]
    chat(env, "zhangwei", f"回 {ticket.id} 正在远程排查")  # the first human reply stops the response clock
    assert _timers(env, TimerStatus.PENDING) == []
    clock.now = local(2026, 11, 23, 18, 0).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 0


def test_a_paused_clock_never_reminds_and_resuming_reschedules(holiday_env: Env) -> None:
    env, clock = holiday_env, holiday_env.clock
    clock.now = local(2026, 11, 23, 9, 0).astimezone(UTC)
    chat(env, "liufang", "DRG系统打不开")
    (ticket,) = tickets(env)
    clock.now = local(2026, 11, 23, 9, 30).astimezone(UTC)
    with env.db.session() as session:
        service.pause(session, session.get(Ticket, ticket.id), "waiting_hospital", service.SYSTEM, clock())
    assert _timers(env, TimerStatus.PENDING) == []
    for hour in (11, 13, 17):
        clock.now = local(2026, 11, 23, hour, 0).astimezone(UTC)
        assert env.runtime.fire_due_timers() == 0
    clock.now = local(2026, 11, 24, 9, 0).astimezone(UTC)  # resumed the next morning: 30 min gone, 3.5 h left
    with env.db.session() as session:
        service.resume(session, session.get(Ticket, ticket.id), service.SYSTEM, clock())
    assert [t.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for t in _timers(env, TimerStatus.PENDING)] == [
        "11-24 10:30", "11-24 11:42", "11-24 12:15", "11-24 12:30", "11-24 13:30"]


def test_a_severity_change_reschedules(holiday_env: Env) -> None:
    env, clock = holiday_env, holiday_env.clock
    policy = {**POLICY, "levels": [*POLICY["levels"], {  # type: ignore[list-item]
        "code": "minor", "name": "一般", "description": "个别功能",
        "clocks": {"response": {"calendar": "working_hours", "minutes": 480}}}]}
    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
        contract.sla_policy = policy
        session.add(contract)
    clock.now = local(2026, 11, 23, 9, 0).astimezone(UTC)
    chat(env, "liufang", "DRG系统打不开")
    (ticket,) = tickets(env)
    assert _timers(env, TimerStatus.PENDING)[0].due_at == local(2026, 11, 23, 11, 0).astimezone(UTC)
    with env.db.session() as session:
        service.set_severity(session, session.get(Ticket, ticket.id), "minor", service.SYSTEM, clock())
    pending = _timers(env, TimerStatus.PENDING)
    assert [t.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for t in pending] == [
        "11-23 13:00", "11-23 15:24", "11-23 16:45", "11-23 17:00", "11-23 18:00"]
    assert all(":28800:" in t.key for t in pending)


def test_a_contract_sets_its_own_points(holiday_env: Env) -> None:
    env, clock = holiday_env, holiday_env.clock
    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
        contract.sla_policy = {**POLICY, "reminders": {"at_percent": [25], "before_minutes": [30],
                                                       "escalate_after_minutes": 120}}
        session.add(contract)
    clock.now = local(2026, 11, 23, 9, 0).astimezone(UTC)
    chat(env, "liufang", "DRG系统打不开")
    assert [(t.label, t.due_at.astimezone(SHANGHAI).strftime("%H:%M")) for t in _timers(env, TimerStatus.PENDING)] == [
        ("25%", "10:00"), ("30 分钟", "12:30"), ("已超时", "13:00"), ("超时未处理", "15:00")]


def test_outage_hits_one_recipient_with_one_message(holiday_env: Env) -> None:
    """Forty tickets reminding at once: the engineers' group gets one message, not forty."""
    env, clock = holiday_env, holiday_env.clock
    clock.now = local(2026, 11, 23, 9, 0).astimezone(UTC)
    for n in range(40):
        with env.db.session() as session:
            reporter = session.get(Person, person(env, "liufang").id)
            contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
            hospital = session.get(Hospital, contract.hospital_id)
            service.open_ticket(session, reporter=reporter, hospital=hospital, contract=contract, system=None,
                                report=service.Report("webchat", f"r{n}", f"故障 {n}", clock(), clock()), now=clock())
    mark = _last_outbox_id(env)
    clock.now = local(2026, 11, 23, 11, 0).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 40
    ((to, text),) = _said(env, mark)
    assert to == "engineers" and len(text.splitlines()) == 40


# -- several workers -------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_three_workers_fire_each_timer_exactly_once_and_a_killed_workers_timers_are_taken(tmp_path: Path) -> None:
    with postgres_database() as url:
        clock = FakeClock(local(2026, 11, 23, 9, 0).astimezone(UTC))
        env = make_env(tmp_path, url, clock)
        try:
            _contract_env(env)
            for n in range(30):
                chat(env, "liufang" if n % 2 else "chenjing", f"系统故障 {n}")
            # chenjing's contract is untouched (its own preset): timers of both kinds of contract
            expected = len(_timers(env, TimerStatus.PENDING))
            clock.now = local(2026, 11, 26, 9, 0).astimezone(UTC)  # everything is due

            # a worker claims a batch and dies before committing; three others fire everything
            fired, errors = fire_after_a_crash(env, clock())
            assert errors == [] and fired == expected
            done = _timers(env)
            assert len(done) == expected and all(t.status != TimerStatus.PENDING for t in done)
            assert len({t.key for t in done}) == expected
        finally:
            env.db.dispose()
