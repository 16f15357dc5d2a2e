"""The admin panel's knowledge-base pages over HTTP against the real app, on SQLite and
PostgreSQL: the list, editing with history, new articles, who may edit, the synonym
table, drafts from resolved tickets and the review queue — and that every edit
changes what :func:`knowledge.ask` (the bot's retrieval) answers at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from knowledge import Article, ArticleVersion, Result, Synonym, Thresholds, ask, import_path, record_feedback
from knowledge.embed import shared_embedder
from tests.conftest import Env, FakeClock, live_server, make_env
from tests.helpers import chat, tickets
from tests.test_admin_sla import add_account, audits, logged_in, table, text_of
from tests.test_knowledge import ARTICLES as KB_ARTICLES
from tickets import service
from tickets.audit import Actor
from tickets.models import Hospital, Ticket

ARTICLES = [
    *KB_ARTICLES,
    {"id": "oa-pwd", "system": "某个没签合同的系统", "question": "办公系统密码忘了怎么重置",
     "answer": "在登录页点【忘记密码】，用手机验证码重置。", "status": "draft"},
]
# The bot's thresholds in these tests: answer only when near-certain (a verbatim question or alias).
THRESHOLDS = Thresholds(answer=0.95, suggest=0.3, margin=0.02)
NEW_ALIAS = "出院小结里的诊断写错了能改吗"  # nothing says this before the edit adds it as an alias
RECEIPT = "电子收据开错了怎么冲红"  # "收据" means "票据" only once the synonym is added


@pytest.fixture
def kb_env(tmp_path: Path, db_url: str, clock: FakeClock) -> Iterator[Env]:
    """Demo data plus four articles (one a draft whose system matched no contract)."""
    env = make_env(tmp_path, db_url, clock, kb_answer=THRESHOLDS.answer, kb_suggest=THRESHOLDS.suggest,
                   kb_margin=THRESHOLDS.margin)
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES) + "\n", encoding="utf-8")
    with env.db.session() as session:
        report = import_path(session, path, "import", clock(), embedder=shared_embedder())
    assert report.added == 4 and not report.errors and report.flagged == ["oa-pwd"]
    yield env
    env.db.dispose()


def article(env: Env, key: str) -> Article:
    with env.db.session() as session:
        return session.exec(select(Article).where(Article.key == key)).one()


def asked(env: Env, text: str, hospital: str | None) -> Result:
    """What the bot's retrieval answers ``text`` asked by someone of ``hospital``."""
    with env.db.session() as session:
        hospital_id = session.exec(select(Hospital.id).where(Hospital.key == hospital)).one() if hospital else None
        return ask(session, text, hospital_id=hospital_id, thresholds=THRESHOLDS)


def listed(html: str) -> list[str]:
    """The article keys in the list page's table, in order."""
    return re.findall(r'<tr data-key="([^"]+)"', table(html, "kb-articles"))


@contextmanager
def live_server_anonymous(env: Env) -> Iterator[httpx.Client]:
    with live_server(env) as server, httpx.Client(base_url=server.base_url) as client:
        yield client


def form_of(a: Article, **changes: str) -> dict[str, str]:
    """The edit form as the page fills it in, with ``changes``."""
    data = {"question": a.question, "answer": a.answer, "aliases": "\n".join(a.aliases), "system": a.system_label,
            "system_other": "", "hospital": "", "status": a.status, "version": str(a.version)}
    data.update(changes)
    return data


def hospital_key(env: Env, hospital_id: int | None) -> str:
    if hospital_id is None:
        return ""
    with env.db.session() as session:
        return session.get(Hospital, hospital_id).key  # type: ignore[union-attr]


# -- the list --------------------------------------------------------------------------------------------

def test_list_searches_key_question_and_aliases_and_filters_by_status_and_system(kb_env: Env) -> None:
    with logged_in(kb_env) as client:
        page = client.get("/admin/kb")
        assert page.status_code == 200
        assert '<a href="/admin/kb" class="current">知识库</a>' in page.text  # the nav link, current
        assert sorted(listed(page.text)) == ["drg-export", "drg-homepage", "einv-red", "oa-pwd"]
        assert "共 4 篇" in text_of(page.text)
        oa = re.search(r'<tr data-key="oa-pwd".*?</tr>', page.text, flags=re.S)
        assert oa and "待复核" in oa.group() and "草稿" in text_of(oa.group())
        export = re.search(r'<tr data-key="drg-export".*?</tr>', page.text, flags=re.S)
        assert export and "待复核" not in export.group()
        assert "武汉市中心医院" in text_of(export.group()) and "DRG智能化综合管理系统" in export.group()
        assert f'href="/admin/kb/{article(kb_env, "drg-export").id}"' in export.group()

        assert listed(client.get("/admin/kb", params={"q": "冲红"}).text) == ["einv-red"]
        assert listed(client.get("/admin/kb", params={"q": "首页诊断改错"}).text) == ["drg-homepage"]  # an alias
        assert listed(client.get("/admin/kb", params={"q": "DRG-EXPORT"}).text) == ["drg-export"]  # the key
        assert listed(client.get("/admin/kb", params={"q": "ＤＲＧ分组"}).text) == ["drg-export"]  # full-width
        nothing = client.get("/admin/kb", params={"q": "没有这样的问题"})
        assert listed(nothing.text) == [] and "没有符合条件的文章" in nothing.text
        assert listed(client.get("/admin/kb", params={"status": "draft"}).text) == ["oa-pwd"]
        assert sorted(listed(client.get("/admin/kb", params={"status": "published"}).text)) == [
            "drg-export", "drg-homepage", "einv-red"]
        assert listed(client.get("/admin/kb", params={"system": "医疗电子票据管理系统"}).text) == ["einv-red"]
        assert listed(client.get("/admin/kb", params={"system": "DRG智能化综合管理系统", "q": "首页"}).text) == [
            "drg-homepage"]
        assert client.get("/admin/kb", params={"status": "x" * 5000, "q": "y" * 5000}).status_code == 200


# -- editing ----------------------------------------------------------------------------------------------

def test_an_edit_saves_version_two_and_the_bot_answers_with_it_at_once(kb_env: Env) -> None:
    before = asked(kb_env, NEW_ALIAS, "wuhan-central")
    assert before.decision != "answer"  # only a suggestion before the alias exists
    homepage = article(kb_env, "drg-homepage")
    new_answer = "1. 在【病案首页】→【诊断信息】里修改\n2. 点【重新分组】\n\n**已归档的首页**需先撤回。"
    with logged_in(kb_env) as client:
        page = client.get(f"/admin/kb/{homepage.id}")
        assert page.status_code == 200 and 'name="question"' in page.text and "保存为第 2 版" in page.text
        saved = client.post(f"/admin/kb/{homepage.id}", data=form_of(
            homepage, answer=new_answer, aliases=f"首页诊断改错\n{NEW_ALIAS}\n\n首页诊断改错"))
        assert saved.status_code == 200 and str(saved.url).endswith(f"/admin/kb/{homepage.id}")
        assert "已保存「drg-homepage」第 2 版" in text_of(saved.text)
        versions = table(saved.text, "kb-versions")
        assert re.findall(r'data-version="(\d+)"', versions) == ["2", "1"]
        assert "admin" in text_of(re.search(r'data-version="2".*?</tr>', versions, flags=re.S).group())  # type: ignore[union-attr]
        assert "import" in text_of(re.search(r'data-version="1".*?</tr>', versions, flags=re.S).group())  # type: ignore[union-attr]

        # The same form again (loaded at version 1): someone saved meanwhile, so it is refused.
        stale = client.post(f"/admin/kb/{homepage.id}", data=form_of(homepage, answer="旧页面上的改动"))
        assert stale.status_code == 409 and "已被修改（现在是第 2 版）" in text_of(stale.text)
        # Saving the current version unchanged makes no new version.
        same = client.post(f"/admin/kb/{homepage.id}", data=form_of(article(kb_env, "drg-homepage")))
        assert "没有改动，未生成新版本" in text_of(same.text)

        tried = client.get("/admin/kb/try", params={"q": NEW_ALIAS, "hospital": "wuhan-central"})
        assert tried.status_code == 200
        assert re.search(r'<strong id="decision">直接回答</strong>', tried.text)
        assert re.findall(r'<tr data-key="([^"]+)"', table(tried.text, "kb-hits"))[0] == "drg-homepage"

    after = article(kb_env, "drg-homepage")
    assert (after.version, after.answer, after.aliases) == (2, new_answer, ["首页诊断改错", NEW_ALIAS])
    assert after.author == "admin" and after.vectors is not None and len(after.vectors) == 3 * 512 * 4  # the question and two aliases
    with kb_env.db.session() as session:
        rows = session.exec(select(ArticleVersion).where(ArticleVersion.article_id == after.id)
                            .order_by(col(ArticleVersion.version))).all()
        assert [(v.version, v.author) for v in rows] == [(1, "import"), (2, "admin")]
    now = asked(kb_env, NEW_ALIAS, "wuhan-central")
    assert now.decision == "answer" and now.hits[0].entry.key == "drg-homepage"
    assert now.hits[0].entry.answer == new_answer
    [saved_audit] = audits(kb_env, "kb.article_saved")
    assert saved_audit.actor == "admin" and saved_audit.detail == {"key": "drg-homepage", "version": 2,
                                                                   "status": "published", "created": False}


def test_retiring_an_article_takes_it_out_of_the_answers(kb_env: Env) -> None:
    assert asked(kb_env, "电子票据开错了怎么冲红", "gdph").hits[0].entry.key == "einv-red"
    einv = article(kb_env, "einv-red")
    with logged_in(kb_env) as client:
        saved = client.post(f"/admin/kb/{einv.id}", data=form_of(einv, status="retired", hospital="gdph"))
        assert "第 2 版" in text_of(saved.text) and "已停用" in text_of(saved.text)
    assert all(h.entry.key != "einv-red" for h in asked(kb_env, "电子票据开错了怎么冲红", "gdph").hits)
    assert hospital_key(kb_env, article(kb_env, "einv-red").hospital_id) == "gdph"


def test_a_new_article_needs_a_unique_key_and_valid_fields(kb_env: Env) -> None:
    good = {"question": "挂号条打印不出来怎么办", "answer": "检查打印机后在【补打挂号条】补打。",
            "aliases": "挂号小票打不出来", "system": "门（急）诊挂号管理系统", "hospital": "shanxi-cancer",
            "status": "published"}
    cases = [
        ({"key": ""}, "请填写编号"),
        ({"key": "drg-export"}, "编号「drg-export」已被另一篇文章使用"),
        ({"key": "his 001"}, "编号不能包含空格"),
        ({"key": "k" * 201}, "编号太长"),
        ({"key": "his-001", "question": " "}, "请填写问题"),
        ({"key": "his-001", "question": "问" * 501}, "问题太长：最多 500 个字"),
        ({"key": "his-001", "answer": ""}, "请填写答案"),
        ({"key": "his-001", "answer": "答" * 20001}, "答案太长：最多 20000 个字"),
        ({"key": "his-001", "aliases": "别" * 101}, "每个最多 100 个字"),
        ({"key": "his-001", "aliases": "\n".join(f"问法{i}" for i in range(21))}, "别名太多：最多 20 个"),
        ({"key": "his-001", "hospital": "nowhere"}, "请选择医院"),
        ({"key": "his-001", "status": "deleted"}, "请选择状态"),
        ({"key": "his-001", "system_other": "系" * 201}, "系统名称太长"),
    ]
    with logged_in(kb_env) as client:
        assert 'name="key"' in client.get("/admin/kb/new").text
        for changes, message in cases:
            refused = client.post("/admin/kb/new", data={**good, **changes})
            assert refused.status_code == 400, (changes, refused.status_code)
            assert message in text_of(refused.text), changes
        kept = client.post("/admin/kb/new", data={**good, "key": "drg-export"})
        assert "挂号条打印不出来怎么办" in kept.text  # the form comes back as typed

        made = client.post("/admin/kb/new", data={**good, "key": "his-001"})
        assert made.status_code == 200 and "已新建文章「his-001」（第 1 版）" in text_of(made.text)
    with kb_env.db.session() as session:
        assert len(session.exec(select(Article)).all()) == 5
    export = article(kb_env, "drg-export")
    assert (export.version, export.question) == (1, "怎么导出科室的DRG分组明细")
    new = article(kb_env, "his-001")
    assert new.system_id is not None and not new.review_note and new.aliases == ["挂号小票打不出来"]
    assert hospital_key(kb_env, new.hospital_id) == "shanxi-cancer" and new.author == "admin"
    assert [a.detail["key"] for a in audits(kb_env, "kb.article_saved")] == ["his-001"]
    hit = asked(kb_env, "挂号小票打不出来", "shanxi-cancer")
    assert hit.decision == "answer" and hit.hits[0].entry.key == "his-001"


# -- who may edit ---------------------------------------------------------------------------------------------

def test_a_hospital_account_reads_its_own_and_global_articles_only_and_cannot_edit(kb_env: Env) -> None:
    add_account(kb_env, "wugang", "wugang")  # 武汉市中心医院's own IT
    add_account(kb_env, "lina", "lina")  # the vendor's engineer: edits articles, not synonyms
    homepage, einv = article(kb_env, "drg-homepage"), article(kb_env, "einv-red")
    with logged_in(kb_env, "wugang", "pass-wugang") as client:
        assert sorted(listed(client.get("/admin/kb").text)) == ["drg-export", "drg-homepage", "oa-pwd"]
        assert listed(client.get("/admin/kb", params={"q": "冲红"}).text) == []
        assert client.get(f"/admin/kb/{einv.id}").status_code == 404  # another hospital's
        page = client.get(f"/admin/kb/{homepage.id}")
        assert page.status_code == 200 and "病案首页诊断填错了怎么修改" in page.text
        assert "保存为第" not in page.text and "只能查看知识库" in page.text
        refused = client.post(f"/admin/kb/{homepage.id}", data=form_of(homepage, answer="改掉"))
        assert refused.status_code == 403 and "只有管理员和维保方的工程师、经理可以修改知识库" in refused.text
        assert client.post(f"/admin/kb/{einv.id}", data=form_of(einv, answer="改掉")).status_code == 404
        assert client.get("/admin/kb/new").status_code == 403
        assert client.post("/admin/kb/new", data={"key": "x-1", "question": "问", "answer": "答"}).status_code == 403
        assert client.get("/admin/kb/review").status_code == 403
        assert client.post("/admin/kb/synonyms", data={"term": "收据", "canonical": "票据"}).status_code == 403
        tried = client.get("/admin/kb/try", params={"q": "电子票据开错了怎么冲红", "hospital": "gdph"})
        assert tried.status_code == 400  # not a hospital this account may ask as
        tried = client.get("/admin/kb/try", params={"q": "电子票据开错了怎么冲红"})
        assert "einv-red" not in tried.text and "不限医院" not in tried.text
    with logged_in(kb_env, "lina", "pass-lina") as client:
        saved = client.post(f"/admin/kb/{homepage.id}", data=form_of(homepage, answer="李娜改过的答案"))
        assert saved.status_code == 200 and "第 2 版" in text_of(saved.text)
        assert client.post("/admin/kb/synonyms", data={"term": "收据", "canonical": "票据"}).status_code == 403
    assert (article(kb_env, "drg-homepage").version, article(kb_env, "drg-homepage").answer) == (2, "李娜改过的答案")
    assert [a.actor for a in audits(kb_env, "kb.article_saved")] == ["lina"]
    with kb_env.db.session() as session:
        assert session.exec(select(Synonym)).first() is None
        assert len(session.exec(select(Article)).all()) == 4


# -- synonyms -------------------------------------------------------------------------------------------------

def test_synonym_edits_change_what_the_bot_finds(kb_env: Env) -> None:
    before = asked(kb_env, RECEIPT, "gdph")
    assert before.decision != "answer" and before.hits[0].score < 1.0
    with logged_in(kb_env) as client:
        added = client.post("/admin/kb/synonyms", data={"term": "收据", "canonical": "票据"})
        assert added.status_code == 200 and "已添加同义词：收据 → 票据" in text_of(added.text)
        assert 'data-term="收据"' in added.text
        after = asked(kb_env, RECEIPT, "gdph")
        assert after.decision == "answer" and after.hits[0].entry.key == "einv-red"
        tried = client.get("/admin/kb/try", params={"q": RECEIPT, "hospital": "gdph"})
        assert re.search(r'<strong id="decision">直接回答</strong>', tried.text)

        for data, message in [({"term": "", "canonical": "票据"}, "请填写词语"),
                              ({"term": "收据", "canonical": " "}, "请填写它对应的标准说法"),
                              ({"term": "据" * 51, "canonical": "票据"}, "词语太长：最多 50 个字"),
                              ({"term": "收条", "canonical": "票" * 51}, "标准说法太长"),
                              ({"term": "票据", "canonical": "票据"}, "无需添加"),
                              ({"term": "收据", "canonical": "单据"}, "「收据」已在同义词表中")]:
            refused = client.post("/admin/kb/synonyms", data=data)
            assert refused.status_code == 400 and message in text_of(refused.text), data

        with kb_env.db.session() as session:
            row = session.exec(select(Synonym)).one()
        # Changed in the same clock second as it was added: the index must still notice.
        changed = client.post(f"/admin/kb/synonyms/{row.id}", data={"term": "收据", "canonical": "单据"})
        assert "已修改同义词：收据 → 单据" in text_of(changed.text)
        assert asked(kb_env, RECEIPT, "gdph").decision != "answer"
        assert client.post("/admin/kb/synonyms/999999", data={"term": "a", "canonical": "b"}).status_code == 404

        client.post(f"/admin/kb/synonyms/{row.id}", data={"term": "ＳＨＯＵＪＵ", "canonical": "票据"})
        assert asked(kb_env, "电子shouju开错了怎么冲红", "gdph").decision == "answer"  # stored as typed people match
        deleted = client.post(f"/admin/kb/synonyms/{row.id}/delete")
        assert "已删除同义词：shouju → 票据" in text_of(deleted.text) and "data-term=" not in deleted.text
        assert asked(kb_env, "电子shouju开错了怎么冲红", "gdph").decision != "answer"
    assert [(a.detail["term"], a.detail["canonical"]) for a in audits(kb_env, "kb.synonym_saved")] == [
        ("收据", "票据"), ("收据", "单据"), ("shouju", "票据")]
    assert [a.detail["term"] for a in audits(kb_env, "kb.synonym_deleted")] == ["shouju"]


# -- drafts from tickets ----------------------------------------------------------------------------------------

def test_a_resolved_ticket_becomes_a_draft_article(kb_env: Env) -> None:
    chat(kb_env, "liufang", "DRG系统里出院病人的分组结果怎么打印")
    [ticket] = tickets(kb_env)
    chat(kb_env, "zhangwei", f"回 {ticket.id} 在【分组结果】里选中病人后点【打印】即可")
    with logged_in(kb_env) as client:
        page = client.get(f"/admin/tickets/{ticket.id}")
        assert "生成知识库草稿" not in page.text  # not resolved yet
        early = client.post(f"/admin/tickets/{ticket.id}/kb-draft")
        assert early.status_code == 400 and "还没有解决" in early.text

        with kb_env.db.session() as session:
            service.record_event(session, session.get(Ticket, ticket.id), "resolved", Actor("张伟"), kb_env.clock())
        page = client.get(f"/admin/tickets/{ticket.id}")
        assert f'action="/admin/tickets/{ticket.id}/kb-draft"' in page.text and "生成知识库草稿" in page.text

        made = client.post(f"/admin/tickets/{ticket.id}/kb-draft")
        assert made.status_code == 200 and re.search(r"/admin/kb/\d+$", str(made.url))
        assert f"已根据工单 #{ticket.id} 生成草稿" in text_of(made.text)
        assert f'href="/admin/tickets/{ticket.id}"' in made.text  # the source ticket
        draft = article(kb_env, f"ticket-{ticket.id}")
        assert str(made.url).endswith(f"/admin/kb/{draft.id}")
        assert draft.status == "draft" and draft.question == "DRG系统里出院病人的分组结果怎么打印"
        assert "点【打印】即可" in draft.answer and draft.source_ticket_id == ticket.id
        assert draft.author == "admin" and draft.vectors is not None

        again = client.post(f"/admin/tickets/{ticket.id}/kb-draft")  # kept as it is: no second version
        assert str(again.url) == str(made.url) and "已生成过知识库文章" in text_of(again.text)
        assert "查看由本工单生成的知识库文章" in client.get(f"/admin/tickets/{ticket.id}").text
        assert client.post("/admin/tickets/9999/kb-draft").status_code == 404
        assert client.post("/admin/tickets/abc/kb-draft").status_code == 404
    assert article(kb_env, f"ticket-{ticket.id}").version == 1
    [drafted] = audits(kb_env, "kb.article_drafted")
    assert drafted.ticket_id == ticket.id and drafted.actor == "admin"
    assert all(h.entry.key != f"ticket-{ticket.id}" for h in asked(kb_env, draft.question, None).hits)


# -- the review queue ---------------------------------------------------------------------------------------------

def _review(client: httpx.Client) -> str:
    page = client.get("/admin/kb/review")
    assert page.status_code == 200
    return page.text


def test_review_lists_failing_articles_near_duplicates_and_notes(kb_env: Env) -> None:
    homepage = article(kb_env, "drg-homepage")
    with logged_in(kb_env) as client:
        quiet = _review(client)
        assert "没有常被转人工的文章" in quiet and "没有疑似重复的文章" in quiet
        assert 'data-key="oa-pwd"' in table(quiet, "kb-noted") and "未匹配" in table(quiet, "kb-noted")

        with kb_env.db.session() as session:
            for outcome in ("shown", "handoff", "shown", "handoff", "helped"):
                record_feedback(session, homepage.id or 0, outcome, kb_env.clock(), query="首页诊断怎么改")
        client.post("/admin/kb/new", data={"key": "drg-export-2", "question": "怎么导出科室的DRG分组明细表",
                                           "answer": "同上", "system": "DRG智能化综合管理系统",
                                           "hospital": "wuhan-central", "status": "published"})
        page = _review(client)
        failing = table(page, "kb-failing")
        assert re.findall(r'data-key="([^"]+)"', failing) == ["drg-homepage"]
        assert "病案首页诊断填错了怎么修改 2 1" in text_of(failing)
        assert 'data-pair="drg-export drg-export-2"' in table(page, "kb-duplicates")
        assert 'data-key="oa-pwd"' in table(page, "kb-drafts")

        feedback = client.get(f"/admin/kb/{homepage.id}").text
        assert re.search(r'data-outcome="shown">2<', feedback) and re.search(r'data-outcome="handoff">2<', feedback)
        assert re.search(r'data-outcome="helped">1<', feedback)

        # Fixing the system clears the note: it matched a contract's system.
        oa = article(kb_env, "oa-pwd")
        client.post(f"/admin/kb/{oa.id}", data=form_of(oa, system="", system_other="综合管理平台（OA）"))
        assert 'data-key="oa-pwd"' not in table(_review(client), "kb-noted")


# -- odd input ------------------------------------------------------------------------------------------------------

def test_odd_input_gets_a_chinese_answer_never_a_server_error(kb_env: Env) -> None:
    homepage = article(kb_env, "drg-homepage")
    with logged_in(kb_env) as client:
        gets = {"/admin/kb/0": 404, "/admin/kb/abc": 404, "/admin/kb/99999999999": 404, "/admin/kb/-1": 404,
                "/admin/kb?system=%00x&status=%00&q=%00": 200, "/admin/kb/try?q=" + "问" * 501: 400,
                "/admin/kb/try?q=%00%E5%86%B2%E7%BA%A2": 200, "/admin/kb/try?q=x&hospital=nowhere": 400}
        for url, status in gets.items():
            answer = client.get(url)
            assert answer.status_code == status, (url, answer.status_code)
            if status != 200:
                assert re.search(r"没有找到|太长|请选择", answer.text), url
        posts = [
            (f"/admin/kb/{homepage.id}", {"version": "1"}, 400),  # every field missing
            (f"/admin/kb/{homepage.id}", form_of(homepage, question="首页\x00诊断", answer="答案\x00"), 200),
            ("/admin/kb/abc", {}, 404),
            (f"/admin/kb/{homepage.id}", {}, 409),
            ("/admin/kb/new", {"key": "a\x00b", "question": "问", "answer": "答"}, 400),
            ("/admin/kb/synonyms", {"term": "收\x00据", "canonical": "票据"}, 200),
            ("/admin/kb/synonyms/abc", {"term": "a", "canonical": "b"}, 404),
            ("/admin/kb/synonyms/abc/delete", {}, 404),
            ("/admin/tickets/0/kb-draft", {}, 404),
        ]
        for url, data, status in posts:
            answer = client.post(url, data=data)
            assert answer.status_code == status, (url, data, answer.status_code)
    assert article(kb_env, "drg-homepage").question == "首页诊断"
    with kb_env.db.session() as session:
        assert session.exec(select(Synonym.term)).one() == "收据"
    with live_server_anonymous(kb_env) as client:
        answer = client.get("/admin/kb")
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/login?next=/admin/kb"
        assert client.post("/admin/kb/synonyms", data={"term": "a", "canonical": "b"}).status_code == 303
