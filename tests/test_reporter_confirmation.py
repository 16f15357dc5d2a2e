"""The reporter's side of the loop (issue 6; seed 002 一.1 满意度回访, seed 000 5.其他要求(2) 用户评价):
after 解决 N the reporter confirms (1 已解决 / 2 未解决) and rates the service; 未解决 reopens
the ticket and its resolution clock continues; silence closes it after three working days.

The clock is pinned on Wednesday 2026-09-30 10:00 in Shanghai, the day before the
National Day holiday (10-01 … 10-07, with Saturday 10-10 a make-up working day).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.confirm import Reading, read
from tests.conftest import Env, FakeClock
from tests.helpers import chat, group_feed, tickets, transcript
from tests.test_admin_sla import logged_in, table, text_of
from tests.test_email_threading import LIUFANG, Mailroom, env_for, mail, ticket_of
from tickets.models import AuditLog, Contract, Ticket, TicketClock, Timer, TimerStatus
from tickets.reports import contract_report

SH = ZoneInfo("Asia/Shanghai")
FAULT = "DRG系统打不开，全科室无法分组"  # 武汉市中心医院: 7×24 clocks; 致命错误 until answered (2 h to resolve)
CONFIRM = "请确认问题是否已解决：回复 1 已解决，2 未解决"
RATE = "请为本次服务打分：1–5 分（5 分最满意）"


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(sh(2026, 9, 30, 10, 0).astimezone(UTC))


def _open(env: Env, who: str = "liufang", text: str = FAULT) -> int:
    chat(env, who, text)
    return max(t.id or 0 for t in tickets(env))


def _resolve(env: Env, n: int, how: str = "重启分组服务并清理缓存，已恢复") -> None:
    chat(env, "zhangwei", f"解决 {n} {how}")


def _ticket(env: Env, n: int) -> Ticket:
    with env.db.session() as session:
        ticket = session.get(Ticket, n)
        assert ticket is not None
        return ticket


def _autoclose_timers(env: Env, n: int) -> list[Timer]:
    with env.db.session() as session:
        return list(session.exec(select(Timer).where(Timer.ticket_id == n, Timer.kind == "autoclose")
                                 .order_by(col(Timer.id))))


def _clock(env: Env, n: int, name: str) -> TicketClock:
    with env.db.session() as session:
        return session.exec(select(TicketClock).where(TicketClock.ticket_id == n, TicketClock.name == name)).one()


def _actions(env: Env, n: int) -> list[str]:
    with env.db.session() as session:
        return list(session.exec(select(AuditLog.action).where(AuditLog.ticket_id == n).order_by(col(AuditLog.id))))


# -- what the reporter's words answer ------------------------------------------------------------

@pytest.mark.parametrize(("awaiting", "said", "reading"), [
    ("confirm", "1", Reading("yes")),
    ("confirm", "已解决", Reading("yes")),
    ("confirm", "好了，谢谢！", Reading("yes")),
    ("confirm", "2", Reading("no")),
    ("confirm", "还是不行，又白屏了", Reading("no")),
    ("confirm", "未解决", Reading("no")),
    ("confirm", "打印机也坏了", None),  # a new report, not an answer
    ("confirm", "1楼的电脑蓝屏", None),
    ("rate", "5", Reading("score", 5)),
    ("rate", "5分", Reading("score", 5)),
    ("rate", "5 分", Reading("score", 5)),
    ("rate", "五星", Reading("score", 5)),
    ("rate", "满意", Reading("score", 4)),
    ("rate", "非常满意", Reading("score", 5)),
    ("rate", "4分，响应很快", Reading("score", 4, "响应很快")),
    ("rate", "谢谢", Reading("thanks")),
    ("rate", "3楼的电脑坏了", None),
    ("rate", "10", None),
])
def test_what_counts_as_an_answer(awaiting: str, said: str, reading: Reading | None) -> None:
    assert read(awaiting, said) == reading


# -- through the web chat ----------------------------------------------------------------------

def test_confirmed_closes_the_ticket_and_the_score_is_kept(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接 {n}")
    env.clock.advance(minutes=30)
    _resolve(env, n)
    assert transcript(env, "liufang")[-1] == f"【工单 #{n}】已处理：重启分组服务并清理缓存，已恢复\n\n{CONFIRM}"
    assert transcript(env, "zhangwei")[-1] == f"已将 #{n} 标记为已解决，已请报障人确认；3 个工作日内未答复将自动关闭。"
    assert _ticket(env, n).resolved_at == env.clock()

    env.clock.advance(minutes=5)
    chat(env, "liufang", "1")
    ticket = _ticket(env, n)
    assert (ticket.status, ticket.close_reason) == ("closed", "confirmed")
    assert ticket.confirmed_at == ticket.closed_at == env.clock()
    assert transcript(env, "liufang")[-1] == f"好的，工单 #{n} 已确认解决并关闭。\n\n{RATE}"
    assert [t.status for t in _autoclose_timers(env, n)] == [TimerStatus.CANCELLED]

    chat(env, "liufang", "5分 工程师很耐心")
    ticket = _ticket(env, n)
    assert (ticket.rating, ticket.rating_comment) == (5, "工程师很耐心")
    assert transcript(env, "liufang")[-1] == "感谢您的评价！"
    assert transcript(env, "wangqiang") == []  # a good score asks nobody for a call-back
    loop = ("ticket.confirmation_requested", "ticket.closed", "ticket.rated")
    assert [a for a in _actions(env, n) if a in loop] == list(loop)  # each step audited, in order
    assert len(tickets(env)) == 1  # the answers went onto the ticket, no new one
    with logged_in(env) as client:  # the ticket page shows how it closed and the score
        assert "报障人确认 · 评分 5/5（工程师很耐心）" in client.get(f"/admin/tickets/{n}").text


def test_not_solved_reopens_and_the_resolution_clock_runs_on_from_the_report(env: Env) -> None:
    n = _open(env)  # 10:00, 致命错误 until answered: resolution within 2 hours, 7×24
    chat(env, "zhangwei", f"接 {n}")
    env.clock.advance(minutes=30)
    _resolve(env, n)  # 10:30
    resolved = _clock(env, n, "resolution")
    assert resolved.state == "stopped" and resolved.elapsed_seconds == 30 * 60

    env.clock.advance(minutes=30)
    chat(env, "liufang", "2 还是打不开")  # 11:00
    ticket = _ticket(env, n)
    assert ticket.status == "claimed" and ticket.resolved_at is None
    assert transcript(env, "liufang")[-1] == f"收到，工单 #{n} 已重新打开，工程师会继续处理。"
    notice = f"【工单 #{n} 重新打开】心血管内科 刘芳 反馈问题未解决：2 还是打不开\n解决时限继续计时：今天 12:00（还有 1 小时 0 分钟）"
    assert group_feed(env)[-1] == notice
    assert transcript(env, "zhangwei")[-1] == notice  # the assignee, one-to-one
    # Seed 000 致命错误 最长不得超过2个小时: the clock never stopped — the 30 minutes while it
    # was (wrongly) resolved count, and the deadline is still 2 hours from the report.
    running = _clock(env, n, "resolution")
    assert running.state == "running" and running.stopped_at is None
    assert running.due_at == sh(2026, 9, 30, 12, 0) and running.elapsed_seconds == 60 * 60
    with env.db.session() as session:
        keys = [t.key for t in session.exec(select(Timer).where(Timer.ticket_id == n, Timer.kind == "escalate",
                                                               Timer.status == TimerStatus.PENDING))]
    assert any(":resolution:" in k and k.endswith(":breach") for k in keys)  # its escalation is back
    assert [t.status for t in _autoclose_timers(env, n)] == [TimerStatus.CANCELLED]

    chat(env, "liufang", "重启后还是白屏")  # an ordinary follow-up again, on the reopened ticket
    assert group_feed(env)[-1] == f"工单 #{n} 刘芳 补充：重启后还是白屏"
    env.clock.advance(minutes=15)
    _resolve(env, n, "更换分组器证书，已恢复")  # 11:15
    stopped = _clock(env, n, "resolution")
    assert stopped.state == "stopped" and stopped.elapsed_seconds == 75 * 60 and not stopped.breached
    timers = _autoclose_timers(env, n)
    assert [(t.key, t.status) for t in timers] == [(f"ticket:{n}:autoclose:1", TimerStatus.CANCELLED),
                                                   (f"ticket:{n}:autoclose:2", TimerStatus.PENDING)]
    assert "ticket.reopened" in _actions(env, n)


def test_silence_closes_at_close_of_business_of_the_third_working_day_after_the_holiday(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接 {n}")
    env.clock.advance(minutes=30)
    _resolve(env, n)  # Wed 09-30 10:30; 10-01 … 10-07 National Day; Thu 10-08, Fri 10-09, Sat 10-10 (调休)
    (timer,) = _autoclose_timers(env, n)
    deadline = sh(2026, 10, 10, 18, 0)
    assert timer.due_at == deadline

    env.clock.now = (deadline - timedelta(seconds=1)).astimezone(UTC)
    assert env.runtime.fire_due_timers() == 0
    assert _ticket(env, n).status == "resolved"

    env.clock.now = deadline.astimezone(UTC)
    assert env.runtime.fire_due_timers() == 1
    env.runtime.drain_outbox()
    ticket = _ticket(env, n)
    assert (ticket.status, ticket.close_reason, ticket.closed_at) == ("closed", "auto", deadline)
    assert ticket.confirmed_at is None  # nobody confirmed: closed as confirmed by default
    assert transcript(env, "liufang")[-1] == (f"工单 #{n} 已超过 3 个工作日未收到确认，系统已按已解决关闭。"
                                              "如仍有问题请直接回复。")
    assert [t.status for t in _autoclose_timers(env, n)] == [TimerStatus.FIRED]

    chat(env, "liufang", "1")  # the question is gone: a late answer is an ordinary message now
    assert _ticket(env, n).rating is None and _ticket(env, n).status == "closed"


def test_the_autoclose_timer_outlives_the_clocks_being_re_timed(env: Env) -> None:
    n = _open(env)
    _resolve(env, n)  # unclaimed: the resolution is the first human reply; its delivery re-times the clocks
    assert _ticket(env, n).first_response_at is not None
    assert [t.status for t in _autoclose_timers(env, n)] == [TimerStatus.PENDING]


def test_something_else_is_handled_as_usual_and_the_question_waits(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接 {n}")
    _resolve(env, n)
    chat(env, "liufang", "另外，打印机也打不出单子")
    assert [t.id for t in tickets(env)] == [n, n + 1]  # a new report, a new ticket
    assert _ticket(env, n).status == "resolved"
    assert [t.status for t in _autoclose_timers(env, n)] == [TimerStatus.PENDING]


def test_a_low_score_asks_the_service_managers_for_a_call_back(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接 {n}")
    _resolve(env, n)
    chat(env, "liufang", "已解决")
    chat(env, "liufang", "2分，等了太久")
    assert _ticket(env, n).rating == 2
    assert transcript(env, "liufang")[-1] == "感谢您的评价，服务经理会尽快联系您了解情况。"
    assert transcript(env, "wangqiang")[-1] == (f"【满意度回访】工单 #{n}（武汉市中心医院 心血管内科 刘芳）评分 2 分："
                                                "等了太久。请安排回访。")


def test_thanks_instead_of_a_score_ends_the_question(env: Env) -> None:
    n = _open(env)
    _resolve(env, n)
    chat(env, "liufang", "好了")
    chat(env, "liufang", "谢谢")
    assert transcript(env, "liufang")[-1] == "不客气，祝工作顺利！"
    chat(env, "liufang", "5")  # no question pending any more: not a score
    assert _ticket(env, n).rating is None


def test_a_mail_reply_confirms_and_rates(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = env_for(tmp_path, db_url, clock)
    room = Mailroom(env)
    n = ticket_of(env, room.take(mail(LIUFANG, "DRG系统白屏", "登录后白屏", msgid="<m1@whcentral.example.cn>"))).id
    assert n is not None
    _resolve(env, n)
    room.take(mail(LIUFANG, "回复：[#1] DRG系统白屏", "已解决\n\n> 请确认问题是否已解决",
                   msgid="<m2@whcentral.example.cn>", in_reply_to=room.our_id(n)))
    assert _ticket(env, n).close_reason == "confirmed"
    room.take(mail(LIUFANG, "回复：[#1] DRG系统白屏", "五星", msgid="<m3@whcentral.example.cn>",
                   in_reply_to=room.our_id(n)))
    assert _ticket(env, n).rating == 5


# -- the evaluation report ---------------------------------------------------------------------

def _season(env: Env) -> tuple[int, int, int]:
    """#1 confirmed and scored 5; #2 reopened once, then confirmed and scored 2; #3 closed by silence."""
    first = _open(env)
    chat(env, "zhangwei", f"接 {first}")
    _resolve(env, first)
    chat(env, "liufang", "1")
    chat(env, "liufang", "5")
    second = _open(env, text="DRG分组结果不对")
    chat(env, "zhangwei", f"接 {second}")
    _resolve(env, second)
    chat(env, "liufang", "未解决")
    _resolve(env, second, "修正分组规则")
    chat(env, "liufang", "好了")
    chat(env, "liufang", "2")
    third = _open(env, who="wugang", text="DRG系统登录很慢")
    chat(env, "zhangwei", f"接 {third}")
    _resolve(env, third)
    env.clock.now = sh(2026, 10, 10, 18, 0).astimezone(UTC)
    env.runtime.fire_due_timers()
    env.runtime.drain_outbox()
    return first, second, third


def test_the_evaluation_report_counts_confirmations_reopenings_and_scores(env: Env) -> None:
    first, second, third = _season(env)
    with env.db.session() as session:
        contract = session.exec(select(Contract).where(Contract.key == "wuhan-central-drg")).one()
        s = contract_report(session, contract, datetime(2026, 9, 1).date(), datetime(2026, 10, 31).date(),
                            env.clock()).satisfaction
        assert s is not None
        assert (s.closed, s.confirmed, s.auto_closed, s.reopened) == ([first, second, third], [first, second],
                                                                      [third], [second])
        assert s.ratings == {first: 5, second: 2} and s.low == [second]
        assert (str(s.average), str(s.satisfied_rate)) == ("3.5", "50.0")
        september = contract_report(session, contract, datetime(2026, 9, 1).date(), datetime(2026, 9, 30).date(),
                                    env.clock()).satisfaction
        assert september is not None and september.auto_closed == [] and september.closed == [first, second]


def test_the_report_page_shows_satisfaction(env: Env) -> None:
    first, second, third = _season(env)
    with logged_in(env) as client:
        page = client.get("/admin/reports/evaluation?contract=wuhan-central-drg&from=2026-09-01&to=2026-10-31")
        assert page.status_code == 200
        rows = text_of(table(page.text, "satisfaction"))
        assert f"本期关闭 3 #{first} 、 #{second} 、 #{third}" in rows
        assert f"报障人确认解决 2 #{first} 、 #{second}" in rows
        assert f"逾期未确认自动关闭 1 #{third}" in rows
        assert f"反馈未解决、重新打开（次） 1 #{second}" in rows
        assert "平均分 3.5 5 分 1 张，4 分 0 张，3 分 0 张，2 分 1 张，1 分 0 张" in rows
        assert "满意率（4 分及以上） 50.0%" in rows
        assert f"低分（1–2 分，已通知服务经理回访） 1 #{second}" in rows
