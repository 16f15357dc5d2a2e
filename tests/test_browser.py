"""The product as people see it: a real Chromium against the real app on a loopback port.

Debian's chromium (``/usr/bin/chromium``, or ``HELPDESK_TEST_CHROMIUM``) is
driven by Playwright. Where it or Playwright is missing the module skips with
that reason; under CI (``CI=true``) that is a failure instead, so a broken CI
image cannot silently stop testing the browser side.

These tests run on SQLite only (the database behaviour is covered elsewhere)
and with a real clock, because the background workers run on wall time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from admin.demo import DEMO_ADMIN
from tests import helpers
from tests.conftest import Env, live_server, make_env
from tickets import service, utcnow
from tickets.models import Person

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("HELPDESK_TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"
TIMEOUT_MS = 10_000  # workers wake at once and the chat polls every 1.5 s: 10 s is generous

try:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    UNAVAILABLE: str | None = f"playwright cannot be imported ({exc}); install the test extras"
else:
    UNAVAILABLE = None
if UNAVAILABLE is None and not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    UNAVAILABLE = f"chromium not found at {CHROMIUM} (apt-get install chromium, or set HELPDESK_TEST_CHROMIUM)"
if UNAVAILABLE and not IN_CI:
    pytest.skip(UNAVAILABLE, allow_module_level=True)

FAULT = "HIS挂号界面打不开，提示连接超时"
REPLY = "请重启读卡器后重试"


# -- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if UNAVAILABLE:  # only reached under CI: the module skips elsewhere
        pytest.fail(f"CI=true but the browser tests cannot run: {UNAVAILABLE}", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def live_env(tmp_path: Path) -> Iterator[Env]:
    """Demo data in a SQLite file, workers on, the real clock."""
    env = make_env(tmp_path, f"sqlite:///{tmp_path / 'helpdesk.db'}", utcnow, workers=True)  # type: ignore[arg-type]
    yield env
    env.db.dispose()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


def open_chat_as(page: Page, base_url: str, name: str) -> None:
    """Open the web chat and pick ``name`` from the people list, as a person would."""
    page.goto(f"{base_url}/chat")
    option = page.locator("#person option", has_text=name)
    value = option.get_attribute("value")  # waits for the list, which loads after the page
    assert value, f"no option for {name}"
    page.select_option("#person", value=value)
    expect(page.locator("#text")).to_be_enabled()


def say(page: Page, text: str) -> None:
    """Type ``text`` and press Enter; return once the line went through (the box is cleared)."""
    box = page.locator("#text")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")  # cleared at once, so typing on is safe
    expect(page.locator("#lines li.in", has_text=text).last).to_be_visible()  # it reached the server
    expect(page.locator("#error")).to_have_text("")


def line(page: Page, text: str) -> Locator:
    return page.locator("#lines li", has_text=text)


def log_in(page: Page, password: str) -> None:
    page.fill("input[name=username]", DEMO_ADMIN)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


# -- a. the web chat, reporter and engineer ---------------------------------------------------

def test_web_chat_report_claim_and_reply(live_env: Env, context: BrowserContext) -> None:
    with live_server(live_env) as server:
        nurse = context.new_page()
        open_chat_as(nurse, server.base_url, "刘芳")
        say(nurse, FAULT)
        expect(line(nurse, FAULT)).to_have_count(1)  # her own line, echoed at once
        ack = line(nurse, "工单号 #1")
        expect(ack).to_contain_text("响应时限")

        engineer = context.new_page()
        open_chat_as(engineer, server.base_url, "张伟")
        notice = engineer.locator("#lines li.group", has_text="新工单 #1")
        expect(notice).to_contain_text("武汉市中心医院")
        expect(notice).to_contain_text("接单请回复：接 1")

        say(engineer, "接 1")
        expect(line(engineer, "已接单 #1（")).to_contain_text("回 1 内容")  # the answer to him
        expect(engineer.locator("#lines li.group", has_text="张伟 已接单 #1")).to_have_count(1)  # the group's
        say(engineer, f"回 1 {REPLY}")
        expect(line(engineer, "已发给 刘芳")).to_have_count(1)

        expect(line(nurse, "张伟 已接单")).to_have_count(1)
        expect(line(nurse, REPLY)).to_contain_text("工单 #1")
        expect(nurse.locator("#error")).to_have_text("")


# -- b. the admin panel -----------------------------------------------------------------------

def test_admin_login_and_ticket_list_with_countdown(live_env: Env, context: BrowserContext,
                                                     tmp_path: Path) -> None:
    helpers.chat(live_env, "liufang", FAULT)
    assert [t.id for t in helpers.tickets(live_env)] == [1]

    with live_server(live_env) as server:
        page = context.new_page()
        page.goto(f"{server.base_url}/admin")
        expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin$"))

        log_in(page, "not-the-password")
        expect(page.get_by_role("alert")).to_have_text("用户名或密码不对")
        expect(page.locator("table.tickets")).to_have_count(0)

        log_in(page, live_env.admin_password)
        expect(page).to_have_url(f"{server.base_url}/admin")
        table = page.locator("table.tickets")
        expect(table).to_be_visible()
        headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        wanted = ["工单", "医院", "系统", "级别", "状态", "报障时间", "响应时限", "剩余"]
        assert [h for h in headers if h in wanted] == wanted, headers

        row = table.locator("tbody tr", has=page.locator("a[href='/admin/tickets/1']"))
        expect(row).to_have_count(1)
        expect(row.locator("td").first).to_have_text("#1")
        expect(row).to_contain_text("武汉市中心医院")
        expect(row).to_contain_text("待接单")

        left = row.locator("td").last.locator("span.left")
        expect(left).to_have_text(re.compile(r"^\d+时\d{2}分\d{2}秒$|^\d+分\d{2}秒$"))
        first = left.inner_text()
        expect(left).not_to_have_text(first, timeout=2_500)  # ticks every second

        shot = tmp_path / "tickets.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0

        row.locator("a").click()
        expect(page).to_have_url(f"{server.base_url}/admin/tickets/1")
        expect(page.locator("h1")).to_contain_text("工单 #1")
        expect(page.locator("table.messages")).to_contain_text(FAULT)


# -- c. nothing leaves the intranet -------------------------------------------------------------

def test_pages_load_only_same_origin_assets(live_env: Env, context: BrowserContext) -> None:
    helpers.chat(live_env, "liufang", FAULT)
    requested: list[str] = []
    failed: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    context.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))

    with live_server(live_env) as server:
        page = context.new_page()
        open_chat_as(page, server.base_url, "刘芳")
        expect(line(page, "工单号 #1")).to_have_count(1)  # the poll ran
        page.goto(f"{server.base_url}/admin")
        log_in(page, live_env.admin_password)
        expect(page.locator("table.tickets")).to_be_visible()
        page.goto(f"{server.base_url}/admin/tickets/1")
        expect(page.locator("h1")).to_contain_text("工单 #1")
        page.wait_for_load_state("networkidle")

    assert requested, "no requests recorded"
    foreign = [u for u in requested if not u.startswith(server.base_url + "/")]
    assert not foreign, f"pages loaded assets from elsewhere: {foreign}"
    assert any(u.endswith("/static/chat.js") for u in requested)
    assert any(u.endswith("/static/countdown.js") for u in requested)
    assert any(u.endswith("/static/style.css") for u in requested)
    assert not failed, failed


# -- d. the SLA pages: calendar, a ticket's clocks, contracts, the evaluation report -------------

SHANXI_FAULT = "挂号系统打不开，无法挂号"  # 山西省肿瘤医院: its resolution clock counts working days


def test_admin_closes_a_hospital_day_and_the_tickets_clock_moves(live_env: Env, context: BrowserContext) -> None:
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from tickets.models import TicketClock

    helpers.chat(live_env, "zhaomin", SHANXI_FAULT)
    [ticket] = helpers.tickets(live_env)
    with live_env.db.session() as session:
        clock = session.exec(select(TicketClock).where(TicketClock.ticket_id == ticket.id,
                                                       TicketClock.name == "resolution")).one()
    assert clock.due_at is not None
    due_day = clock.due_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()

    with live_server(live_env) as server:
        page = context.new_page()
        page.goto(f"{server.base_url}/admin/calendar")
        log_in(page, live_env.admin_password)
        expect(page).to_have_url(f"{server.base_url}/admin/calendar")
        expect(page.locator("table.years tr.confirmed").first).to_contain_text("已确认")

        form = page.locator("#hospital-form")
        form.locator("select[name=hospital]").select_option(label="山西省肿瘤医院")
        form.locator("input[name=day]").fill(due_day)
        form.locator("select[name=kind]").select_option("closed")
        form.locator("input[name=note]").fill("院庆停诊")
        form.locator("button[type=submit]").click()
        expect(page.get_by_role("status")).to_contain_text("已重算 1 张未结工单的时钟")
        expect(page.locator("table[data-hospital='shanxi-cancer']")).to_contain_text(f"{due_day}")
        expect(page.locator("table[data-hospital='shanxi-cancer']")).to_contain_text("院庆停诊")

        page.locator("header nav a", has_text="工单").click()
        page.locator(f"a[href='/admin/tickets/{ticket.id}']").click()
        resolution = page.locator("tr[data-clock='resolution']")
        expect(resolution).to_contain_text("计时中")
        expect(resolution.locator("td.due")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} 18:00:00$"))
        expect(resolution.locator("td.due")).not_to_contain_text(due_day)  # moved past the closed day
        left = page.locator("tr[data-clock='response'] span.left")
        expect(left).to_have_text(re.compile(r"^\d+分\d{2}秒$"))
        first = left.inner_text()
        expect(left).not_to_have_text(first, timeout=2_500)  # the clock table counts down too


def test_contract_and_evaluation_report_pages_link_to_tickets_and_stay_on_the_intranet(
        live_env: Env, context: BrowserContext) -> None:
    helpers.chat(live_env, "liufang", FAULT)
    requested: list[str] = []
    context.on("request", lambda r: requested.append(r.url))

    with live_server(live_env) as server:
        page = context.new_page()
        page.goto(f"{server.base_url}/admin/contracts")
        log_in(page, live_env.admin_password)
        page.locator("a[href='/admin/contracts/wuhan-central-drg']").click()
        expect(page.locator("h1")).to_contain_text("DRG智能化综合管理系统")
        expect(page.locator("table.sla")).to_contain_text("致命错误")
        expect(page.locator("table.penalties")).to_contain_text("响应时间大于1小时")
        expect(page.locator("ol.readings li").first).to_contain_text("响应时间起点")

        page.locator("header nav a", has_text="评价报告").click()
        expect(page.locator("#report-form select[name=contract]")).to_have_value("wuhan-central-drg")
        expect(page.locator("p.period")).to_contain_text("工单 1 张")
        expect(page.locator("#grade")).to_have_text("优秀")  # answered in time so far: nothing breached
        expect(page.locator("#pass-rate")).to_have_text("100.0%")
        expect(page.locator("table.responses-over")).to_contain_text("没有响应超时的工单")

        page.locator("#report-form input[name=from]").fill("2026-01-01")
        page.locator("#report-form input[name=to]").fill("2025-12-31")
        page.locator("#report-form button[type=submit]").click()
        expect(page.get_by_role("alert")).to_have_text("截止日期早于起始日期，请检查统计期间。")

        page.go_back()
        page.locator("table.faults a.ticket-link", has_text="#1").click()
        expect(page).to_have_url(f"{server.base_url}/admin/tickets/1")
        expect(page.locator("table.clocks tr[data-clock='response']")).to_contain_text("计时中")
        page.wait_for_load_state("networkidle")

    foreign = [u for u in requested if not u.startswith(server.base_url + "/")]
    assert not foreign, f"pages loaded assets from elsewhere: {foreign}"


# -- e. the knowledge base: find an article, edit it, try the question -------------------------------

def test_admin_edits_a_knowledge_base_article_and_the_try_box_answers_with_it(
        live_env: Env, context: BrowserContext, tmp_path: Path) -> None:
    import json

    from knowledge import import_path
    from knowledge.embed import shared_embedder

    articles = [
        {"id": "einv-red", "system": "医疗电子票据管理系统", "question": "电子票据开错了怎么冲红",
         "answer": "【票据管理】→【票据查询】找到该票，点【冲红】并填写原因。", "aliases": ["票据红冲"], "hospital": "gdph"},
        {"id": "drg-homepage", "system": "DRG", "question": "病案首页诊断填错了怎么修改",
         "answer": "在【病案首页】→【诊断信息】里修改后点【重新分组】。"},
    ]
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")
    with live_env.db.session() as session:
        assert import_path(session, path, "test", utcnow(), embedder=shared_embedder()).added == 2
    requested: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    new_alias = "收费处开的电子发票要作废重开"

    with live_server(live_env) as server:
        page = context.new_page()
        page.goto(f"{server.base_url}/admin/kb")
        log_in(page, live_env.admin_password)
        expect(page).to_have_url(f"{server.base_url}/admin/kb")
        expect(page.locator("header nav a.current")).to_have_text("知识库")
        page.locator("#kb-search input[name=q]").fill("冲红")
        page.locator("#kb-search button[type=submit]").click()
        rows = page.locator("table.kb-articles tbody tr")
        expect(rows).to_have_count(1)
        rows.locator("a", has_text="einv-red").click()

        expect(page.locator("h1")).to_contain_text("电子票据开错了怎么冲红")
        form = page.locator("#article-form")
        expect(form.locator("select[name=hospital]")).to_have_value("gdph")
        form.locator("textarea[name=aliases]").fill(f"票据红冲\n{new_alias}")
        form.locator("button[type=submit]").click()
        expect(page.get_by_role("status")).to_contain_text("已保存「einv-red」第 2 版")
        expect(page.locator("table.kb-versions tbody tr")).to_have_count(2)

        page.locator("nav.subnav a", has_text="试问").click()
        page.locator("#kb-try input[name=q]").fill(new_alias)
        page.locator("#kb-try select[name=hospital]").select_option("gdph")
        page.locator("#kb-try button[type=submit]").click()
        expect(page.locator("#decision")).to_have_text("直接回答")
        expect(page.locator("table.kb-hits tbody tr").first).to_contain_text("einv-red")
        page.wait_for_load_state("networkidle")

    foreign = [u for u in requested if not u.startswith(server.base_url + "/")]
    assert not foreign, f"pages loaded assets from elsewhere: {foreign}"


# -- f. the phone ticket form (issue 7) -------------------------------------------------------

def test_engineer_takes_a_call_on_the_phone_form_with_the_keyboard(live_env: Env, context: BrowserContext) -> None:
    """Caller found by number and picked with Enter, only that contract's systems offered, Ctrl+Enter sends."""
    with live_env.db.session() as session:
        chenjing = helpers.person(live_env, "chenjing")
        contract = service.contract_for_hospital(session, chenjing.hospital_id or 0)
        assert contract is not None
        nanxishan_systems = [s.name for s in service.systems_of(session, contract.id or 0)]
    with live_server(live_env) as server:
        page = context.new_page()
        page.goto(f"{server.base_url}/admin/login")
        log_in(page, live_env.admin_password)
        page.click("#phone-ticket")
        expect(page).to_have_url(f"{server.base_url}/admin/hotline/new")
        caller = page.locator("#caller")
        expect(caller).to_be_focused()  # one screen, typing starts at once

        caller.type("1390000000")  # ten digits: every demo reporter's number starts so
        options = page.locator("#caller-list li")
        expect(options.first).to_be_visible()
        assert options.count() >= 5
        caller.type("3")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("陈静")
        caller.press("Enter")  # picks; does not send the form
        expect(page.locator("#caller-picked")).to_contain_text("已选定：陈静")
        expect(page).to_have_url(f"{server.base_url}/admin/hotline/new")
        system = page.locator("#system_id")
        expect(system).to_be_focused()
        visible = system.locator("optgroup:not([hidden]) option").all_inner_texts()
        assert visible == nanxishan_systems  # 陈静's hospital's contract's systems only
        hidden_groups = system.locator("optgroup[hidden]")
        expect(hidden_groups).to_have_count(4)  # the other hospitals' systems are not offered
        system.press("ArrowDown")  # the first of 陈静's contract's systems
        chosen = system.locator("option:checked").inner_text()
        assert chosen == nanxishan_systems[0]

        page.locator("#description").fill("透析系统整个科室都登不上，病人在等")
        page.locator("#description").press("Control+Enter")
        expect(page).to_have_url(re.compile(r"/admin/tickets/\d+$"))
        expect(page.get_by_role("status")).to_contain_text("已为来电登记工单")
        expect(page.locator("#calls")).to_contain_text("透析系统整个科室都登不上")
        expect(page.locator(".facts")).to_contain_text(chosen)

    [ticket] = helpers.tickets(live_env)
    assert ticket.summary.startswith("透析系统整个科室都登不上")
    with live_env.db.session() as session:
        reporter = session.get(Person, ticket.reporter_id)
    assert reporter is not None and reporter.name == "陈静"
