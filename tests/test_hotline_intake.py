"""The hotline channel end to end (issue 7): calls in by HTTP, file and drop folder; calls to tickets.

Every seed promises a 7×24 热线电话; seed 001 四.3(1) counts the response from the call
(1 小时内提供反馈意见), seed 000 from the written report: both are checked here.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from admin import cli
from admin.app import create_app
from admin.hotline import create_token, scan_drop_folder, submit
from bot.hotline_flow import REVIEW_SWITCHBOARD
from intake.hotline import CallRecord, Turn
from knowledge import Article
from tests.conftest import Env, FakeClock, make_env
from tests.helpers import chat, group_feed, outbox_rows, tickets
from tickets.clocks import clocks_of
from tickets.models import AuditLog, Hospital, Message, Person, Ticket

CALL_START = datetime(2026, 11, 23, 1, 20, tzinfo=UTC)  # Monday 09:20 in Shanghai, 10 min before the clock


def record(call_id: str, caller: str, *said: str, start: datetime = CALL_START, agent: str = "zhangwei") -> CallRecord:
    turns = [Turn("caller", text) for text in said] + [Turn("agent", "好的，我马上看一下。")]
    return CallRecord(call_id=call_id, caller=caller, started_at=start, ended_at=start + timedelta(minutes=3),
                      called="400-820-8820", agent=agent, turns=tuple(turns), recording_ref=f"rec://{call_id}.wav")


def call(env: Env, rec: CallRecord) -> bool:
    is_new = submit(env.runtime, rec)
    env.runtime.drain_inbound()
    return is_new


def body(call_id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"call_id": call_id, "caller": "13900000001", "started_at": "2026-11-23T09:20:00+08:00",
                            "ended_at": "2026-11-23T09:23:00+08:00", "agent": "zhangwei",
                            "turns": [{"speaker": "caller", "text": "DRG系统打不开了"}]}
    data.update(over)
    return data


def token(env: Env, name: str = "whzx-ivr") -> str:
    with env.db.session() as session:
        return create_token(session, name, env.clock())


# -- the endpoint -----------------------------------------------------------------------------------

def test_api_token_required_and_checked(env: Env) -> None:
    good = token(env)
    with TestClient(create_app(env.settings, runtime=env.runtime)) as client:
        assert client.post("/intake/hotline", json=body("c1")).status_code == 401
        bad = client.post("/intake/hotline", json=body("c1"), headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json() == {"error": "令牌无效"}
        auth = {"Authorization": f"Bearer {good}"}
        first = client.post("/intake/hotline", json=body("c1"), headers=auth)
        assert first.status_code == 201 and first.json() == {"call_id": "c1", "status": "created"}
        again = client.post("/intake/hotline", json=body("c1", caller="13900000002"), headers=auth)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        wrong = client.post("/intake/hotline", json=body("c2", started_at="2026-11-23 09:20:00", caller=13900000001),
                            headers=auth)
        assert wrong.status_code == 400
        assert {e["field"] for e in wrong.json()["errors"]} >= {"started_at", "caller"}
    with env.db.session() as session:  # only the hash is kept
        assert good not in str(session.exec(select(col(Message.meta))).all())
    env.runtime.drain_inbound()
    assert len(tickets(env)) == 1


def test_same_call_posted_concurrently_gives_one_ticket(env: Env) -> None:
    rec = record("dup-1", "13900000001", "DRG系统登不上了")
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(submit(env.runtime, rec))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    env.runtime.drain_inbound()
    assert sorted(results) == [False] * 7 + [True]
    assert len(tickets(env)) == 1


# -- who called ------------------------------------------------------------------------------------

def test_caller_number_finds_the_person_and_keeps_the_evidence(env: Env) -> None:
    assert call(env, record("c-liu", "+86 139 0000 0001", "DRG系统全部登不上了，所有科室都用不了"))
    [ticket] = tickets(env)
    with env.db.session() as session:
        reporter = session.get(Person, ticket.reporter_id)
        message = session.exec(select(Message).where(Message.ticket_id == ticket.id)).first()
    assert reporter is not None and reporter.name == "刘芳"
    assert message is not None and message.channel == "hotline" and message.external_id == "c-liu"
    assert message.channel_ts == CALL_START and not message.is_written_report
    meta = message.meta or {}
    assert meta["agent_name"] == "张伟" and meta["duration_s"] == 180
    assert meta["recording_ref"] == "rec://c-liu.wav" and "坐席：好的" in meta["transcript"]
    assert ticket.system_id is not None and not ticket.severity_confirmed
    assert ticket.proposed_severity == "fatal" or ticket.proposed_severity  # the contract's first level


def test_unknown_number_under_a_switchboard_prefix_is_a_new_person_to_review(env: Env) -> None:
    with env.db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        hospital.switchboard_prefixes = ["027-8572"]
        session.add(hospital)
    call(env, record("c-sw", "027-85726114转8023", "DRG系统报错"))
    [ticket] = tickets(env)
    with env.db.session() as session:
        reporter = session.get(Person, ticket.reporter_id)
    assert reporter is not None and reporter.review_note == REVIEW_SWITCHBOARD and reporter.phone.startswith("02785726114")


def test_unknown_number_elsewhere_is_flagged_not_ticketed(env: Env) -> None:
    call(env, record("c-x", "0755-12345678", "系统打不开"))
    assert tickets(env) == []
    assert any("待核实来电" in line and "c-x" in line for line in group_feed(env)) or any(
        "待核实来电" in r.text for r in outbox_rows(env))
    with env.db.session() as session:
        assert session.exec(select(AuditLog).where(AuditLog.action == "hotline.unplaced_call")).first() is not None


# -- what about ---------------------------------------------------------------------------------------

def test_system_and_severity_are_proposed_from_recognised_words(env: Env) -> None:
    call(env, record("c-zm", "13900000004", "喂，你好，一宝结算那个界面一直报错，所有窗口都结不了"))
    [ticket] = tickets(env)
    with env.db.session() as session:
        from tickets.models import Contract, CoveredSystem
        system = session.get(CoveredSystem, ticket.system_id)
        contract = session.get(Contract, ticket.contract_id)
        audit = session.exec(select(AuditLog).where(AuditLog.action == "hotline.severity_proposed")).one()
    assert system is not None and system.name == "医疗保险管理系统"
    assert contract is not None
    assert ticket.proposed_severity == contract.sla_policy["levels"][0]["code"]  # 所有窗口 + 不了: critical
    assert not ticket.severity_confirmed and audit.detail["rank"] == "critical"


def test_a_second_call_within_the_window_is_appended(env: Env) -> None:
    call(env, record("c-a1", "13900000004", "一宝结算报错"))
    env.clock.advance(hours=2)
    call(env, record("c-a2", "13900000004", "医保结算还是报错", start=CALL_START + timedelta(hours=2)))
    assert len(tickets(env)) == 1
    env.clock.advance(hours=25)
    call(env, record("c-a3", "13900000004", "医保结算又报错", start=CALL_START + timedelta(hours=27)))
    assert len(tickets(env)) == 2


# -- the clock ----------------------------------------------------------------------------------------

def test_clock_starts_at_the_call_where_the_contract_counts_calls(env: Env) -> None:
    """Seed 001 四.3(1): 接到电话后1小时内提供反馈意见 — the response clock starts at the call."""
    call(env, record("c-cj", "13900000003", "透析系统打不开"))
    [ticket] = tickets(env)
    with env.db.session() as session:
        response = next(c for c in clocks_of(session, ticket.id or 0) if c.name == "response")
    assert response.started_at == CALL_START and response.due_at == CALL_START + timedelta(hours=1)


def test_clock_waits_for_the_written_report_where_the_contract_says_so(env: Env) -> None:
    """Seed 000: 自甲方向乙方发出书面报告错误之时起计 — the call alone starts no response clock."""
    call(env, record("c-lf", "13900000001", "DRG系统打不开"))
    [ticket] = tickets(env)
    assert ticket.written_report_pending and ticket.response_due_at is None
    with env.db.session() as session:
        assert not [c for c in clocks_of(session, ticket.id or 0) if c.name == "response"]
    asks = [r for r in outbox_rows(env) if f"#{ticket.id}" in r.text and "书面" in r.text]
    assert asks and asks[0].channel == "wecom" and asks[0].recipient == "liufang"
    env.clock.advance(minutes=20)
    chat(env, "liufang", f"确认 #{ticket.id} DRG 打不开")
    with env.db.session() as session:
        fresh = session.get(Ticket, ticket.id)
        assert fresh is not None and not fresh.written_report_pending
        response = next(c for c in clocks_of(session, ticket.id or 0) if c.name == "response")
    assert fresh.reported_at == env.clock() and fresh.first_contact_at == CALL_START
    assert response.started_at == env.clock()


# -- files ---------------------------------------------------------------------------------------------

CSV = """call_id,caller,started_at,ended_at,timezone,agent,turns
f-1,13900000004,2026-11-23 09:00:00,2026-11-23 09:02:00,Asia/Shanghai,zhangwei,来电人：医保结算报错|坐席：好的
f-2,13900000003,2026-11-23 09:05:00,2026-11-23 09:04:00,Asia/Shanghai,lina,来电人：透析系统打不开
f-3,13900000003,2026-11-23T09:10:00+08:00,2026-11-23T09:12:00+08:00,,lina,来电人：透析系统打不开
"""


def _cli_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_DATABASE_URL", env.settings.database_url)
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(env.settings.var_dir))
    monkeypatch.setenv("HELPDESK_SECRET_KEY", "test-secret")
    monkeypatch.setenv("HELPDESK_KB_ENABLED", "false")
    monkeypatch.setenv("HELPDESK_WORKERS", "false")


def test_csv_with_a_broken_row_imports_the_rest_and_names_the_row(env: Env, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(env, monkeypatch)
    path = tmp_path / "calls.csv"
    path.write_text(CSV.replace("2026-11-23", "2025-11-24"), encoding="gb18030")  # the CLI runs on the real clock
    assert cli.main(["hotline", "import", str(path)]) == 1
    out = capsys.readouterr().out
    assert "新导入 2 条" in out and "第 3 行" in out and "结束时间早于开始时间" in out
    assert len(tickets(env)) == 2
    assert cli.main(["hotline", "import", str(path)]) == 1
    assert "已存在 2 条" in capsys.readouterr().out and len(tickets(env)) == 2
    (tmp_path / "bad.txt").write_text("x")
    assert cli.main(["hotline", "import", str(tmp_path / "bad.txt")]) == 2


def test_token_create_prints_the_token_once(env: Env, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(env, monkeypatch)
    assert cli.main(["hotline", "token", "create", "lz-ivr"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    with TestClient(create_app(env.settings, runtime=env.runtime)) as client:
        ok = client.post("/intake/hotline", json=body("t-1"), headers={"Authorization": f"Bearer {printed}"})
    assert ok.status_code == 201


def test_drop_folder(env: Env, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "good.csv").write_text(CSV.replace(",2026-11-23 09:04:00,", ",2026-11-23 09:06:00,"), encoding="utf-8")
    (drop / "broken.jsonl").write_text('{"call_id": "j-1", "caller": "13900000001"}\nnot json\n', encoding="utf-8")
    (drop / "later.csv.part").write_text("half", encoding="utf-8")
    assert scan_drop_folder(env.runtime, drop) == 2
    env.runtime.drain_inbound()
    assert (drop / "done" / "good.csv").exists() and (drop / "later.csv.part").exists()
    errors = (drop / "failed" / "broken.jsonl.errors.txt").read_text(encoding="utf-8")
    assert "第 1 行" in errors and "第 2 行" in errors
    assert len(tickets(env)) == 2  # f-3 is 陈静's second call about 透析 within the window: appended
    with env.db.session() as session:
        assert len(session.exec(select(Message).where(Message.channel == "hotline")).all()) == 3


# -- consultations --------------------------------------------------------------------------------------

def test_a_question_the_knowledge_base_answers_is_logged_as_a_consultation(tmp_path: Path, db_url: str,
                                                                           clock: FakeClock) -> None:
    """A call that only asks how to do something is a 咨询 with the article, not a fault on the queue."""
    from knowledge import import_path
    from knowledge.embed import shared_embedder
    from tests.test_knowledge import ARTICLES, write_jsonl
    env = make_env(tmp_path, db_url, clock, kb_enabled=True, kb_answer=0.95, kb_suggest=0.3, kb_margin=0.02)
    try:
        with env.db.session() as session:
            import_path(session, write_jsonl(tmp_path / "kb.jsonl", ARTICLES), "test", clock(),
                        embedder=shared_embedder())
        call(env, record("c-how", "13900000001", "请问怎么导出科室的DRG分组明细"))
        call(env, record("c-down", "13900000001", "DRG系统打不开了，全科都登不上", start=CALL_START + timedelta(minutes=5)))
        consult, fault = tickets(env)
        assert (consult.kind, consult.status) == ("consult", "resolved")
        assert (fault.kind, fault.status) == ("fault", "new")
        with env.db.session() as session:
            [logged] = session.exec(select(AuditLog).where(AuditLog.action == "hotline.consultation")).all()
            article = session.get(Article, logged.detail["article_id"])
        assert logged.ticket_id == consult.id and article is not None and article.key == "drg-export"
        posted = [r.text for r in outbox_rows(env)]
        assert not any(f"新工单 #{consult.id}" in text for text in posted)  # not posted to the engineers
        assert any(f"新工单 #{fault.id}" in text for text in posted)
    finally:
        env.db.dispose()


def test_tokens_are_revoked_alone_and_a_name_is_not_issued_twice(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(env, monkeypatch)
    assert cli.main(["hotline", "token", "create", "lz-ivr"]) == 0
    lz = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli.main(["hotline", "token", "create", "wh-ivr"]) == 0
    wh = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli.main(["hotline", "token", "create", "lz-ivr"]) == 2
    assert "已有令牌" in capsys.readouterr().err
    assert cli.main(["hotline", "token", "revoke", "lz-ivr"]) == 0
    assert cli.main(["hotline", "token", "revoke", "nobody"]) == 2
    with TestClient(create_app(env.settings, runtime=env.runtime)) as client:
        assert client.post("/intake/hotline", json=body("r-1"), headers={"Authorization": f"Bearer {lz}"}).status_code == 401
        assert client.post("/intake/hotline", json=body("r-1"), headers={"Authorization": f"Bearer {wh}"}).status_code == 201


def test_switchboard_prefixes_are_set_checked_and_shown(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _cli_env(env, monkeypatch)
    assert cli.main(["hotline", "switchboard", "wuhan-central", "027-8572", "+86 27 8573"]) == 0
    assert "027-8572、+86 27 8573" in capsys.readouterr().out
    assert cli.main(["hotline", "switchboard", "wuhan-central", "02"]) == 2
    assert "至少 3 位" in capsys.readouterr().err
    assert cli.main(["hotline", "switchboard", "nowhere", "027"]) == 2
    call(env, record("sb-1", "027-85731234", "DRG打不开"))
    [ticket] = tickets(env)
    with env.db.session() as session:
        caller = session.get(Person, ticket.reporter_id)
        hospital = session.get(Hospital, ticket.hospital_id)
    assert caller is not None and caller.review_note == REVIEW_SWITCHBOARD and hospital is not None
    assert hospital.key == "wuhan-central"
    assert cli.main(["hotline", "switchboard", "wuhan-central", "-"]) == 0
    assert "（无）" in capsys.readouterr().out
