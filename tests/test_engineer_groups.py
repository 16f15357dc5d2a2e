"""Engineers' groups (issue 6): the new-ticket card, claiming by a tap, commands in the group,
quote-replies, reassigning, changing the level, and who may work which hospital's tickets.

Against fakes that speak WeCom's wire formats on loopback: the AI bot's long connection
(:class:`FakeAibotServer`), its callback mode (:class:`AibotCallbackDriver`, with the
answers to ``response_url`` landing on a :class:`FakeWeCom`), and the self-built app
(:class:`FakeWeCom` + :class:`CallbackDriver`) for hospitals without the AI bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from intake import InboundRecord, webchat
from tests.conftest import Env, FakeClock, live_server, make_env
from tests.fakes.aibot import AibotCallbackDriver, FakeAibotServer
from tests.fakes.wecom_crypto import make_aes_key
from tests.fakes.wecom_driver import CallbackDriver
from tests.fakes.wecom_server import FakeWeCom
from tests.helpers import chat, group_feed, outbox_rows, person, tickets, transcript
from tickets.models import AuditLog, Hospital

BOT_ID, BOT_SECRET, BOT_NAME, GROUP = "aibot-helpdesk", "bot-secret", "维保助手", "wrkSFfCgAAengineers"
CORP, SECRET, AGENT, TOKEN, APPCHAT = "wwhospital0001", "app-secret", "1000002", "cb-token", "engineers01"
STAFF = ["liufang", "zhangwei", "lina", "zhaolei", "wangqiang", "chenjing", "huanglei"]


def assignee(env: Env, number: int = 1) -> int | None:
    return next(t.assignee_id for t in tickets(env) if t.id == number)


def person_id(env: Env, userid: str) -> int:
    return person(env, userid).id or 0


# -- the AI bot, long connection ------------------------------------------------------------

@contextlib.asynccontextmanager
async def aibot_env(tmp_path: Path, db_url: str, clock: FakeClock) -> AsyncIterator[tuple[Env, FakeAibotServer]]:
    async with FakeAibotServer(BOT_ID, BOT_SECRET) as server:
        env = make_env(tmp_path, db_url, clock, aibot_bot_id=BOT_ID, aibot_secret=BOT_SECRET,
                       aibot_ws_url=server.url, aibot_name=BOT_NAME, aibot_engineer_chatid=GROUP)
        assert env.runtime.aibot is not None
        stop = asyncio.Event()
        task = asyncio.create_task(env.runtime.aibot.run(stop))
        try:
            await env.runtime.aibot.wait_connected(5)
            yield env, server
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            env.db.dispose()


def click(userid: str, key: str, task_id: str, msgid: str) -> dict[str, Any]:
    driver = AibotCallbackDriver("http://unused", token="t", aes_key=make_aes_key(), aibotid=BOT_ID)
    return driver.card_click(userid, key, task_id, chatid=GROUP, msgid=msgid, create_time=1795400000)


def group_text(userid: str, content: str, *, quote: dict[str, Any] | None = None) -> dict[str, Any]:
    driver = AibotCallbackDriver("http://unused", token="t", aes_key=make_aes_key(), aibotid=BOT_ID)
    return driver.text(userid, f"@{BOT_NAME}\u2005{content}", chatid=GROUP, quote=quote)


async def say(env: Env, server: FakeAibotServer, body: dict[str, Any]) -> None:
    """WeCom pushes a group message; wait until the connection has stored it in the journal."""
    await server.push_message(body)
    for _ in range(200):
        with env.db.session() as session:
            if session.exec(select(InboundRecord).where(InboundRecord.external_id == body["msgid"])).first():
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {body['msgid']} was never stored")


async def work(env: Env) -> None:
    """What the workers do between events: process the journal, deliver the outbox (off the loop)."""
    await asyncio.to_thread(env.runtime.drain_inbound)
    await asyncio.to_thread(env.runtime.drain_outbox)


async def test_new_ticket_is_a_card_in_the_group_and_a_tap_claims_it_for_everyone(
        tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    async with aibot_env(tmp_path, db_url, clock) as (env, server):
        await asyncio.to_thread(chat, env, "liufang", "DRG分组结果全部为空，病案首页上传失败")
        [sent] = await server.wait_frames("aibot_send_msg")
        body = sent["body"]
        assert body["chatid"] == GROUP and body["msgtype"] == "template_card"
        card = body["template_card"]
        lines = {row["keyname"]: row["value"] for row in card["horizontal_content_list"]}
        assert card["main_title"]["title"] == "新工单 #1"
        assert lines["医院"] == "武汉市中心医院" and lines["报障人"] == "心血管内科 刘芳"
        assert lines["级别"].startswith("致命错误") and "还有" in lines["响应时限"]
        assert "DRG分组结果全部为空" in card["sub_title_text"]
        assert [(b["text"], b["key"]) for b in card["button_list"]] == [("接单", "claim:1"), ("详情", "detail:1")]

        await server.push_event(click("zhangwei", "claim:1", card["task_id"], "CAIQclick1"))
        [update] = await server.wait_frames("aibot_respond_update_msg")
        replaced = update["body"]["template_card"]
        assert replaced["task_id"] == card["task_id"]
        assert replaced["button_list"][0] == {"text": "张伟 已接单", "style": 2, "key": "claim:1:claimed"}
        assert assignee(env) == person_id(env, "zhangwei")
        await work(env)
        assert "工程师 张伟 已接单，正在处理您的工单 #1。" in transcript(env, "liufang")

        # A colleague taps the same card later: nothing changes, the card says who has it,
        # and he is told so privately.
        await server.push_event(click("lina", "claim:1", card["task_id"], "CAIQclick2"))
        updates = await server.wait_frames("aibot_respond_update_msg", 2)
        assert updates[1]["body"]["template_card"]["button_list"][0]["text"] == "张伟 已接单"
        assert assignee(env) == person_id(env, "zhangwei")
        await work(env)
        private = [f["body"] for f in server.frames("aibot_send_msg") if f["body"]["chatid"] == "lina"]
        assert [p["markdown"]["content"] for p in private] == ["工单 #1 已由 张伟 接单。"]
        # The same click delivered twice claims nothing twice.
        await server.push_event(click("zhangwei", "claim:1", card["task_id"], "CAIQclick1"))
        await server.wait_frames("aibot_respond_update_msg", 3)
    with env.db.session() as session:
        claims = session.exec(select(AuditLog).where(AuditLog.action == "ticket.claimed")).all()
    assert len(claims) == 1


async def test_commands_in_the_group_and_a_quote_reply_reach_the_reporter(
        tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    async with aibot_env(tmp_path, db_url, clock) as (env, server):
        await asyncio.to_thread(chat, env, "liufang", "DRG分组结果全部为空")
        await server.wait_frames("aibot_send_msg")
        await say(env, server, group_text("zhangwei", "接 1"))
        await work(env)
        answers = [f["body"] for f in server.frames("aibot_send_msg") if f["body"]["msgtype"] == "markdown"]
        assert answers[-1]["chatid"] == GROUP and answers[-1]["markdown"]["content"].startswith("已接单 #1")

        # Quote-reply to the card with @bot and text: a reply to that ticket's reporter.
        quote = {"msgtype": "template_card", "template_card": {"main_title": {"title": "新工单 #1"}}}
        await say(env, server, group_text("zhangwei", "已远程重启分组服务，请再试", quote=quote))
        await work(env)
        assert "【工单 #1】工程师 张伟：已远程重启分组服务，请再试" in transcript(env, "liufang")
        # A quoted text notice works the same way.
        quote = {"msgtype": "text", "text": {"content": "【新工单 #1】武汉市中心医院 · DRG"}}
        await say(env, server, group_text("zhangwei", "回 好的", quote=quote))
        await work(env)
        assert "【工单 #1】工程师 张伟：好的" in transcript(env, "liufang")


# -- the AI bot, callback mode --------------------------------------------------------------

@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP, secret=SECRET, agent_id=AGENT, known_users=set(STAFF)) as f:
        f.add_chat(APPCHAT, ["zhangwei", "lina", "wangqiang"], owner="wangqiang")
        yield f


def test_callback_mode_answers_through_response_url_and_updates_the_tapped_card(
        tmp_path: Path, db_url: str, clock: FakeClock, fake: FakeWeCom) -> None:
    aes_key = make_aes_key()
    env = make_env(tmp_path, db_url, clock, aibot_token="bot-token", aibot_aes_key=aes_key, aibot_name=BOT_NAME)
    chat(env, "liufang", "DRG分组结果全部为空")
    with live_server(env) as server:
        driver = AibotCallbackDriver(server.base_url, token="bot-token", aes_key=aes_key, aibotid=BOT_ID,
                                     response_base=fake.base_url)
        resp = driver.post(driver.text("lina", f"@{BOT_NAME} 查 1", chatid=GROUP))
        assert resp.status_code == 200
        env.runtime.drain_inbound()
        env.runtime.drain_outbox()
        [answer] = fake.delivered("aibot_response")
        assert answer["msgtype"] == "markdown" and answer["markdown"]["content"].startswith("#1 武汉市中心医院")

        resp = driver.post(driver.card_click("lina", "claim:1", "hd-1-1795400000000", chatid=GROUP))
        reply = driver.decrypt_reply(resp)
        assert reply["response_type"] == "update_template_card"
        assert reply["template_card"]["task_id"] == "hd-1-1795400000000"
        assert reply["template_card"]["button_list"][0]["text"] == "李娜 已接单"
    assert assignee(env) == person_id(env, "lina")
    env.db.dispose()


# -- the self-built app only: text in the appchat, cards one-to-one ------------------------

def test_without_the_ai_bot_the_app_posts_text_and_sends_cards_to_the_on_duty_engineers(
        tmp_path: Path, db_url: str, clock: FakeClock, fake: FakeWeCom) -> None:
    aes_key = make_aes_key()
    env = make_env(tmp_path, db_url, clock, wecom_corp_id=CORP, wecom_secret=SECRET, wecom_agent_id=AGENT,
                   wecom_token=TOKEN, wecom_aes_key=aes_key, wecom_api_base=fake.base_url,
                   wecom_engineer_chatid=APPCHAT)
    chat(env, "liufang", "DRG分组结果全部为空")
    [notice] = [b for b in fake.delivered("appchat") if "新工单 #1" in b["text"]["content"]]
    assert notice["chatid"] == APPCHAT
    [cards] = [b for b in fake.delivered("message") if b["msgtype"] == "template_card"]
    # Wuhan's on-duty engineers: those serving every hospital; 赵磊 serves gdph and Liuzhou only.
    assert cards["touser"] == "zhangwei|lina"
    card = cards["template_card"]
    assert card["main_title"]["title"] == "新工单 #1"
    with live_server(env) as server:
        driver = CallbackDriver(server.base_url, token=TOKEN, aes_key=aes_key, corp_id=CORP, agent_id=AGENT)
        xml = driver.build_template_card_event("lina", "claim:1", card["task_id"], fake.new_response_code())
        assert driver.post_plain_xml(xml).status_code == 200
        env.runtime.drain_inbound()
        env.runtime.drain_outbox()
    [update] = fake.delivered("card_update")
    assert update["button"] == {"replace_name": "李娜 已接单"}
    assert sorted(update["userids"]) == ["lina", "zhangwei"]
    assert assignee(env) == person_id(env, "lina")
    env.db.dispose()


# -- the commands, through the web chat's engineer view -------------------------------------

def test_an_engineer_who_does_not_serve_the_hospital_is_refused(env: Env) -> None:
    chat(env, "liufang", "DRG分组结果全部为空")
    for command in ("接 1", "回 1 我看看", "查 1", "暂停 1 等待院方授权", "解决 1 已处理"):
        chat(env, "zhaolei", command)
        assert transcript(env, "zhaolei")[-1].startswith("您未被分配服务武汉市中心医院，不能处理工单 #1。"), command
    assert assignee(env) is None and tickets(env)[0].status == "new"
    chat(env, "zhaolei", "待办")
    assert transcript(env, "zhaolei")[-1] == "待认领的工单：无。"
    chat(env, "huanglei", "电子发票开不出来，提示签章失败")  # gdph: his hospital
    chat(env, "zhaolei", "接 2")
    assert transcript(env, "zhaolei")[-1].startswith("已接单 #2")


def test_transfer_goes_to_a_colleague_who_serves_the_hospital(env: Env) -> None:
    chat(env, "liufang", "DRG分组结果全部为空")
    chat(env, "zhangwei", "接 1")
    chat(env, "zhangwei", "转 1 @zhaolei 他在驻场")
    assert transcript(env, "zhangwei")[-1].startswith("您未被分配服务武汉市中心医院")  # zhaolei does not serve it
    chat(env, "zhangwei", "转 1 @李娜")
    assert transcript(env, "zhangwei")[-1] == "已将 #1 转给 李娜。"
    assert assignee(env) == person_id(env, "lina")
    assert transcript(env, "lina")[-1].startswith("张伟 把工单 #1 转给了您")
    assert group_feed(env)[-1] == "张伟 已将 #1 转给 李娜"
    chat(env, "zhangwei", "转 1 @nobody")
    assert transcript(env, "zhangwei")[-1] == "没有找到工程师「nobody」，请写同事的姓名或企业微信账号。"


def test_level_changes_recompute_the_deadline_and_tell_the_reporter(env: Env) -> None:
    chat(env, "liufang", "DRG分组结果全部为空")
    fatal_due = tickets(env)[0].response_due_at
    chat(env, "zhangwei", "降级 1 一般 只影响一个病区，有临时办法")
    ticket = tickets(env)[0]
    assert ticket.severity == "minor" and ticket.severity_confirmed
    assert ticket.response_due_at is not None and fatal_due is not None and ticket.response_due_at > fatal_due
    assert transcript(env, "liufang")[-1].startswith("工单 #1 级别已调整为「一般错误」：只影响一个病区，有临时办法")
    assert transcript(env, "zhangwei")[-1].startswith("已将 #1 从「致命错误」调整为「一般错误」。")
    chat(env, "zhangwei", "降级 1 严重 不对")
    assert transcript(env, "zhangwei")[-1].startswith("「严重错误」不比当前级别「一般错误」更低")
    chat(env, "zhangwei", "升级 1 一级 全院无法分组")
    assert tickets(env)[0].severity == "fatal" and tickets(env)[0].response_due_at == fatal_due
    chat(env, "zhangwei", "升级 1 P9 乱写")
    assert transcript(env, "zhangwei")[-1].startswith("合同里没有「P9」这一级别")
    with env.db.session() as session:
        notes = [a.detail.get("note") for a in session.exec(
            select(AuditLog).where(AuditLog.action == "ticket.severity_set")) if a.actor == "张伟"]
    assert notes == ["只影响一个病区，有临时办法", "全院无法分组"]


def test_a_hospital_with_its_own_group_gets_its_cards_there(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    env = make_env(tmp_path, db_url, clock, aibot_token="t", aibot_aes_key=make_aes_key(),
                   aibot_bot_id=BOT_ID, aibot_secret=BOT_SECRET, aibot_engineer_chatid=GROUP)
    with env.db.session() as session:
        wuhan = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        wuhan.engineer_chatid = "wrkWuhanGroup"
        session.add(wuhan)
    chat_without_delivery(env, "liufang", "DRG分组结果全部为空")
    chat_without_delivery(env, "chenjing", "透析机数据不上传")
    cards = [(r.recipient, r.ticket_id) for r in outbox_rows(env) if r.channel == "aibot"]
    assert cards == [("chat:wrkWuhanGroup", 1), (f"chat:{GROUP}", 2)]
    assert all(isinstance(r.payload, dict) and "card" in r.payload for r in outbox_rows(env) if r.channel == "aibot")
    env.db.dispose()


def chat_without_delivery(env: Env, who: str, text: str) -> None:
    """``who`` writes in the web chat and the bot handles it; the outbox is left as written."""
    p = person(env, who)
    env.runtime.accept(webchat.inbound(p.id or 0, text, uuid.uuid4().hex, env.clock(), p.name))
    env.runtime.drain_inbound()

