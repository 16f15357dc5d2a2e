"""Contract duties (issue 6): inspections, backup-restore tests, deliverables and acceptances as
dated rows, reminded 7 and 1 days ahead, closed by uploading the report, missed ones counted
in the evaluation report — on pinned clocks (Monday 2026-11-23 09:30 in Shanghai), SQLite and
PostgreSQL.

Every due instant below was worked out by hand from the seed's clause and the rule of
:class:`sla.policy.DutySpec` (the period's last day, 18:00 hospital time), never by running
the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError
from sqlmodel import col, select

from admin.demo import CONTRACTS
from admin.passwords import hash_password
from sla import PRESETS, SlaPolicy, policy_from
from sla.policy import DutySpec
from tests.conftest import Env, FakeClock, live_server, make_env, postgres_database
from tests.helpers import fire_after_a_crash, person
from tickets import duties
from tickets.audit import Actor
from tickets.models import Account, AuditLog, Contract, Duty, DutyStatus, Outbox, Timer, TimerStatus
from tickets.reports import contract_report, report_json

SH = ZoneInfo("Asia/Shanghai")
LIUZHOU = "liuzhou-workers-oa"  # seed 004: quarterly inspection at 1000 元 per miss, acceptance at year end


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def at(*args: int) -> datetime:
    return local(*args).astimezone(UTC)


# -- the rule, per preset, over its demo contract ----------------------------------------------------

def _q(year: int) -> list[tuple[str, str, str]]:
    return [(f"{year}-01-01", f"{year}-03-31", f"{year}-03-31 18:00"),
            (f"{year}-04-01", f"{year}-06-30", f"{year}-06-30 18:00"),
            (f"{year}-07-01", f"{year}-09-30", f"{year}-09-30 18:00"),
            (f"{year}-10-01", f"{year}-12-31", f"{year}-12-31 18:00")]


EXPECTED: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    # 2026-01-01..12-31. 序号9 巡检 每年2次: each half of the service year; 四(一) 服务期每三个月 交付物.
    "wuhan-central-drg": {
        "inspection": [("2026-01-01", "2026-06-30", "2026-06-30 18:00"), ("2026-07-01", "2026-12-31", "2026-12-31 18:00")],
        "deliverables": _q(2026),
    },
    # 2025-12-01..2026-11-30, counted from the service start (合同期内): quarters Dec–Feb, Mar–May, …
    "nanxishan-hemodialysis": {
        "inspection": [("2025-12-01", "2026-02-28", "2026-02-28 18:00"), ("2026-03-01", "2026-05-31", "2026-05-31 18:00"),
                       ("2026-06-01", "2026-08-31", "2026-08-31 18:00"), ("2026-09-01", "2026-11-30", "2026-11-30 18:00")],
        "backup_restore": [("2025-12-01", "2026-05-31", "2026-05-31 18:00"), ("2026-06-01", "2026-11-30", "2026-11-30 18:00")],
    },
    "shanxi-cancer-his": {},  # daily and weekly logs, 定期 visits: no dated duty
    # 2026-07-01..2027-06-30: calendar quarters (每季度); the acceptance at the end of the service year.
    "gdph-einvoice": {
        "inspection": _q(2026)[2:] + _q(2027)[:2],
        "visit": _q(2026)[2:] + _q(2027)[:2],
        "acceptance": [("2026-07-01", "2027-06-30", "2027-06-30 18:00")],
    },
    # 2024-01-01..2026-12-31: every calendar quarter; 每年年底 the acceptance.
    "liuzhou-workers-oa": {
        "inspection": _q(2024) + _q(2025) + _q(2026),
        "acceptance": [("2024-01-01", "2024-12-31", "2024-12-31 18:00"), ("2025-01-01", "2025-12-31", "2025-12-31 18:00"),
                       ("2026-01-01", "2026-12-31", "2026-12-31 18:00")],
    },
}


@pytest.mark.parametrize("seed", CONTRACTS, ids=lambda s: s.key)
def test_each_presets_duties_fall_due_at_the_end_of_their_periods(seed) -> None:  # type: ignore[no-untyped-def]
    policy = PRESETS[seed.key]
    since = local(seed.starts_on.year, seed.starts_on.month, seed.starts_on.day)
    found = {d.key: [(p.start.isoformat(), p.end.isoformat(), p.due_at.strftime("%Y-%m-%d %H:%M"))
                     for p in d.periods(seed.starts_on, seed.ends_on, "Asia/Shanghai", since, local(2030, 1, 1))]
             for d in policy.duties}
    assert found == EXPECTED[seed.key]


def test_seed_004_inspection_costs_1000_per_miss_and_cites_its_clauses() -> None:
    inspection = PRESETS[LIUZHOU].duty("inspection")
    assert inspection is not None and inspection.penalty_yuan == Decimal(1000)
    assert "6.2 6.6.1" in inspection.clause and "4.1" in inspection.clause
    assert inspection.remind_days_before == [7, 1] and inspection.closes_with == "巡检报告"
    assert all(d.penalty_yuan is None for key, p in PRESETS.items() if key != LIUZHOU for d in p.duties)


def test_partial_quarters_are_cut_to_the_contract_and_month_ends_are_clamped() -> None:
    quarterly = DutySpec(key="inspection", name="巡检", recurrence="quarterly")
    periods = quarterly.periods(date(2026, 5, 15), date(2027, 5, 14), "Asia/Shanghai", local(2026, 5, 15),
                                local(2030, 1, 1))
    assert [(p.start.isoformat(), p.end.isoformat(), p.due_at.strftime("%m-%d %H:%M")) for p in periods] == [
        ("2026-05-15", "2026-06-30", "06-30 18:00"), ("2026-07-01", "2026-09-30", "09-30 18:00"),
        ("2026-10-01", "2026-12-31", "12-31 18:00"), ("2027-01-01", "2027-03-31", "03-31 18:00"),
        ("2027-04-01", "2027-05-14", "05-14 18:00")]
    # From 01-31, month by month: 02-28 is one month on, 03-31 two; 5 days' grace, due at 17:30.
    monthly = DutySpec(key="report", name="月报", recurrence="monthly", anchor="contract", due_offset_days=5,
                       due_time="17:30")
    periods = monthly.periods(date(2026, 1, 31), None, "Asia/Shanghai", local(2026, 1, 31), local(2026, 5, 10))
    assert [(p.start.isoformat(), p.end.isoformat(), p.due_at.strftime("%m-%d %H:%M")) for p in periods] == [
        ("2026-01-31", "2026-02-27", "03-04 17:30"), ("2026-02-28", "2026-03-30", "04-04 17:30"),
        ("2026-03-31", "2026-04-29", "05-04 17:30")]
    # Periods that fell due before scheduling are not invented: from 2026-11-23 on, only Q4 remains.
    liuzhou = PRESETS[LIUZHOU].duty("inspection")
    assert liuzhou is not None
    assert [p.start.isoformat() for p in liuzhou.periods(date(2024, 1, 1), date(2026, 12, 31), "Asia/Shanghai",
                                                          local(2026, 11, 23, 9, 30), local(2030, 1, 1))] == ["2026-10-01"]


def test_documents_without_duties_still_load_and_bad_duties_are_refused() -> None:
    old = PRESETS["shanxi-cancer-his"].model_dump(mode="json")
    old.pop("duties")
    assert policy_from(old).duties == []
    base = PRESETS[LIUZHOU].model_dump(mode="json")
    for bad in ({"key": "x", "name": "巡检", "recurrence": "weekly"},
                {"key": "x", "name": "巡检", "recurrence": "quarterly", "due_time": "25:00"},
                {"key": "x", "name": "巡检", "recurrence": "quarterly", "remind_days_before": [0]},
                {"key": "Bad Key", "name": "巡检", "recurrence": "quarterly"}):
        with pytest.raises(ValidationError):
            SlaPolicy.model_validate({**base, "duties": [bad]})
    with pytest.raises(ValidationError, match="duplicate duty keys"):
        SlaPolicy.model_validate({**base, "duties": [base["duties"][0], base["duties"][0]]})


# -- through the product ---------------------------------------------------------------------------

def _only(env: Env, key: str, **changes: object) -> None:
    """Keep one demo contract active (the others' duties would fill every message), changed as given."""
    with env.db.session() as session:
        for contract in session.exec(select(Contract)):
            contract.active = contract.key == key
            if contract.key == key:
                for name, value in changes.items():
                    setattr(contract, name, value)
            session.add(contract)


def _schedule(env: Env) -> int:
    with env.db.session() as session:
        return duties.schedule_all(session, env.clock())


def _duties(env: Env) -> list[Duty]:
    with env.db.session() as session:
        return list(session.exec(select(Duty).order_by(col(Duty.due_at), col(Duty.key))).all())


def _duty(env: Env, key: str, start: str) -> Duty:
    return next(d for d in _duties(env) if d.key == key and d.period_start.isoformat() == start)


def _timers(env: Env, duty: Duty) -> dict[str, tuple[str, str]]:
    """point → (status, due in Shanghai)."""
    with env.db.session() as session:
        rows = session.exec(select(Timer).where(col(Timer.key).startswith(f"duty:{duty.id}:")))
        return {t.key.rsplit(":", 1)[1]: (t.status, t.due_at.astimezone(SH).strftime("%m-%d %H:%M")) for t in rows}


def _last_outbox_id(env: Env) -> int:
    with env.db.session() as session:
        return max([r.id or 0 for r in session.exec(select(Outbox))] or [0])


def _said(env: Env, since: int) -> list[tuple[str, str]]:
    with env.db.session() as session:
        rows = session.exec(select(Outbox).where(col(Outbox.id) > since).order_by(col(Outbox.id)))
        return [(r.recipient, r.text) for r in rows]


def _report(env: Env, start: date, end: date) -> dict[str, object]:
    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == LIUZHOU)).one()
        return report_json(contract_report(session, contract, start, end, env.clock()))


def _complete(env: Env, duty: Duty, name: str = "巡检报告.pdf", data: bytes = b"%PDF-1.4 report") -> None:
    with env.db.session() as session:
        row = session.get(Duty, duty.id)
        assert row is not None
        duties.complete(session, row, Actor("张伟"), duties.UploadedFile(name, "application/pdf", data), env.clock())


def test_scheduling_is_idempotent_and_keeps_the_past_out(env: Env) -> None:
    added = _schedule(env)
    assert _schedule(env) == 0 and len(_duties(env)) == added
    liuzhou = [d for d in _duties(env) if d.contract_id == 5]
    assert [(duties.title(d), d.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M"), d.status) for d in liuzhou] == [
        ("2026年度验收", "2026-12-31 18:00", "pending"), ("2026年第4季度巡检", "2026-12-31 18:00", "pending")]
    nanxishan = [duties.title(d) for d in _duties(env) if d.contract_id == 2]
    assert nanxishan == ["备份恢复测试（2026-06-01至2026-11-30）", "巡检（2026-09-01至2026-11-30）"]
    assert _timers(env, liuzhou[1]) == {"7d": ("pending", "12-24 18:00"), "1d": ("pending", "12-30 18:00"),
                                        "missed": ("pending", "12-31 18:00")}


def test_reminders_fire_7_and_1_days_ahead_and_a_miss_counts_1000_yuan_in_the_report(env: Env) -> None:
    clock = env.clock
    _only(env, LIUZHOU)
    assert _schedule(env) == 2
    manager = str(person(env, "wangqiang").id)
    mark = _last_outbox_id(env)

    clock.now = at(2026, 12, 24, 17, 59)
    assert env.runtime.fire_due_timers() == 0  # a minute early: nothing
    clock.now = at(2026, 12, 24, 18, 0)
    assert env.runtime.fire_due_timers() == 2
    seven = ("📋 柳州市工人医院 2026年度验收 将于 12月31日 18:00 到期（剩余 7 天），完成后请在管理后台上传双方签章的验收单\n"
             "📋 柳州市工人医院 2026年第4季度巡检 将于 12月31日 18:00 到期（剩余 7 天），完成后请在管理后台上传巡检报告")
    assert _said(env, mark) == [("engineers", seven), (manager, seven)]
    mark = _last_outbox_id(env)

    clock.now = at(2026, 12, 30, 17, 59)
    assert env.runtime.fire_due_timers() == 0
    clock.now = at(2026, 12, 30, 18, 0)
    assert env.runtime.fire_due_timers() == 2
    said = _said(env, mark)
    assert [to for to, _ in said] == ["engineers", manager]
    assert said[0][1].splitlines()[1] == ("📋 柳州市工人医院 2026年第4季度巡检 将于 明天 18:00 到期（剩余 1 天），"
                                         "完成后请在管理后台上传巡检报告")
    mark = _last_outbox_id(env)

    clock.now = at(2026, 12, 31, 18, 0)
    assert env.runtime.fire_due_timers() == 2
    missed = ("🔴 合同义务逾期：柳州市工人医院 2026年度验收 已于 今天 18:00 到期，未上传双方签章的验收单。请尽快补做并在管理后台上传\n"
              "🔴 合同义务逾期：柳州市工人医院 2026年第4季度巡检 已于 今天 18:00 到期，未上传巡检报告，按合同计违约金 1,000 元。"
              "请尽快补做并在管理后台上传")
    assert _said(env, mark) == [("engineers", missed), (manager, missed)]
    clock.now = at(2027, 3, 31, 18, 0)
    assert env.runtime.fire_due_timers() == 0  # each fired once; the contract ended 2026-12-31: nothing next
    assert [d.status for d in _duties(env)] == [DutyStatus.MISSED, DutyStatus.MISSED]

    q4 = _report(env, date(2026, 10, 1), date(2026, 12, 31))["duties"]
    assert isinstance(q4, dict)
    assert (q4["count"], q4["total_yuan"], q4["without_amount"], q4["penalties_with_duties_yuan"]) == (
        2, "1000.00", 1, "1000.00")
    assert [(m["title"], m["due_local"], m["penalty_yuan"]) for m in q4["missed"]] == [
        ("2026年度验收", "2026-12-31 18:00", None), ("2026年第4季度巡检", "2026-12-31 18:00", "1000.00")]
    q3 = _report(env, date(2026, 7, 1), date(2026, 9, 30))["duties"]
    assert isinstance(q3, dict) and q3["count"] == 0 and q3["total_yuan"] == "0"

    # A report uploaded late closes the duty; the miss stands (seed 004 6.2 6.6.1 按1000元/次).
    _complete(env, _duty(env, "inspection", "2026-10-01"))
    late = _duty(env, "inspection", "2026-10-01")
    assert late.status == DutyStatus.DONE and late.missed_at is not None
    q4 = _report(env, date(2026, 10, 1), date(2026, 12, 31))["duties"]
    assert isinstance(q4, dict) and q4["total_yuan"] == "1000.00"
    assert [m["late_report"] for m in q4["missed"]] == [False, True]
    with env.db.session() as session:
        actions = session.exec(select(AuditLog.action).where(col(AuditLog.action).startswith("duty."))).all()
    assert sorted(actions) == ["duty.completed", "duty.missed", "duty.missed"]

    with logged_in(env) as client:
        page = client.get(f"/admin/reports/evaluation?contract={LIUZHOU}&from=2026-10-01&to=2026-12-31")
        assert page.status_code == 200
        assert re.search(r'id="penalty-total">1,000\.00 元<', page.text)
        assert "5. 合同义务：逾期未完成（2 项）" in text_of(page.text)
        assert "2026年第4季度巡检 2026-10-01 至 2026-12-31 2026-12-31 18:00 已补交 1,000.00 元" in text_of(page.text)


def test_an_upload_closes_the_duty_and_cancels_its_reminders(env: Env) -> None:
    _only(env, LIUZHOU)
    _schedule(env)
    inspection = _duty(env, "inspection", "2026-10-01")
    report = "2026年第4季度巡检报告.pdf".encode()  # the file's name, reused as its bytes
    with logged_in(env) as client:
        page = client.get(f"/admin/contracts/{LIUZHOU}/duties")
        assert page.status_code == 200
        assert row_text(page.text, inspection.id) == ("2026年第4季度巡检 2026-10-01 至 2026-12-31 2026-12-31 18:00 待完成 "
                                                      "剩余 38 天 8 小时 上传巡检报告（最大 20 MB） 说明 上传 — "
                                                      "seed 004 4.1、4.3 每季度一次巡检，形成巡检报告；6.2 6.6.1 未完成按1000元/次")
        assert f'href="/admin/contracts/{LIUZHOU}/duties"' in client.get(f"/admin/contracts/{LIUZHOU}").text

        empty = client.post(f"/admin/contracts/{LIUZHOU}/duties/{inspection.id}/report",
                            files={"file": ("空.pdf", b"", "application/pdf")})
        assert empty.status_code == 400 and "上传的文件是空的" in empty.text
        done = client.post(f"/admin/contracts/{LIUZHOU}/duties/{inspection.id}/report",
                           files={"file": ("C:\\报告\\2026Q4巡检报告.pdf", report, "application/pdf")},
                           data={"note": "现场巡检，服务器运行正常"})
        assert done.status_code == 200
        assert "已上传「2026年第4季度巡检」的报告，该项义务已完成。" in done.text
        assert "已完成 — 2026Q4巡检报告.pdf" in row_text(done.text, inspection.id)
        download = client.get(f"/admin/contracts/{LIUZHOU}/duties/{inspection.id}/report")
        assert download.status_code == 200 and download.content == report
        assert download.headers["content-disposition"].startswith("attachment;")
        assert "2026Q4" in download.headers["content-disposition"]

    closed = _duty(env, "inspection", "2026-10-01")
    assert (closed.status, closed.done_by, closed.report_filename, closed.note) == (
        DutyStatus.DONE, "admin", "2026Q4巡检报告.pdf", "现场巡检，服务器运行正常")
    assert {status for status, _ in _timers(env, closed).values()} == {TimerStatus.CANCELLED}
    with env.db.session() as session:
        entry = session.exec(select(AuditLog).where(AuditLog.action == "duty.completed")).one()
    assert entry.actor == "admin" and entry.detail["filename"] == "2026Q4巡检报告.pdf" and entry.detail["late"] is False

    env.clock.now = at(2026, 12, 31, 18, 0)
    assert env.runtime.fire_due_timers() == 3  # the acceptance's miss; its 7 d and 1 d, late, are cancelled
    assert [d.status for d in _duties(env)] == [DutyStatus.MISSED, DutyStatus.DONE]
    q4 = _report(env, date(2026, 10, 1), date(2026, 12, 31))["duties"]
    assert isinstance(q4, dict) and (q4["count"], q4["total_yuan"]) == (1, "0")


def test_hospital_accounts_read_their_own_duties_and_cannot_upload(env: Env) -> None:
    _schedule(env)
    with env.db.session() as session:
        session.add(Account(username="wugang", password_hash=hash_password("pass-wugang"),
                            person_id=person(env, "wugang").id, created_at=env.clock()))
    wuhan = next(d for d in _duties(env) if d.contract_id == 1)
    with logged_in(env, "wugang", "pass-wugang") as client:
        own = client.get("/admin/contracts/wuhan-central-drg/duties")
        assert own.status_code == 200 and "2026年第4季度项目交付物" in own.text and "<form" not in own.text.split(
            '<table class="duties">')[1]
        assert client.get(f"/admin/contracts/{LIUZHOU}/duties").status_code == 404
        refused = client.post(f"/admin/contracts/wuhan-central-drg/duties/{wuhan.id}/report",
                              files={"file": ("x.pdf", b"x", "application/pdf")})
        assert refused.status_code == 403 and "只有维保服务方的人员可以上传报告" in refused.text
    assert _duty(env, wuhan.key, wuhan.period_start.isoformat()).status == DutyStatus.PENDING


def test_completing_schedules_the_next_period_and_a_policy_change_moves_or_withdraws_pending_duties(
        env: Env) -> None:
    _only(env, LIUZHOU, ends_on=None)  # an open-ended contract: duties up to 400 days ahead
    _schedule(env)
    assert [duties.title(d) for d in _duties(env)] == [
        "2026年度验收", "2026年第4季度巡检", "2027年第1季度巡检", "2027年第2季度巡检", "2027年第3季度巡检"]
    env.clock.now = at(2026, 12, 28, 10, 0)
    _complete(env, _duty(env, "inspection", "2026-10-01"))  # tops up to 2028-02-01
    assert [duties.title(d) for d in _duties(env)][-2:] == ["2027年度验收", "2027年第4季度巡检"]

    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == LIUZHOU)).one()
        policy = policy_from(contract.sla_policy).model_copy(deep=True)
        policy.duties = [d.model_copy(update={"due_offset_days": -5}) for d in policy.duties if d.key == "inspection"]
        contract.sla_policy = policy.model_dump(mode="json")
        session.add(contract)
        duties.schedule(session, contract, env.clock())
    assert [(duties.title(d), d.status, d.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M")) for d in _duties(env)] == [
        ("2026年第4季度巡检", "done", "2026-12-31 18:00"),  # the record stays as it was
        ("2027年第1季度巡检", "pending", "2027-03-26 18:00"), ("2027年第2季度巡检", "pending", "2027-06-25 18:00"),
        ("2027年第3季度巡检", "pending", "2027-09-25 18:00"), ("2027年第4季度巡检", "pending", "2027-12-26 18:00")]
    assert _timers(env, _duty(env, "inspection", "2027-01-01")) == {
        "7d": ("pending", "03-19 18:00"), "1d": ("pending", "03-25 18:00"), "missed": ("pending", "03-26 18:00")}
    with env.db.session() as session:  # once more, the earliest pending duty moving earlier than it was due
        contract = session.exec(select(Contract).where(Contract.key == LIUZHOU)).one()
        policy = policy_from(contract.sla_policy).model_copy(deep=True)
        policy.duties = [d.model_copy(update={"due_offset_days": -10}) for d in policy.duties]
        contract.sla_policy = policy.model_dump(mode="json")
        session.add(contract)
        duties.schedule(session, contract, env.clock())
    assert [d.due_at.astimezone(SH).strftime("%m-%d") for d in _duties(env)] == [
        "12-31", "03-21", "06-20", "09-20", "12-21"]
    with env.db.session() as session:  # the withdrawn acceptances took their timers with them
        waiting = session.exec(select(Timer).where(Timer.kind == duties.DUTY, Timer.status == TimerStatus.PENDING)).all()
    assert {duties.duty_id_of(t) for t in waiting} == {d.id for d in _duties(env) if d.status == "pending"}


# -- several workers -------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_three_workers_fire_each_duty_timer_exactly_once(tmp_path: Path) -> None:
    """Twenty monthly duties on five open-ended contracts; at 2027-01-24 18:00 each has fallen due twice
    and is reminded of the third: 7 timers apiece, fired (or, late reminders, cancelled) once, while each
    pass tops the contracts up concurrently."""
    with postgres_database() as url:
        clock = FakeClock(local(2026, 11, 23, 9, 30).astimezone(UTC))
        env = make_env(tmp_path, url, clock)
        try:
            with env.db.session() as session:
                for contract in session.exec(select(Contract)):
                    policy = policy_from(contract.sla_policy).model_copy(deep=True)
                    policy.duties = [DutySpec(key=f"monthly_{n}", name=f"月度检查{n}", recurrence="monthly",
                                              closes_with="检查记录") for n in range(4)]
                    contract.sla_policy, contract.ends_on = policy.model_dump(mode="json"), None
                    session.add(contract)
            _schedule(env)
            clock.now = at(2027, 1, 24, 18, 0)
            with env.db.session() as session:
                due = len(session.exec(select(Timer).where(Timer.status == TimerStatus.PENDING,
                                                           col(Timer.due_at) <= clock())).all())
            assert due == 20 * 7

            fired, errors = fire_after_a_crash(env, clock())
            assert errors == [] and fired == due
            with env.db.session() as session:
                done = session.exec(select(Timer).where(col(Timer.due_at) <= clock())).all()
                said = [line for r in session.exec(select(Outbox).where(Outbox.recipient == "engineers"))
                        for line in r.text.splitlines()]
                statuses = [d.status for d in session.exec(select(Duty).where(col(Duty.due_at) <= clock()))]
            assert len(done) == due and all(t.status != TimerStatus.PENDING for t in done)
            assert len(said) == sum(1 for t in done if t.status == TimerStatus.FIRED)
            assert sum(1 for line in said if line.startswith("🔴")) == 40 == statuses.count(DutyStatus.MISSED)
            assert sum(1 for line in said if "剩余 7 天" in line) == 20  # the January ones, on time
            assert _schedule(env) == 0  # the concurrent top-ups left nothing out and nothing twice
        finally:
            env.db.dispose()


# -- helpers for the admin pages ------------------------------------------------------------------------

@contextmanager
def logged_in(env: Env, username: str = "admin", password: str | None = None) -> Iterator[httpx.Client]:
    with live_server(env) as server, httpx.Client(base_url=server.base_url, follow_redirects=True) as client:
        ok = client.post("/admin/login", data={"username": username, "password": password or env.admin_password})
        assert ok.status_code == 200, ok.text
        yield client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S))).strip()


def row_text(html: str, duty_id: int | None) -> str:
    found = re.findall(rf'<tr id="duty-{duty_id}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert len(found) == 1
    return text_of(found[0])
