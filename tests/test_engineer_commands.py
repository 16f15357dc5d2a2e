"""Engineers' commands in the web chat (the same grammar as in WeCom): what each one changes and says."""

from __future__ import annotations

from sqlmodel import select

from tests.conftest import Env
from tests.helpers import chat, tickets, transcript
from tickets.models import Ticket, TicketEvent, Timer, TimerStatus


def _open(env: Env) -> int:
    chat(env, "liufang", "DRG系统打不开，全科室无法分组")
    (ticket,) = tickets(env)
    return ticket.id or 0


def _pending_timers(env: Env, number: int) -> list[Timer]:
    with env.db.session() as session:
        return list(session.exec(select(Timer).where(Timer.ticket_id == number,
                                                     Timer.status == TimerStatus.PENDING)).all())


def test_query_shows_status_owner_and_each_clock(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"查{n}")
    answer = transcript(env, "zhangwei")[-1]
    assert answer.startswith(f"#{n} 武汉市中心医院 · DRG系统打不开")
    assert "状态：待接单 · 处理人：未认领" in answer
    assert "响应：今天 10:30 到期（还有 1 小时 0 分钟）" in answer


def test_pause_and_resume_stop_the_reminders_and_tell_the_reporter(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接 {n}")
    assert _pending_timers(env, n)  # the resolution clock still runs after the claim reply
    chat(env, "zhangwei", f"暂停{n} 等待院方配合停机")
    assert transcript(env, "zhangwei")[-1].startswith(f"已暂停 #{n} 计时（等待医院方配合（非乙方原因））")
    assert transcript(env, "liufang")[-1] == f"工单 #{n} 因「等待院方配合停机」暂停计时，条件具备后工程师会继续处理。"
    assert _pending_timers(env, n) == []
    chat(env, "zhangwei", f"暂停 {n} 再停一次")
    assert "已因" in transcript(env, "zhangwei")[-1]  # already paused: refused with the reason
    env.clock.advance(hours=1)
    chat(env, "zhangwei", f"恢复 {n}")
    assert transcript(env, "zhangwei")[-1] == f"已恢复 #{n} 计时。"
    assert _pending_timers(env, n)


def test_onsite_arrival_and_resolution_are_recorded_as_events(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"接单{n}")
    chat(env, "zhangwei", f"现场 {n}")
    env.clock.advance(minutes=50)
    chat(env, "zhangwei", f"到达 {n}")
    chat(env, "zhangwei", f"解决 {n} 重启分组服务并清理缓存，已恢复")
    with env.db.session() as session:
        events = [e.name for e in session.exec(select(TicketEvent).where(TicketEvent.ticket_id == n))]
        ticket = session.get(Ticket, n)
        assert ticket is not None and ticket.status == "resolved"
    assert events == ["onsite_requested", "onsite_arrival", "resolved"]
    assert transcript(env, "liufang")[-1] == (f"【工单 #{n}】已处理：重启分组服务并清理缓存，已恢复\n\n"
                                              "请确认问题是否已解决：回复 1 已解决，2 未解决")
    # The clocks' reminders are gone; what is left closes the ticket if the reporter never answers.
    assert [t.kind for t in _pending_timers(env, n)] == ["autoclose"]


def test_mine_and_todo_list_open_tickets_by_deadline(env: Env) -> None:
    first = _open(env)
    chat(env, "chenjing", "透析机数据不同步")
    second = max(t.id or 0 for t in tickets(env))
    chat(env, "zhangwei", f"接 {first}")
    chat(env, "zhangwei", "我的")
    assert transcript(env, "zhangwei")[-1].startswith("您处理中的工单（按响应时限排序）：\n#" + str(first))
    chat(env, "lina", "待办")
    todo = transcript(env, "lina")[-1]
    assert f"#{second} 透析机数据不同步" in todo and f"#{first} " not in todo


def test_incomplete_commands_get_their_usage_not_a_guess(env: Env) -> None:
    n = _open(env)
    chat(env, "zhangwei", f"暂停 {n}")
    assert transcript(env, "zhangwei")[-1] == "缺少暂停原因。用法：暂停 12 原因（例如：暂停 12 等待院方停机窗口）"
    with env.db.session() as session:
        assert session.get(Ticket, n).hold_reason is None  # type: ignore[union-attr]
