"""The knowledge base through the product's own paths: import, ask, the bot's three outcomes, learning."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot import looks_like_outage
from knowledge import (
    Article,
    ArticleVersion,
    Feedback,
    Thresholds,
    ask,
    draft_from_ticket,
    export_jsonl,
    failing_articles,
    import_path,
    near_duplicates,
)
from knowledge.embed import shared_embedder
from tests.conftest import Env, FakeClock, make_env
from tests.helpers import chat, tickets, transcript
from tests.test_cli import HELPDESK
from tickets import service
from tickets.audit import Actor
from tickets.models import AuditLog, Hospital, Message, Ticket

ARTICLES = [
    {"id": "drg-export", "system": "DRG智能化综合管理系统", "question": "怎么导出科室的DRG分组明细",
     "answer": "1. 进入【统计分析】→【分组明细】\n2. 选择科室和日期\n3. 点【导出Excel】",
     "aliases": ["分组明细导出", "科室入组情况怎么下载"], "hospital": "wuhan-central"},
    {"id": "drg-homepage", "system": "DRG", "question": "病案首页诊断填错了怎么修改",
     "answer": "在【病案首页】→【诊断信息】里修改后点【重新分组】。", "aliases": ["首页诊断改错"]},
    {"id": "einv-red", "system": "医疗电子票据管理系统", "question": "电子票据开错了怎么冲红",
     "answer": "【票据管理】→【票据查询】找到该票，点【冲红】并填写原因。", "aliases": ["票据红冲"], "hospital": "gdph"},
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def kb_env(tmp_path: Path, db_url: str, clock: FakeClock) -> Iterator[Env]:
    """Demo data plus three articles; the bot asks the knowledge base first (answer only when near-certain)."""
    env = make_env(tmp_path, db_url, clock, kb_enabled=True, kb_answer=0.95, kb_suggest=0.3, kb_margin=0.02)
    with env.db.session() as session:
        report = import_path(session, write_jsonl(tmp_path / "kb.jsonl", ARTICLES), "test", clock(),
                             embedder=shared_embedder())
    assert report.added == 3 and not report.errors
    yield env
    env.db.dispose()


def test_import_reports_bad_lines_keeps_unmatched_systems_and_versions_articles(kb_env: Env, tmp_path: Path) -> None:
    rows: list[object] = [
        {"id": "drg-export", "system": "DRG智能化综合管理系统", "question": "怎么导出科室的DRG分组明细",
         "answer": "新版：【统计分析】→【分组明细】→【导出】", "aliases": [], "hospital": "wuhan-central"},
        "{not json",
        {"id": "x-1", "question": "没有答案"},
        {"id": "oa-1", "system": "某个没签合同的系统", "question": "怎么改密码", "answer": "点右上角头像。"},
        {"id": "oa-1", "system": "", "question": "重复", "answer": "重复"},
        {"id": "h-1", "question": "问题", "answer": "答案", "hospital": "nowhere"},
    ]
    with kb_env.db.session() as session:
        report = import_path(session, write_jsonl(tmp_path / "more.jsonl", rows), "test", kb_env.clock(),
                             embedder=shared_embedder())
    assert (report.added, report.updated) == (1, 1)
    assert [w for w, _ in report.errors] == ["第 2 行", "第 3 行", "第 5 行", "第 6 行"]
    assert "缺少 answer" in report.errors[1][1] and "没有医院「nowhere」" in report.errors[3][1]
    assert report.flagged == ["oa-1"]
    with kb_env.db.session() as session:
        article = session.exec(select(Article).where(Article.key == "drg-export")).one()
        assert article.version == 2 and article.answer.startswith("新版")
        versions = session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article.id)).all()
        assert [v.version for v in versions] == [1, 2]
        oa = session.exec(select(Article).where(Article.key == "oa-1")).one()
        assert oa.system_id is None and oa.system_label == "某个没签合同的系统" and "未匹配" in oa.review_note
        homepage = session.exec(select(Article).where(Article.key == "drg-homepage")).one()
        assert homepage.system_id is not None  # "DRG" is the system's alias


def test_markdown_folder_import_and_export_round_trip(kb_env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "oa-leave.md").write_text("---\nsystem: 综合管理平台（OA）\nquestion: 请假流程怎么撤回\n"
                                        "aliases: [撤回请假]\nhospital: liuzhou-workers\n---\n"
                                        "在【我的申请】里点【撤回】。\n", encoding="utf-8")
    (folder / "broken.md").write_text("no front matter", encoding="utf-8")
    with kb_env.db.session() as session:
        report = import_path(session, folder, "test", kb_env.clock(), embedder=shared_embedder())
        exported = export_jsonl(session)
    assert report.added == 1 and report.errors == [("broken.md", "缺少开头的 front matter（--- … ---）")]
    rows = [json.loads(line) for line in exported.splitlines()]
    leave = next(r for r in rows if r["id"] == "oa-leave")
    assert leave == {"id": "oa-leave", "system": "综合管理平台（OA）", "question": "请假流程怎么撤回",
                     "answer": "在【我的申请】里点【撤回】。", "aliases": ["撤回请假"], "hospital": "liuzhou-workers"}


def test_answers_are_filtered_by_the_askers_hospital(kb_env: Env) -> None:
    t = Thresholds(answer=0.95, suggest=0.3, margin=0.02)
    with kb_env.db.session() as session:
        gdph = session.exec(select(Hospital).where(Hospital.key == "gdph")).one()
        wuhan = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        mine = ask(session, "电子票据开错了怎么冲红", hospital_id=gdph.id, thresholds=t)
        theirs = ask(session, "电子票据开错了怎么冲红", hospital_id=wuhan.id, thresholds=t)
    assert mine.decision == "answer" and mine.hits[0].entry.key == "einv-red"
    assert all(h.entry.key != "einv-red" for h in theirs.hits)


def test_near_verbatim_question_is_answered_and_solved(kb_env: Env) -> None:
    chat(kb_env, "liufang", "怎么导出科室的DRG分组明显")  # a typo of the article's own question
    said = transcript(kb_env, "liufang")[-1]
    assert "【怎么导出科室的DRG分组明细】" in said and "解决了吗？回复 1 已解决，2 转人工" in said
    chat(kb_env, "liufang", "1")
    assert "很高兴帮到您" in transcript(kb_env, "liufang")[-1]
    assert tickets(kb_env) == []
    with kb_env.db.session() as session:
        assert [f.outcome for f in session.exec(select(Feedback).order_by(col(Feedback.id)))] == ["shown", "helped"]


def test_answer_then_person_opens_ticket_with_the_conversation_and_the_first_message_time(kb_env: Env) -> None:
    first = kb_env.clock()
    chat(kb_env, "liufang", "病案首页诊断填错了怎么修改")
    kb_env.clock.advance(minutes=3)
    chat(kb_env, "liufang", "2")
    [ticket] = tickets(kb_env)
    assert ticket.reported_at == first  # the clock starts at the written report, not at the hand-over
    assert f"#{ticket.id}" in transcript(kb_env, "liufang")[-1]
    with kb_env.db.session() as session:
        texts = [m.text for m in session.exec(select(Message).where(Message.ticket_id == ticket.id,
                                                                   Message.direction == "in"))]
        assert texts == ["病案首页诊断填错了怎么修改"]
        feedback = session.exec(select(Feedback).where(Feedback.outcome == "handoff")).one()
        assert feedback.ticket_id == ticket.id
        assert session.exec(select(AuditLog).where(AuditLog.action == "kb.handoff")).one().ticket_id == ticket.id


def test_suggestions_then_a_choice_then_more_words_hand_over(kb_env: Env) -> None:
    chat(kb_env, "liufang", "我想把我们科的入组情况拉个表出来")
    said = transcript(kb_env, "liufang")[-1]
    assert said.startswith("您可能想问：") and "回复 0 转人工" in said and "1. " in said
    chat(kb_env, "liufang", "1")
    assert "解决了吗" in transcript(kb_env, "liufang")[-1]
    chat(kb_env, "liufang", "导出的表里没有本月数据")
    [ticket] = tickets(kb_env)
    with kb_env.db.session() as session:
        texts = [m.text for m in session.exec(select(Message).where(Message.ticket_id == ticket.id,
                                                                   Message.direction == "in")
                                              .order_by(col(Message.id)))]
    assert texts == ["我想把我们科的入组情况拉个表出来", "导出的表里没有本月数据"]


def test_zero_hands_over_from_the_suggestions(kb_env: Env) -> None:
    chat(kb_env, "liufang", "我想把我们科的入组情况拉个表出来")
    chat(kb_env, "liufang", "0")
    assert len(tickets(kb_env)) == 1


def test_an_outage_skips_the_knowledge_base(kb_env: Env) -> None:
    chat(kb_env, "liufang", "全院DRG系统都登不上了")
    assert len(tickets(kb_env)) == 1
    assert "工单号" in transcript(kb_env, "liufang")[0]


def test_a_stale_knowledge_base_conversation_is_forgotten(kb_env: Env) -> None:
    chat(kb_env, "liufang", "病案首页诊断填错了怎么修改")
    kb_env.clock.advance(hours=2)
    chat(kb_env, "liufang", "1")  # hours later "1" is not an answer to the old article
    with kb_env.db.session() as session:
        assert session.exec(select(Feedback).where(Feedback.outcome == "helped")).first() is None


@pytest.mark.parametrize(("text", "outage"), [
    ("全院挂号都登不上了", True), ("收费系统整个卡死了所有窗口都不能用", True), ("OA瘫痪了", True),
    ("怎么导出科室的DRG分组明细", False), ("打印机打不开怎么办", False), ("病历模板在哪里改", False),
])
def test_outage_triage(text: str, outage: bool) -> None:
    assert looks_like_outage(text) is outage


def test_learning_from_tickets(kb_env: Env) -> None:
    for _ in range(2):  # the same article fails twice
        chat(kb_env, "liufang", "病案首页诊断填错了怎么修改")
        chat(kb_env, "liufang", "2")
        number = tickets(kb_env)[-1].id
        chat(kb_env, "zhangwei", f"回 {number} 先在首页里删掉原诊断再新增，然后重新分组")
        with kb_env.db.session() as session:  # one session at a time: SQLite has one writer
            service.record_event(session, session.get(Ticket, number), "resolved", Actor("张伟"), kb_env.clock())
        kb_env.clock.advance(minutes=5)
    with kb_env.db.session() as session:
        [failing] = failing_articles(session)
        assert failing.article.key == "drg-homepage" and failing.handoffs == 2
        draft = draft_from_ticket(session, session.get(Ticket, number), "张伟", kb_env.clock())
        assert draft.status == "draft" and draft.question == "病案首页诊断填错了怎么修改"
        assert "重新分组" in draft.answer and draft.system_label == "DRG智能化综合管理系统"
        session.add(Article(key="drg-export-2", question="怎么导出科室的DRG分组明细表", answer="同上",
                            system_id=session.exec(select(Article.system_id).where(Article.key == "drg-export")).one(),
                            created_at=kb_env.clock(), updated_at=kb_env.clock()))
        session.flush()
        pairs = [(a.key, b.key) for a, b, _ in near_duplicates(session)]
    assert ("drg-export", "drg-export-2") in pairs


def test_kb_cli_ask_json(kb_env: Env) -> None:
    """`helpdesk kb ask --json` as an operator runs it, against this test's database (SQLite or PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env |= {"HELPDESK_VAR_DIR": str(kb_env.settings.var_dir), "HELPDESK_DATABASE_URL": kb_env.settings.database_url,
            "HELPDESK_LOG_LEVEL": "WARNING"}
    result = subprocess.run([HELPDESK, "kb", "ask", "电子票据开错了怎么冲红", "--hospital", "gdph", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["decision"] == "answer" and out["results"][0]["id"] == "einv-red"
    assert set(out["results"][0]) == {"id", "score", "question"}


def test_kb_cli_import_and_export(kb_env: Env, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env |= {"HELPDESK_VAR_DIR": str(kb_env.settings.var_dir), "HELPDESK_DATABASE_URL": kb_env.settings.database_url,
            "HELPDESK_LOG_LEVEL": "WARNING"}
    source = write_jsonl(tmp_path / "new.jsonl", [
        {"id": "oa-pw", "system": "OA", "question": "OA密码忘了怎么重置", "answer": "登录页点【忘记密码】。",
         "aliases": [], "hospital": "liuzhou-workers"},
        "{broken",
    ])
    result = subprocess.run([HELPDESK, "kb", "import", str(source)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "新增 1 篇，更新 0 篇，跳过 1 条" in result.stdout
    assert "第 2 行：不是合法的 JSON" in result.stderr
    exported = subprocess.run([HELPDESK, "kb", "export"], env=env, capture_output=True, text=True, timeout=120)
    keys = [json.loads(line)["id"] for line in exported.stdout.splitlines()]
    assert keys == ["drg-export", "drg-homepage", "einv-red", "oa-pw"]


def test_workers_warm_the_index_before_the_first_message(kb_env: Env) -> None:
    from knowledge import service as kb_service

    kb_service._INDEXES.clear()
    kb_env.runtime.warm_up()
    assert str(kb_env.db.engine.url) in kb_service._INDEXES
