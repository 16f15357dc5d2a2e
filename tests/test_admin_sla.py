"""The admin panel's SLA pages — a ticket's clocks, the holiday calendar, the
contracts and the evaluation report — over HTTP against the real app, on SQLite
and PostgreSQL, with the pinned clock (Monday 2026-11-23 09:30 in Shanghai).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select

from admin.passwords import hash_password
from tests.conftest import Env, live_server
from tests.helpers import chat, person, tickets
from tickets import service
from tickets.audit import Actor
from tickets.models import Account, AuditLog, CalendarYear, HospitalDay, StatutoryDay, Ticket, TicketClock

SH = ZoneInfo("Asia/Shanghai")
FAULT = "挂号系统打不开，无法挂号"  # 山西省肿瘤医院: a working-day resolution clock
DRG_FAULT = "DRG系统登录后白屏"  # 武汉市中心医院: 7×24 clocks, the seed-000 report
MISSING_2027 = "2027 年节假日安排尚未录入：落在该年的截止时间按周一至周五计算并标记为未确认"


@contextmanager
def logged_in(env: Env, username: str = "admin", password: str | None = None) -> Iterator[httpx.Client]:
    with live_server(env) as server, httpx.Client(base_url=server.base_url, follow_redirects=True) as client:
        ok = client.post("/admin/login", data={"username": username, "password": password or env.admin_password})
        assert ok.status_code == 200, ok.text
        yield client


def add_account(env: Env, username: str, wecom_userid: str | None, *, is_admin: bool = False) -> None:
    person_id = person(env, wecom_userid).id if wecom_userid else None
    with env.db.session() as session:
        session.add(Account(username=username, password_hash=hash_password("pass-" + username), person_id=person_id,
                            is_admin=is_admin, created_at=env.clock()))


def text_of(html: str) -> str:
    """The page's words, tags removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S)))


def row(html: str, attribute: str) -> str:
    """The text of the one table row carrying ``attribute`` (e.g. ``data-clock="response"``)."""
    found = re.findall(rf"<tr[^>]*{re.escape(attribute)}[^>]*>(.*?)</tr>", html, flags=re.S)
    assert len(found) == 1, f"{attribute}: {len(found)} rows"
    return text_of(found[0])


def table(html: str, css_class: str) -> str:
    found = re.search(rf'<table class="{css_class}"[^>]*>(.*?)</table>', html, flags=re.S)
    assert found, f"no table.{css_class}"
    return found.group(1)


def clock_of(env: Env, ticket_id: int, name: str) -> TicketClock:
    with env.db.session() as session:
        return session.exec(select(TicketClock).where(TicketClock.ticket_id == ticket_id,
                                                      TicketClock.name == name)).one()


def local(instant: datetime | None) -> datetime:
    assert instant is not None
    return instant.astimezone(SH).replace(tzinfo=None)


def audits(env: Env, action: str) -> list[AuditLog]:
    with env.db.session() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))))


# -- the holiday calendar -------------------------------------------------------------------------

def test_calendar_lists_confirmed_years_and_warns_about_next_year_until_it_is_entered(env: Env) -> None:
    with logged_in(env) as client:
        page = client.get("/admin/calendar")
        assert page.status_code == 200
        years = table(page.text, "years")
        assert "已确认" in row(years, 'data-year="2026"') and "chinesecalendar" in row(years, 'data-year="2026"')
        assert "未录入" in row(years, 'data-year="2027"')
        assert MISSING_2027 in text_of(page.text)
        assert "2026 年节假日安排尚未录入" not in page.text
        days = text_of(table(page.text, "statutory"))  # this year's days by default
        assert "2026-10-01 周四 放假 国庆节" in days and "2026-02-14 周六 上班" in days

        # The State Council's notice is out: an admin enters a day of 2027 and confirms the year.
        set_day = client.post("/admin/calendar/statutory",
                              data={"day": "2027-01-01", "kind": "holiday", "name": "元旦"})
        assert set_day.status_code == 200 and str(set_day.url).endswith("/admin/calendar?year=2027")
        assert "2027-01-01 已设为放假；已重算 0 张未结工单的时钟" in text_of(set_day.text)
        assert "2027-01-01 周五 放假 元旦 web:admin" in text_of(table(set_day.text, "statutory"))
        confirmed = client.post("/admin/calendar/confirm", data={"year": "2027"})
        assert confirmed.status_code == 200
        assert "2027 年节假日已确认" in confirmed.text
        assert MISSING_2027 not in text_of(confirmed.text)
        assert "已确认" in row(table(confirmed.text, "years"), 'data-year="2027"')

    with env.db.session() as session:
        assert session.get(StatutoryDay, datetime(2027, 1, 1).date()).source == "web:admin"  # type: ignore[union-attr]
        assert session.get(CalendarYear, 2027).source == "web:admin"  # type: ignore[union-attr]
    [statutory] = audits(env, "calendar.statutory_set")
    assert statutory.actor == "admin" and statutory.detail == {"day": "2027-01-01", "is_workday": False,
                                                               "name": "元旦"}
    assert [a.detail for a in audits(env, "calendar.year_confirmed")] == [{"year": 2027}]


def test_a_hospital_closure_moves_the_open_tickets_deadline_and_removing_it_moves_it_back(env: Env) -> None:
    chat(env, "zhaomin", FAULT)  # #1 山西省肿瘤医院, urgent: 1 working day → Tuesday 18:00
    chat(env, "liufang", DRG_FAULT)  # #2 another hospital: not recomputed by its closure
    number = next(t.id for t in tickets(env) if t.summary.startswith("挂号"))
    assert number is not None
    before = clock_of(env, number, "resolution")
    assert before.calendar == "working_days" and local(before.due_at) == datetime(2026, 11, 24, 18, 0)
    with env.db.session() as session:
        hospital_id = session.get(Ticket, number).hospital_id  # type: ignore[union-attr]

    with logged_in(env) as client:
        closed = client.post("/admin/calendar/hospital", data={"hospital": str(hospital_id), "day": "2026-11-24",
                                                               "kind": "closed", "note": "院庆停诊"})
        assert closed.status_code == 200
        assert "山西省肿瘤医院 2026-11-24 闭院（放假）；已重算 1 张未结工单的时钟" in text_of(closed.text)
        assert "2026-11-24 周二 闭院（放假） 院庆停诊" in text_of(table(closed.text, "hospital-days\" data-hospital=\"shanxi-cancer"))
        assert local(clock_of(env, number, "resolution").due_at) == datetime(2026, 11, 25, 18, 0)
        assert "2026-11-25 18:00:00" in row(client.get(f"/admin/tickets/{number}").text, 'data-clock="resolution"')

        cleared = client.post("/admin/calendar/hospital", data={"hospital": str(hospital_id), "day": "2026-11-24",
                                                                "kind": "clear"})
        assert "恢复按法定日历；已重算 1 张未结工单的时钟" in text_of(cleared.text)
        assert local(clock_of(env, number, "resolution").due_at) == datetime(2026, 11, 24, 18, 0)

        again = client.post("/admin/calendar/hospital", data={"hospital": str(hospital_id), "day": "2026-11-24",
                                                              "kind": "clear"})
        assert again.status_code == 400 and "没有设置例外日" in again.text

    edits = audits(env, "calendar.hospital_day_set")
    assert [(a.actor, a.detail["day"], a.detail["is_workday"]) for a in edits] == [
        ("admin", "2026-11-24", False), ("admin", "2026-11-24", None)]
    moved = [a for a in audits(env, "sla.clock_recomputed") if a.ticket_id == number]
    assert [a.detail["reason"] for a in moved] == ["calendar_edited", "calendar_edited"]
    assert not [a for a in audits(env, "sla.clock_recomputed") if a.ticket_id != number]


def test_calendar_edits_refuse_bad_input_in_chinese_and_change_nothing(env: Env) -> None:
    with logged_in(env) as client:
        cases = [
            ("/admin/calendar/statutory", {"day": "2027-13-01", "kind": "holiday"}, "日期格式不对"),
            ("/admin/calendar/statutory", {"day": "", "kind": "holiday"}, "请填写日期"),
            ("/admin/calendar/statutory", {"day": "2027-01-01", "kind": "maybe"}, "请选择这一天是「放假」还是「上班」"),
            ("/admin/calendar/statutory", {"day": "2027-01-01", "kind": "holiday", "name": "节" * 101}, "名称太长"),
            ("/admin/calendar/statutory", {"day": "1899-01-01", "kind": "holiday"}, "超出范围"),
            ("/admin/calendar/confirm", {"year": "2027"}, "2027 年还没有录入任何放假或调休上班日"),
            ("/admin/calendar/confirm", {"year": "2026"}, "2026 年的节假日已确认过"),
            ("/admin/calendar/confirm", {"year": "next"}, "年份格式不对"),
            ("/admin/calendar/hospital", {"hospital": "999", "day": "2026-12-01", "kind": "closed"}, "请选择医院"),
            ("/admin/calendar/hospital", {"hospital": "1", "day": "2026/12/01", "kind": "closed"}, "日期格式不对"),
        ]
        for url, data, message in cases:
            answer = client.post(url, data=data)
            assert answer.status_code == 400, (url, data, answer.status_code)
            assert message in text_of(answer.text), (url, data)
        assert client.get("/admin/calendar?year=abc").status_code == 400
    with env.db.session() as session:
        assert session.exec(select(HospitalDay)).first() is None
        assert session.get(CalendarYear, 2027) is None
        assert session.exec(select(StatutoryDay).where(col(StatutoryDay.day) >= datetime(2027, 1, 1).date())
                            ).first() is None
    assert not [a for a in audits(env, "calendar.statutory_set") + audits(env, "calendar.year_confirmed")]


def test_only_admins_edit_the_calendar_and_hospital_accounts_see_their_own_hospital(env: Env) -> None:
    chat(env, "zhaomin", FAULT)
    add_account(env, "wugang", "wugang")  # 武汉市中心医院's own IT: sees that hospital only
    add_account(env, "lina", "lina")  # the vendor's engineer, not an admin
    posts = [
        ("/admin/calendar/statutory", {"day": "2027-01-01", "kind": "holiday", "name": "元旦"}),
        ("/admin/calendar/confirm", {"year": "2026"}),
        ("/admin/calendar/hospital", {"hospital": "3", "day": "2026-11-24", "kind": "closed"}),
    ]
    for username in ("wugang", "lina"):
        with logged_in(env, username, "pass-" + username) as client:
            page = client.get("/admin/calendar")
            assert page.status_code == 200 and "2026-10-01" in page.text
            assert 'action="/admin/calendar/statutory"' not in page.text  # no edit forms
            for url, data in posts:
                refused = client.post(url, data=data)
                assert refused.status_code == 403, (username, url)
                assert "只有管理员可以修改节假日" in refused.text
            hospitals = re.findall(r'data-hospital="([^"]+)"', page.text)
            if username == "wugang":
                assert hospitals == ["wuhan-central"]
                assert client.get("/admin/contracts/shanxi-cancer-his").status_code == 404
                assert "shanxi-cancer-his" not in client.get("/admin/contracts").text
                assert client.get("/admin/reports/evaluation?contract=shanxi-cancer-his").status_code == 404
            else:
                assert len(hospitals) == 5
    with env.db.session() as session:
        assert session.exec(select(HospitalDay)).first() is None
        assert session.get(StatutoryDay, datetime(2027, 1, 1).date()) is None
    assert local(clock_of(env, 1, "resolution").due_at) == datetime(2026, 11, 24, 18, 0)
    assert not audits(env, "calendar.hospital_day_set") and not audits(env, "calendar.statutory_set")


# -- a ticket's clocks ----------------------------------------------------------------------------

def test_ticket_page_shows_each_clock_with_its_due_time_state_and_clause(env: Env) -> None:
    chat(env, "zhaomin", FAULT)
    env.clock.advance(minutes=40)  # the 30-minute response clock is now overdue
    with env.db.session() as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        service.record_event(session, ticket, "onsite_requested", Actor("张伟"), env.clock(), note="需到门诊收费处")
        service.pause(session, ticket, "waiting_authorisation", Actor("张伟"), env.clock(), note="等待信息科签字")

    with logged_in(env) as client:
        page = client.get("/admin/tickets/1")
        assert page.status_code == 200
        assert FAULT in page.text  # the existing content stays
        response = row(page.text, 'data-clock="response"')
        assert "响应" in response and "7×24小时" in response and "30分钟" in response
        assert "2026-11-23 10:00:00" in response and "计时中" in response and "超时" in response
        assert "seed 002 一.1 30分钟内给予及时响应" in response
        assert re.search(r'<tr class="clock-response breached"', page.text)
        resolution = row(page.text, 'data-clock="resolution"')
        assert "工作日" in resolution and "已暂停" in resolution and "超时" not in resolution
        assert "seed 002 二.2 2.1 紧急事件1个工作日内解决" in resolution
        assert "未确认" not in response + resolution
        pauses = text_of(table(page.text, "pauses"))
        assert "等待医院授权签字" in pauses and "2026-11-23 10:10:00" in pauses and "暂停中" in pauses
        assert "等待信息科签字" in pauses
        events = text_of(table(page.text, "events"))
        assert "提出现场服务要求" in events and "张伟" in events and "需到门诊收费处" in events

        with env.db.session() as session:
            ticket = session.get(Ticket, 1)
            assert ticket is not None
            service.resume(session, ticket, Actor("张伟"), env.clock.advance(hours=2))
        resumed = row(client.get("/admin/tickets/1").text, 'data-clock="resolution"')
        # Working days count whole days: two paused hours within the day leave the deadline where it was.
        assert "计时中" in resumed and "2026-11-24 18:00:00" in resumed
        pauses = text_of(table(client.get("/admin/tickets/1").text, "pauses"))
        assert "2026-11-23 12:10:00" in pauses and "2小时" in pauses


def test_a_deadline_in_a_year_without_holiday_data_is_marked_unconfirmed(env: Env) -> None:
    env.clock.now = datetime(2026, 12, 31, 1, 30, tzinfo=UTC)  # Thursday 09:30: 1 working day reaches 2027
    chat(env, "sunli", "护理系统打不开，护理记录无法保存")
    [ticket] = tickets(env)
    with logged_in(env) as client:
        page = client.get(f"/admin/tickets/{ticket.id}")
        resolution = row(page.text, 'data-clock="resolution"')
        assert "未确认" in resolution and "2027-01-01 18:00:00" in resolution
        assert "未确认" not in row(page.text, 'data-clock="response"')


def test_a_ticket_of_another_hospital_is_not_shown_to_a_hospital_account(env: Env) -> None:
    chat(env, "zhaomin", FAULT)
    add_account(env, "wugang", "wugang")
    with logged_in(env, "wugang", "pass-wugang") as client:
        assert client.get("/admin/tickets/1").status_code == 404


# -- contracts ------------------------------------------------------------------------------------

def test_contract_pages_show_the_sla_table_penalties_readings_and_working_hours(env: Env) -> None:
    with logged_in(env) as client:
        listing = client.get("/admin/contracts")
        assert listing.status_code == 200
        for key in ("wuhan-central-drg", "nanxishan-hemodialysis", "shanxi-cancer-his", "gdph-einvoice",
                    "liuzhou-workers-oa"):
            assert f'href="/admin/contracts/{key}"' in listing.text

        wuhan = client.get("/admin/contracts/wuhan-central-drg")
        assert wuhan.status_code == 200
        sla = text_of(table(wuhan.text, "sla"))
        assert "fatal 致命错误 响应（response） 1小时 7×24小时 首次书面报告 首次人工答复送达报告人 不可暂停" in sla
        assert "seed 000 服务方式 致命错误 响应时间1个小时" in sla
        penalties = text_of(table(wuhan.text, "penalties"))
        assert "响应时间大于1小时" in penalties and "合同金额的 1%" in penalties
        assert "致命错误 5%、严重错误 3%、一般错误 1%" in penalties
        assert "响应时间起点：定义写明“自甲方向乙方发出书面报告错误之时起计”" in wuhan.text  # READINGS
        assert "周一至周五 08:00-18:00" in text_of(wuhan.text)

        gdph = text_of(client.get("/admin/contracts/gdph-einvoice").text)
        assert "合同工作时间 周一至周五 08:00-18:00" in gdph and "本合同没有违约扣款条款" in gdph
        assert "2个工作日 工作日" in gdph
        missing = client.get("/admin/contracts/no-such-contract")
        assert missing.status_code == 404 and "没有找到合同" in missing.text


# -- the evaluation report ------------------------------------------------------------------------

def test_evaluation_report_counts_a_late_response_grades_the_sample_and_sums_penalties(env: Env) -> None:
    chat(env, "liufang", DRG_FAULT)  # #1, 09:30, 致命错误 until answered: 1 hour to respond
    env.clock.advance(minutes=90)
    chat(env, "zhangwei", "接 1")
    chat(env, "zhangwei", "回 1 请清空浏览器缓存后重试")  # 11:00: 90 minutes
    chat(env, "wugang", "DRG分组器报错，无法分组")  # #2, 11:00
    env.clock.advance(minutes=10)
    chat(env, "zhangwei", "接 2")
    chat(env, "zhangwei", "回 2 已收到，正在排查")  # 10 minutes: in time
    chat(env, "chenjing", "透析记录保存失败")  # #3, another contract: not in this report
    assert [t.id for t in tickets(env)] == [1, 2, 3]

    with logged_in(env) as client:
        report = client.get("/admin/reports/evaluation?contract=wuhan-central-drg")
        assert report.status_code == 200
        words = text_of(report.text)
        assert "统计期间 2026-10-01 至 2026-12-31" in words  # the current quarter by default
        over = text_of(table(report.text, "responses-over"))
        assert "#1 致命错误 2026-11-23 09:30:00 2026-11-23 11:00:00 响应 用时 90 分钟" in over
        assert "#2" not in over and "#3" not in words
        assert 'href="/admin/tickets/1"' in table(report.text, "responses-over")
        assert "致命错误 2 #1 、 #2 0 —" in text_of(table(report.text, "faults"))
        assert re.search(r'id="pass-rate">50\.0%<', report.text)
        assert re.search(r'id="grade" class="grade grade-不合格">不合格<', report.text)
        assert "#1 响应" in text_of(table(report.text, "failed"))
        items = text_of(table(report.text, "penalty-items"))
        assert "响应时间大于1小时 #1 响应 响应 用时 90 分钟 440.00 元" in items  # 1% of 44,000
        assert re.search(r'id="penalty-total">440\.00 元<', report.text)

        earlier = client.get("/admin/reports/evaluation?contract=wuhan-central-drg&from=2026-07-01&to=2026-09-30")
        assert earlier.status_code == 200 and "工单 0 张" in text_of(earlier.text)
        assert re.search(r'id="penalty-total">0\.00 元<', earlier.text)

        backwards = client.get("/admin/reports/evaluation?contract=wuhan-central-drg&from=2026-12-01&to=2026-11-01")
        assert backwards.status_code == 400 and "截止日期早于起始日期" in backwards.text
        bad = client.get("/admin/reports/evaluation?contract=wuhan-central-drg&from=2026-02-30")
        assert bad.status_code == 400 and "起始日期格式不对" in bad.text
        assert client.get("/admin/reports/evaluation?contract=nope").status_code == 404
