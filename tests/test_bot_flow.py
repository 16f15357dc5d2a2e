"""The reporter's and the engineer's conversation, through the web chat channel,
on SQLite and PostgreSQL, with a pinned clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot import texts
from tests.conftest import Env, live_server
from tests.helpers import chat, group_feed, outbox_rows, person, tickets, transcript
from tickets.models import AuditLog, Message


def test_report_opens_ticket_with_deadline_of_most_urgent_level_until_answered(env: Env) -> None:
    reported = env.clock()
    chat(env, "liufang", "DRG分组结果全部为空，科室无法提交病案")

    [ticket] = tickets(env)
    assert ticket.reported_at == reported
    assert ticket.severity == "fatal" and not ticket.severity_confirmed
    assert ticket.response_due_at == reported + timedelta(hours=1)  # seed 000: 致命错误 1 小时
    first = transcript(env, "liufang")[0]
    assert f"#{ticket.id}" in first and "响应时限" in first and "今天 10:30" in first
    assert "1 致命错误" in first and "3 一般错误" in first  # the contract's own words
    assert any(f"新工单 #{ticket.id}" in line and "武汉市中心医院" in line for line in group_feed(env))


def test_severity_answer_recomputes_deadline_from_original_report(env: Env) -> None:
    reported = env.clock()
    chat(env, "liufang", "DRG系统病案首页导出很慢")
    env.clock.advance(minutes=20)
    chat(env, "liufang", "3")

    [ticket] = tickets(env)
    assert ticket.severity == "minor" and ticket.severity_confirmed
    assert ticket.response_due_at == reported + timedelta(hours=4)  # from the report, not from the answer
    assert "一般错误" in transcript(env, "liufang")[-1]


def test_system_is_asked_when_contract_covers_many_and_text_names_none(env: Env) -> None:
    chat(env, "zhaomin", "电脑上打不开了，一直转圈")
    assert "请问是哪个系统" in transcript(env, "zhaomin")[-1]
    chat(env, "zhaomin", "挂号")
    [ticket] = tickets(env)
    with env.db.session() as session:
        from tickets.models import CoveredSystem

        assert session.get(CoveredSystem, ticket.system_id).name == "门（急）诊挂号管理系统"  # type: ignore[union-attr]
    assert "请问影响程度" in transcript(env, "zhaomin")[-1]
    chat(env, "zhaomin", "1")
    assert tickets(env)[0].severity == "urgent"


def test_a_greeting_opens_no_ticket(env: Env) -> None:
    chat(env, "liufang", "在吗？")
    chat(env, "liufang", "你好 ")
    assert tickets(env) == []
    assert transcript(env, "liufang") == [texts.ASK_TO_DESCRIBE, texts.ASK_TO_DESCRIBE]
    chat(env, "liufang", "你好，DRG系统登录不了")
    assert len(tickets(env)) == 1


def test_system_named_in_text_is_not_asked(env: Env) -> None:
    chat(env, "zhaomin", "LIS 检验结果传不到医生站")
    [ticket] = tickets(env)
    assert ticket.system_id is not None
    assert "请问是哪个系统" not in transcript(env, "zhaomin")[0]


def test_single_level_contract_asks_nothing(env: Env) -> None:
    chat(env, "chenjing", "透析记录保存失败")
    [ticket] = tickets(env)
    assert ticket.severity == "standard" and ticket.severity_confirmed and ticket.system_id is not None
    assert "请问" not in transcript(env, "chenjing")[0]


def test_a_follow_up_instead_of_the_answer_is_kept_forwarded_and_the_question_repeated(env: Env) -> None:
    chat(env, "liufang", "DRG系统登录后白屏")
    chat(env, "liufang", "心内科三台电脑都这样")  # seconds later: forwarded, not answered again
    assert group_feed(env)[-1] == "工单 #1 刘芳 补充：心内科三台电脑都这样"
    assert len(transcript(env, "liufang")) == 1
    env.clock.advance(minutes=5)
    chat(env, "liufang", "护士站也登不上")
    assert transcript(env, "liufang")[-1].startswith("已补充到工单 #1。\n\n请问影响程度")
    chat(env, "liufang", "2")
    assert tickets(env)[0].severity == "serious"


def test_further_messages_append_to_the_open_ticket_with_one_ack_per_burst(env: Env) -> None:
    chat(env, "chenjing", "透析记录保存失败")
    env.clock.advance(minutes=3)
    chat(env, "chenjing", "补充：3号床位也一样")
    assert len(tickets(env)) == 1
    assert "已补充到工单 #1" in transcript(env, "chenjing")[-1]
    for n in range(5):  # a burst within two minutes: kept and forwarded, acknowledged once
        env.clock.advance(seconds=10)
        chat(env, "chenjing", f"第{n}张截图")
    assert len(transcript(env, "chenjing")) == 2
    assert group_feed(env)[-1] == "工单 #1 陈静 补充：第4张截图"
    env.clock.advance(minutes=3)
    chat(env, "chenjing", "还是不行")
    assert len(transcript(env, "chenjing")) == 3


def test_claim_and_reply_reach_the_reporter_and_stop_the_response_clock(env: Env) -> None:
    chat(env, "liufang", "DRG系统登录后白屏")
    [ticket] = tickets(env)
    assert ticket.first_response_at is None  # the bot's own acknowledgement is not a response

    env.clock.advance(minutes=12)
    claimed_at = env.clock()
    chat(env, "zhangwei", "接 1")
    assert "工程师 张伟 已接单" in transcript(env, "liufang")[-1]
    assert tickets(env)[0].first_response_at == claimed_at
    assert tickets(env)[0].status == "claimed"

    env.clock.advance(minutes=5)
    chat(env, "zhangwei", "回 1 请重启读卡器后重试")
    assert transcript(env, "liufang")[-1] == "【工单 #1】工程师 张伟：请重启读卡器后重试"
    assert tickets(env)[0].first_response_at == claimed_at  # the first one counts
    assert "已发给 刘芳" in transcript(env, "zhangwei")[-1]


def test_claim_by_second_engineer_is_refused(env: Env) -> None:
    chat(env, "liufang", "DRG系统登录后白屏")
    chat(env, "zhangwei", "接 1")
    chat(env, "lina", "接单1")
    assert "已由 张伟 接单" in transcript(env, "lina")[-1]
    assert tickets(env)[0].assignee_id is not None


def test_unknown_command_and_ticket_get_help(env: Env) -> None:
    chat(env, "zhangwei", "你好")
    assert "可用指令" in transcript(env, "zhangwei")[-1]
    chat(env, "zhangwei", "接 999")
    assert "未找到工单 #999" in transcript(env, "zhangwei")[-1]


def test_engineer_reply_without_claim_assigns_and_counts(env: Env) -> None:
    chat(env, "huanglei", "电子票据开不出来")
    env.clock.advance(minutes=2)
    chat(env, "lina", "#1 回复 正在查看，请稍候")
    [ticket] = tickets(env)
    assert ticket.first_response_at == env.clock()
    assert ticket.status == "claimed"


def test_every_change_is_audited_and_the_audit_log_refuses_edits(env: Env) -> None:
    chat(env, "liufang", "DRG系统登录后白屏")
    chat(env, "zhangwei", "接 1")
    with env.db.session() as session:
        actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.ticket_id == 1))]
    assert actions[:1] == ["ticket.opened"] and "ticket.claimed" in actions and "sla.response_stopped" in actions
    with pytest.raises(DBAPIError, match="append-only"), env.db.session() as session:
        session.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DBAPIError, match="append-only"), env.db.session() as session:
        session.execute(text("DELETE FROM audit_log"))


def test_outgoing_messages_are_written_with_the_change(env: Env) -> None:
    chat(env, "liufang", "DRG系统登录后白屏")
    rows = outbox_rows(env)
    assert {r.status for r in rows} == {"sent"}
    with env.db.session() as session:
        out = session.exec(select(Message).where(Message.direction == "out")).all()
    assert all(m.delivered_at is not None and not m.is_human for m in out)


def test_admin_panel_requires_login_and_scopes_hospital_accounts(env: Env) -> None:
    import httpx

    from admin.passwords import hash_password
    from tickets.models import Account

    chat(env, "liufang", "DRG系统登录后白屏")  # 武汉市中心医院, #1
    chat(env, "chenjing", "透析记录保存失败")  # 南溪山医院, #2
    wugang = person(env, "wugang")
    with env.db.session() as session:
        session.add(Account(username="wugang", password_hash=hash_password("hospital-pass"), person_id=wugang.id,
                            created_at=env.clock()))
    with live_server(env) as server, httpx.Client(base_url=server.base_url, follow_redirects=True) as client:
        assert client.get("/admin", follow_redirects=False).status_code == 303
        bad = client.post("/admin/login", data={"username": "admin", "password": "nope"})
        assert bad.status_code == 401 and "用户名或密码不对" in bad.text
        ok = client.post("/admin/login", data={"username": "admin", "password": env.admin_password})
        assert ok.status_code == 200 and "#1" in ok.text and "#2" in ok.text
        client.post("/admin/logout")
        scoped = client.post("/admin/login", data={"username": "wugang", "password": "hospital-pass"})
        assert "#1" in scoped.text and "/admin/tickets/2" not in scoped.text
        assert client.get("/admin/tickets/2").status_code == 404
        detail = client.get("/admin/tickets/1")
        assert detail.status_code == 200 and "DRG系统登录后白屏" in detail.text
        for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
            assert client.post("/admin/login", data={"username": "admin", "password": env.admin_password,
                                                     "next": target}, follow_redirects=False
                               ).headers["location"] == "/admin"


def test_repeated_failed_logins_lock_the_name_for_a_while(env: Env) -> None:
    import httpx

    with live_server(env) as server, httpx.Client(base_url=server.base_url) as client:
        for _ in range(10):
            assert client.post("/admin/login", data={"username": "admin", "password": "guess"}).status_code == 401
        locked = client.post("/admin/login", data={"username": "admin", "password": env.admin_password})
        assert locked.status_code == 429 and "15 分钟后再试" in locked.text
        other = client.post("/admin/login", data={"username": "nobody", "password": "guess"})
        assert other.status_code == 401  # the lock is per name
        env.clock.advance(minutes=16)
        assert client.post("/admin/login", data={"username": "admin", "password": env.admin_password},
                           follow_redirects=False).status_code == 303


def test_a_write_is_committed_before_the_response_leaves(env: Env) -> None:
    """Commits are slowed down here: if the response left before the commit, the audit row would be missing."""
    import contextlib
    import time

    import httpx

    real_session = env.runtime.db.session

    @contextlib.contextmanager
    def slow_commit():  # type: ignore[no-untyped-def]
        with real_session() as session:
            yield session
            time.sleep(0.3)

    env.runtime.db.session = slow_commit  # type: ignore[method-assign]
    with live_server(env) as server:
        assert httpx.post(f"{server.base_url}/admin/login",
                          data={"username": "admin", "password": "wrong"}).status_code == 401
        env.runtime.db.session = real_session  # type: ignore[method-assign]
        with env.db.session() as session:
            failures = session.exec(select(AuditLog).where(AuditLog.action == "account.login_failed")).all()
    assert len(failures) == 1
