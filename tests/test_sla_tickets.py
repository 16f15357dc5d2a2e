"""Clocks on real tickets, through the product's own channels, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from tests.conftest import Env
from tests.helpers import chat, person, tickets
from tickets import service
from tickets.audit import Actor
from tickets.calendars import calendar_check, set_hospital_day
from tickets.clocks import clocks_of, recompute_open
from tickets.models import AuditLog, CalendarYear, Contract, Ticket, TicketClock
from tickets.reports import contract_report
from tickets.service import TicketError

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def clocks(env: Env, number: int) -> dict[str, TicketClock]:
    with env.db.session() as session:
        return {c.name: c for c in clocks_of(session, number)}


def actions(env: Env, number: int) -> list[AuditLog]:
    with env.db.session() as session:
        stmt = select(AuditLog).where(AuditLog.ticket_id == number).order_by(col(AuditLog.id))
        return list(session.exec(stmt).all())


def change(env: Env, number: int, fn, *args, **kw) -> None:  # type: ignore[no-untyped-def]
    """Run a ticket-service change as engineer 张伟, in one transaction, at the clock's time."""
    actor = Actor.of(person(env, "zhangwei"))  # before the session: SQLite allows one writer
    with env.db.session() as session:
        fn(session, session.get(Ticket, number), *args, actor, env.clock(), **kw)


def report(env: Env, who: str, text: str, *answers: str) -> int:
    chat(env, who, text)
    for answer in answers:
        chat(env, who, answer)
    return tickets(env)[-1].id or 0


def test_migrate_seeds_the_statutory_calendar_and_knows_2027_is_missing(env: Env) -> None:
    with env.db.session() as session:
        years = set(session.exec(select(CalendarYear.year)).all())
        assert {2025, 2026} <= years and 2027 not in years
        status = calendar_check(session, date(2026, 11, 21))
    assert [(s.year, s.confirmed) for s in status] == [(2026, True), (2027, False)]


def test_severity_raised_after_two_hours_is_measured_from_the_original_report(env: Env) -> None:
    reported = env.clock()
    number = report(env, "liufang", "DRG病案首页导出很慢", "3")  # 一般错误: 4 h
    assert clocks(env, number)["response"].due_at == reported + timedelta(hours=4)

    env.clock.advance(hours=2)
    with env.db.session() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        service.set_severity(session, ticket, "fatal", Actor("王强"), env.clock())

    c = clocks(env, number)
    assert c["response"].due_at == reported + timedelta(hours=1)  # 致命: 1 h from the report, already passed
    assert c["response"].breached and c["response"].state == "running"
    assert c["resolution"].due_at == reported + timedelta(hours=2)
    assert tickets(env)[-1].response_due_at == reported + timedelta(hours=1)
    moved = [a for a in actions(env, number) if a.action == "sla.clock_recomputed" and a.detail["clock"] == "response"]
    assert moved[-1].detail["reason"] == "severity_set"


def test_first_human_reply_delivered_stops_the_response_clock(env: Env) -> None:
    number = report(env, "liufang", "DRG分组器报错，无法分组", "2")
    env.clock.advance(minutes=50)
    chat(env, "zhangwei", f"接 {number}")
    c = clocks(env, number)
    assert c["response"].state == "stopped" and not c["response"].breached
    assert c["response"].stopped_at == env.clock() and c["response"].elapsed_seconds == 50 * 60
    assert c["resolution"].state == "running"  # a reply is not a resolution


def test_pause_across_a_weekend_and_resume(env: Env) -> None:
    env.clock.now = at("2026-11-27 17:00")  # a Friday
    number = report(env, "liufang", "DRG结算清单生成失败", "2")  # 严重错误: resolution 4 h, pausable
    env.clock.now = at("2026-11-27 18:00")
    change(env, number, service.pause, "waiting_hospital", note="等待信息中心提供数据库账号")
    c = clocks(env, number)
    assert c["resolution"].state == "paused" and c["resolution"].due_at is None
    assert c["response"].state == "running"  # the response clock may never pause (seed 000)

    env.clock.now = at("2026-11-30 09:00")  # Monday
    change(env, number, service.resume)
    c = clocks(env, number)
    # 1 h counted Friday, 63 h paused, 3 h left from Monday 09:00.
    assert c["resolution"].state == "running" and c["resolution"].due_at == at("2026-11-30 12:00")
    assert c["resolution"].paused_seconds == 63 * 3600
    names = [a.action for a in actions(env, number)]
    assert "sla.paused" in names and "sla.resumed" in names
    paused = next(a for a in actions(env, number) if a.action == "sla.paused")
    assert paused.detail["reason"] == "waiting_hospital" and paused.actor == "张伟"


def test_a_pause_the_contract_does_not_allow_is_refused_in_chinese(env: Env) -> None:
    number = report(env, "liufang", "DRG分组结果不对", "1")
    with pytest.raises(TicketError, match="合同不允许因「等待医院授权签字」暂停计时"):
        change(env, number, service.pause, "waiting_authorisation")
    with pytest.raises(TicketError, match="没有暂停计时"):
        change(env, number, service.resume)


def test_kind_change_swaps_targets_and_drops_clocks_that_no_longer_apply(env: Env) -> None:
    reported = env.clock()
    number = report(env, "liufang", "想咨询一下DRG分组规则", "3")
    change(env, number, service.set_kind, "consult")
    c = clocks(env, number)
    assert set(c) == {"response"} and c["response"].due_at == reported + timedelta(hours=12)
    assert any(a.action == "sla.clock_removed" for a in actions(env, number))
    with pytest.raises(TicketError, match="未知的工作类型"):
        change(env, number, service.set_kind, "gossip")


def test_onsite_clock_exists_once_requested_and_stops_on_arrival(env: Env) -> None:
    env.clock.now = at("2026-11-23 20:00")  # Monday evening: outside gdph's working hours
    number = report(env, "huanglei", "电子票据开不出来了")
    assert "onsite" not in clocks(env, number)
    assert clocks(env, number)["response"].due_at == at("2026-11-23 21:00")  # 非工作期间 1 h
    env.clock.advance(minutes=30)
    change(env, number, service.record_event, "onsite_requested")
    assert clocks(env, number)["onsite"].due_at == at("2026-11-23 22:00")  # 2 h from the report
    env.clock.advance(hours=1)
    change(env, number, service.record_event, "onsite_arrival")
    onsite = clocks(env, number)["onsite"]
    assert onsite.state == "stopped" and not onsite.breached


def test_hospital_closure_moves_a_working_day_deadline(env: Env) -> None:
    number = report(env, "zhaomin", "挂号系统打不开", "1")  # urgent: 1 working day → Tue 11/24 18:00
    assert clocks(env, number)["resolution"].due_at == at("2026-11-24 18:00")
    with env.db.session() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        set_hospital_day(session, ticket.hospital_id, date(2026, 11, 24), False, "全院停电检修", env.clock())
        assert recompute_open(session, env.clock(), hospital_id=ticket.hospital_id, reason="calendar_edited") == 1
    assert clocks(env, number)["resolution"].due_at == at("2026-11-25 18:00")
    moved = [a for a in actions(env, number) if a.action == "sla.clock_recomputed"]
    assert moved[-1].detail["reason"] == "calendar_edited"


def test_data_change_waits_for_the_hospitals_signature(env: Env) -> None:
    number = report(env, "zhaomin", "收费数据错了需要修改", "收费", "2")  # normal: 5 working days
    change(env, number, service.set_kind, "data")
    change(env, number, service.pause, "waiting_authorisation", note="等待院方授权签字")
    assert clocks(env, number)["resolution"].state == "paused"
    assert clocks(env, number)["response"].state == "running"


def test_evaluation_report_from_stored_tickets(env: Env) -> None:
    late = report(env, "liufang", "DRG系统无法登录", "1")
    env.clock.advance(minutes=90)
    chat(env, "zhangwei", f"接 {late}")
    with env.db.session() as session:
        ticket = session.get(Ticket, late)
        assert ticket is not None
        service.set_cause(session, ticket, "vendor_no_notice", Actor("王强"), env.clock())
        contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
        cr = contract_report(session, contract, date(2026, 11, 1), date(2026, 11, 30), env.clock())
    r = cr.report
    assert r.responses_over == [late] and r.failed[late][0] == "response"
    assert [(i.rule, i.ticket_id, str(i.amount)) for i in r.penalties.items] == [
        ("response_over_1h", late, "440.00"), ("vendor_caused_fault", late, "2200.00")]


def test_a_calendar_edit_reaches_every_open_ticket_only_once(env: Env) -> None:
    first = report(env, "zhaomin", "挂号很慢", "1")
    second = report(env, "liufang", "DRG很慢", "3")
    with env.db.session() as session:
        assert recompute_open(session, env.clock(), reason="calendar_edited") == 2
        rows = session.exec(select(TicketClock).where(col(TicketClock.ticket_id).in_([first, second]))).all()
        assert len(rows) == len({(r.ticket_id, r.name) for r in rows})
