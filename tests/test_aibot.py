"""The WeCom AI bot channel (intake.aibot) against a fake WeCom that speaks its real wire formats:
callback mode (JSON + crypto, on a real uvicorn) and the long connection (a real WebSocket server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from intake.aibot import (
    AckError,
    AckTimeout,
    AibotConnection,
    AibotCrypto,
    CallbackRejected,
    MalformedCallback,
    NotConnected,
    SendOutcomeUnknown,
    aibot_callback_router,
    claimed_card,
    claimed_key,
    make_task_id,
    parse_callback_json,
    parse_payload,
    ticket_card,
)
from intake.aibot.cards import card_update_reply, truncate
from intake.aibot.longconn import next_backoff
from intake.message import InboundMessage
from tests.conftest import FakeClock
from tests.fakes import wecom_crypto
from tests.fakes.aibot import AUTH_ERRCODE, INVALID_ERRCODE, AibotCallbackDriver, FakeAibotServer
from tests.fakes.wecom_server import LoopbackServer

TOKEN = "aibot-token"
BOT_ID = "aibZXCV1234"
SECRET = "bot-secret-value"
CHAT = "wrkSFfCgAAhospitalIT"
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


class Store:
    """A list-backed ``accept`` that dedupes by external_id, as the durable journal does."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, msg: InboundMessage) -> bool:
        with self._lock:
            self.calls += 1
            if any(m.external_id == msg.external_id for m in self.messages):
                return False
            self.messages.append(msg)
            return True


@pytest.fixture
def aes_key() -> str:
    return wecom_crypto.make_aes_key()


def _card(task_id: str = "hd-1-a1b2") -> dict[str, Any]:
    return ticket_card(task_id, "新工单 #1 DRG系统白屏", [("报修人", "刘芳"), ("科室", "心内科")],
                       [("接单", "claim:1"), ("详情", "detail:1")])


# ============================================================================ crypto


def test_crypto_interoperates_with_the_independent_implementation(aes_key: str) -> None:
    crypto = AibotCrypto(TOKEN, aes_key)
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=aes_key)

    params, expected = driver.echostr_params()
    assert crypto.verify_url(params["msg_signature"], params["timestamp"], params["nonce"],
                             params["echostr"]) == expected

    payload = driver.text("liufang", "@IT助手 打印机卡纸了", chatid=CHAT)
    signed = driver.sign_json(payload)
    plain = crypto.decrypt(signed.body, signed.params["msg_signature"], signed.params["timestamp"],
                           signed.params["nonce"])
    assert json.loads(plain) == payload

    reply = json.loads(crypto.encrypt_reply('{"msgtype":"text"}', nonce="n0nce", timestamp="1700000000"))
    assert set(reply) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert reply["nonce"] == "n0nce" and reply["timestamp"] == "1700000000"
    assert reply["msgsignature"] == wecom_crypto.signature(TOKEN, "1700000000", "n0nce", reply["encrypt"])
    assert wecom_crypto.decrypt(aes_key, reply["encrypt"]) == ('{"msgtype":"text"}', "")


def test_crypto_rejects_forgeries_and_garbage(aes_key: str) -> None:
    crypto = AibotCrypto(TOKEN, aes_key)
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=aes_key)
    payload = driver.text("liufang", "你好")

    def decrypt(request: Any, body: str | None = None) -> str:
        p = request.params
        return crypto.decrypt(body if body is not None else request.body, p["msg_signature"], p["timestamp"],
                              p["nonce"])

    with pytest.raises(CallbackRejected, match="signature"):
        decrypt(driver.sign_json(payload, tamper_signature=True))
    with pytest.raises(CallbackRejected, match="receive id 'wwothercorp'"):
        decrypt(driver.sign_json(payload, receive_id_override="wwothercorp"))
    with pytest.raises(CallbackRejected, match="not JSON"):
        decrypt(driver.sign_json(payload), body="<xml><Encrypt>x</Encrypt></xml>")
    with pytest.raises(CallbackRejected, match="no 'encrypt'"):
        decrypt(driver.sign_json(payload), body='{"Encrypt": "x"}')
    other_key = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=wecom_crypto.make_aes_key())
    with pytest.raises(CallbackRejected, match="padding|length|UTF-8|receive id"):
        decrypt(other_key.sign_json(payload))
    not_base64 = "!!!!"
    sig = wecom_crypto.signature(TOKEN, "1", "2", not_base64)
    with pytest.raises(CallbackRejected, match="base64"):
        crypto.verify_url(sig, "1", "2", not_base64)
    with pytest.raises(ValueError, match="43"):
        AibotCrypto(TOKEN, "short")


# ============================================================================ parse


def _parse(payload: dict[str, Any], **kw: Any) -> InboundMessage:
    msg = parse_callback_json(json.dumps(payload, ensure_ascii=False), NOW, **kw)
    assert msg is not None
    return msg


def test_parse_group_text_strips_the_mention_and_keeps_the_thread_hints() -> None:
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=wecom_crypto.make_aes_key())
    payload = driver.text("zhangwei", "@IT助手\u2005接 12", chatid=CHAT, msgid="CAIQmsg1")
    msg = _parse(payload)
    assert (msg.channel, msg.external_id, msg.sender, msg.msg_type, msg.text) == (
        "aibot", "CAIQmsg1", "zhangwei", "text", "接 12")
    assert msg.channel_ts == NOW == msg.received_at  # messages carry no create_time
    assert msg.thread_hints == {"chatid": CHAT, "chattype": "group", "response_url": payload["response_url"],
                                "aibotid": "AIBOTID01", "quote_text": ""}
    assert msg.raw == payload
    # With the bot's name known, only that mention goes, wherever it is.
    named = _parse(driver.text("zhangwei", "@张伟 @IT助手 帮看下", chatid=CHAT), bot_name="IT助手")
    assert named.text == "@张伟 帮看下"
    # A 1:1 chat has no mention to strip.
    assert _parse(driver.text("liufang", "@所有人 都打不开")).text == "@所有人 都打不开"


def test_parse_mixed_and_quote() -> None:
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=wecom_crypto.make_aes_key())
    mixed = _parse(driver.mixed("liufang", [("text", "@IT助手 屏幕报错如图"), ("image", "https://cos/x.png")],
                                chatid=CHAT))
    assert (mixed.msg_type, mixed.text) == ("text", "屏幕报错如图")
    assert mixed.attachments == [{"kind": "image", "url": "https://cos/x.png"}]

    quote = {"msgtype": "text", "text": {"content": "HIS 登录报错 E1023"}}
    replied = _parse(driver.text("zhangwei", "@IT助手 这个已处理", chatid=CHAT, quote=quote))
    assert replied.text == "这个已处理"
    assert replied.thread_hints["quote_text"] == "HIS 登录报错 E1023"
    quoted_mixed = {"msgtype": "mixed", "mixed": {"msg_item": [
        {"msgtype": "text", "text": {"content": "截图"}}, {"msgtype": "image", "image": {"url": "u"}}]}}
    assert _parse(driver.text("a", "@b c", chatid=CHAT, quote=quoted_mixed)).thread_hints["quote_text"] == "截图"
    assert _parse(driver.text("a", "@b c", chatid=CHAT, quote={"msgtype": "image", "image": {"url": "u"}}),
                  ).thread_hints["quote_text"] == "[图片]"


def test_parse_card_event_and_enter_chat() -> None:
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=wecom_crypto.make_aes_key())
    click = driver.card_click("zhangwei", "claim:12", "hd-12-x", chatid=CHAT, create_time=1700000000,
                              msgid="CAIQclick")
    msg = _parse(click)
    assert (msg.msg_type, msg.text, msg.sender, msg.external_id) == ("card_event", "claim:12", "zhangwei",
                                                                     "CAIQclick")
    assert msg.channel_ts == datetime.fromtimestamp(1700000000, UTC)
    assert {k: msg.thread_hints[k] for k in ("event_key", "task_id", "card_type", "eventtype")} == {
        "event_key": "claim:12", "task_id": "hd-12-x", "card_type": "button_interaction",
        "eventtype": "template_card_event"}
    assert msg.raw["event"]["template_card_event"]["task_id"] == "hd-12-x"

    enter = _parse(driver.enter_chat("liufang", create_time=1700000100, msgid="CAIQenter"))
    assert (enter.msg_type, enter.external_id, enter.text) == ("enter_chat", "CAIQenter", "")
    # Without a msgid the key is stable across redeliveries and differs between events.
    no_id = driver.enter_chat("liufang", create_time=1700000100)
    del no_id["msgid"]
    assert _parse(no_id).external_id == _parse(dict(no_id)).external_id == (
        "event:AIBOTID01:liufang:1700000100:enter_chat:")
    no_id["create_time"] = 1700000200
    assert _parse(no_id).external_id.endswith(":1700000200:enter_chat:")


def test_parse_stream_refresh_is_not_a_message_and_malformed_raises() -> None:
    driver = AibotCallbackDriver("http://unused", token=TOKEN, aes_key=wecom_crypto.make_aes_key())
    assert parse_callback_json(json.dumps(driver.stream_refresh("liufang", "stream-1")), NOW) is None
    for bad in ("not json", "[1, 2]", '{"msgid": "x"}', '{"msgtype": "text", "text": {"content": "hi"}}',
                '{"msgtype": "event", "from": {"userid": "a"}}',
                '{"msgtype": "event", "create_time": "soon", "event": {"eventtype": "enter_chat"}}'):
        with pytest.raises(MalformedCallback):
            parse_callback_json(bad, NOW)


# ============================================================================ callback router


@contextlib.contextmanager
def callback_app(aes_key: str, store: Store, on_card_event: Any = None, **kw: Any,
                 ) -> Iterator[AibotCallbackDriver]:
    app = FastAPI()
    app.include_router(aibot_callback_router(AibotCrypto(TOKEN, aes_key), store, FakeClock(NOW),
                                             on_card_event=on_card_event, **kw))
    with LoopbackServer(app) as server:
        yield AibotCallbackDriver(server.base_url, token=TOKEN, aes_key=aes_key)


def test_router_handshake_and_one_message_delivered_three_times(aes_key: str) -> None:
    store = Store()
    with callback_app(aes_key, store) as driver:
        response, expected = driver.verify_url()
        assert response.status_code == 200 and response.text == expected

        payload = driver.text("liufang", "@IT助手 DRG系统分组结果全部为空", chatid=CHAT)
        responses = driver.redeliver(payload, times=3)
    assert [(r.status_code, r.content) for r in responses] == [(200, b"")] * 3
    assert store.calls == 3
    [msg] = store.messages
    assert (msg.external_id, msg.text, msg.received_at) == (payload["msgid"], "DRG系统分组结果全部为空", NOW)


def test_router_rejects_forgeries_with_403_and_stores_nothing(aes_key: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    with callback_app(aes_key, store) as driver, caplog.at_level(logging.WARNING):
        payload = driver.text("liufang", "伪造")
        assert driver.post(payload, tamper_signature=True).status_code == 403
        assert driver.post(payload, receive_id_override="wwothercorp").status_code == 403
        assert driver.verify_url(tamper_signature=True)[0].status_code == 403
        garbage = driver.post_raw(b"not json", {"msg_signature": "x", "timestamp": "1", "nonce": "2"})
        assert garbage.status_code == 403
    assert store.calls == 0
    assert caplog.text.count("aibot callback: rejected") == 3
    assert "URL verification rejected" in caplog.text


def test_router_answers_a_card_click_with_an_encrypted_card_update(aes_key: str) -> None:
    store = Store()
    seen: list[InboundMessage] = []

    def on_card_event(msg: InboundMessage) -> dict[str, Any] | None:
        seen.append(msg)
        if msg.thread_hints["event_key"] != "claim:1":
            return None
        return claimed_card("hd-1-a1b2", "新工单 #1 DRG系统白屏", [("报修人", "刘芳")],
                            [("接单", "claim:1"), ("详情", "detail:1")], claim_key="claim:1",
                            claimed_text="张伟 已接单")

    with callback_app(aes_key, store, on_card_event) as driver:
        click = driver.card_click("zhangwei", "claim:1", "hd-1-a1b2", chatid=CHAT)
        response = driver.post(click)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        reply = driver.decrypt_reply(response)
        other = driver.post(driver.card_click("zhangwei", "detail:1", "hd-1-a1b2", chatid=CHAT))
    assert reply["response_type"] == "update_template_card" and "userids" not in reply
    card = reply["template_card"]
    assert card["task_id"] == "hd-1-a1b2" and card["card_type"] == "button_interaction"
    assert card["button_list"][0] == {"text": "张伟 已接单", "style": 2, "key": claimed_key("claim:1")}
    assert card["button_list"][1]["key"] == "detail:1"
    assert (other.status_code, other.content) == (200, b"")  # no update: an empty answer
    assert [m.msg_type for m in store.messages] == ["card_event", "card_event"]
    assert [m.thread_hints["event_key"] for m in seen] == ["claim:1", "detail:1"]


def test_router_answers_stream_refresh_unreadable_and_slow_card_handlers_empty(
        aes_key: str, caplog: pytest.LogCaptureFixture) -> None:
    store = Store()

    def slow(_msg: InboundMessage) -> dict[str, Any]:
        time.sleep(0.4)
        return _card()

    with callback_app(aes_key, store, slow, card_reply_budget_s=0.1) as driver, caplog.at_level(logging.INFO):
        refresh = driver.post(driver.stream_refresh("liufang", "stream-1", chatid=CHAT))
        unreadable = driver.post('{"msgid": "CAIQbad", "text": {"content": "no msgtype"}}')
        started = time.monotonic()
        late = driver.post(driver.card_click("zhangwei", "claim:1", "hd-1-a1b2", chatid=CHAT))
        elapsed = time.monotonic() - started
    for response in (refresh, unreadable, late):
        assert (response.status_code, response.content) == (200, b"")
    assert elapsed < 0.35  # answered at the budget, not when the handler finished
    assert [m.msg_type for m in store.messages] == ["card_event"]  # the refresh and the unreadable one: nothing
    assert "unreadable payload kept in log only" in caplog.text and "CAIQbad" in caplog.text
    assert "took over 0.1s" in caplog.text


# ============================================================================ long connection


@pytest.fixture
async def server() -> AsyncIterator[FakeAibotServer]:
    async with FakeAibotServer(BOT_ID, SECRET) as fake:
        yield fake


def connection(server: FakeAibotServer, store: Store, **kw: Any) -> AibotConnection:
    options: dict[str, Any] = {"heartbeat_s": 30.0, "ack_timeout_s": 1.0, "backoff_initial_s": 0.02,
                               "backoff_max_s": 0.2, "proxy": None}
    options.update(kw)
    secret = options.pop("secret", SECRET)
    return AibotConnection(server.url, BOT_ID, secret, store, FakeClock(NOW), **options)


@contextlib.asynccontextmanager
async def running(conn: AibotConnection, *, wait: bool = True) -> AsyncIterator[AibotConnection]:
    stop = asyncio.Event()
    task = asyncio.create_task(conn.run(stop))
    try:
        if wait:
            await conn.wait_connected(3.0)
        yield conn
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def _group_text(msgid: str, content: str) -> dict[str, Any]:
    return {"msgid": msgid, "aibotid": BOT_ID, "chatid": CHAT, "chattype": "group",
            "from": {"userid": "liufang"}, "msgtype": "text", "text": {"content": content}}


async def test_longconn_subscribes_receives_and_heartbeats(server: FakeAibotServer) -> None:
    store = Store()
    async with running(connection(server, store, heartbeat_s=0.03)) as conn:
        [subscribe] = server.frames("aibot_subscribe")
        assert subscribe["body"] == {"bot_id": BOT_ID, "secret": SECRET}
        assert subscribe["headers"]["req_id"].startswith("aibot_subscribe_")

        req_id = await server.push_message(_group_text("CAIQws1", "@IT助手 打印机卡纸"))
        await server.push_message(_group_text("CAIQws1", "@IT助手 打印机卡纸"))  # a duplicate push
        await until(lambda: store.calls == 2)
        [msg] = store.messages
        assert (msg.channel, msg.external_id, msg.sender, msg.text) == ("aibot", "CAIQws1", "liufang", "打印机卡纸")
        assert msg.thread_hints["req_id"] == req_id and msg.thread_hints["chatid"] == CHAT

        # Five heartbeats, each acked: the connection stays (two unacked ones would end it).
        pings = await server.wait_frames("ping", 5)
        assert all(set(p) == {"cmd", "headers"} and p["headers"]["req_id"].startswith("ping_") for p in pings)
        assert len({p["headers"]["req_id"] for p in pings}) == 5
        assert conn.connected and conn.subscriptions == 1 and server.connections == 1
    assert not conn.connected


async def test_longconn_sends_cards_and_markdown_and_acks_come_back(server: FakeAibotServer) -> None:
    async with running(connection(server, Store())) as conn:
        ack = await conn.send_card(CHAT, _card())
        assert ack["errcode"] == 0
        # The outbox delivers from worker threads.
        ack = await asyncio.to_thread(conn.send_markdown_sync, "liufang", "**工单 #1** 已受理", chat_type=1)
        assert ack["errcode"] == 0
        with pytest.raises(AckError) as refused:
            await conn.send_card(CHAT, {**_card(), "task_id": "有空格 的id"})
        assert refused.value.errcode == INVALID_ERRCODE
    [card_frame, markdown_frame, _] = server.frames("aibot_send_msg")
    assert card_frame["body"] == {"chatid": CHAT, "msgtype": "template_card", "template_card": _card()}
    assert markdown_frame["body"] == {"chatid": "liufang", "chat_type": 1, "msgtype": "markdown",
                                      "markdown": {"content": "**工单 #1** 已受理"}}
    assert [b["msgtype"] for b in server.sent] == ["template_card", "markdown"]


async def test_longconn_unacked_send_raises_outcome_unknown(server: FakeAibotServer) -> None:
    server.ack_sends = False
    async with running(connection(server, Store(), ack_timeout_s=0.2)) as conn:
        started = time.monotonic()
        with pytest.raises(AckTimeout, match="outcome unknown"):
            await conn.send_markdown(CHAT, "有人吗")
        assert 0.2 <= time.monotonic() - started < 1.0
        with pytest.raises(AckTimeout):
            await asyncio.to_thread(conn.send_card_sync, CHAT, _card())
        # A drop while waiting for the ack: also unknown, and reported at once.
        pending = asyncio.create_task(conn.send_markdown(CHAT, "再问一次"))
        await server.wait_frames("aibot_send_msg", 3)
        await server.drop()
        with pytest.raises(SendOutcomeUnknown, match="connection lost"):
            await pending


async def test_sending_without_a_connection_is_refused_and_nothing_is_sent(server: FakeAibotServer) -> None:
    conn = connection(server, Store())
    with pytest.raises(NotConnected):
        await conn.send_markdown(CHAT, "x")
    with pytest.raises(NotConnected):
        conn.send_card_sync(CHAT, _card())
    assert server.received == []


async def test_longconn_reconnects_after_the_server_drops_it(server: FakeAibotServer) -> None:
    store = Store()
    async with running(connection(server, store)) as conn:
        await server.drop()
        await until(lambda: server.subscriptions == 2 and conn.connected)
        await server.push_message(_group_text("CAIQafter", "@IT助手 断线后还收得到吗"))
        await until(lambda: len(store.messages) == 1)
        ack = await conn.send_markdown(CHAT, "收到")
        assert ack["errcode"] == 0
    assert store.messages[0].text == "断线后还收得到吗"
    assert list(conn.reconnect_delays) == [0.02]
    assert [r.connection for r in server.received if r.frame["cmd"] == "aibot_subscribe"] == [1, 2]


async def test_longconn_wrong_secret_backs_off_and_logs(server: FakeAibotServer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    conn = connection(server, store, secret="not-the-secret", backoff_initial_s=0.01, backoff_max_s=0.04)
    with caplog.at_level(logging.INFO, logger="intake.aibot"):
        async with running(conn, wait=False):
            await until(lambda: server.connections >= 5)
    assert list(conn.reconnect_delays)[:4] == [0.01, 0.02, 0.04, 0.04]
    assert server.subscriptions == 0 and not conn.connected and store.calls == 0
    assert f"subscription refused, check bot_id and secret: errcode={AUTH_ERRCODE}" in caplog.text
    assert "not-the-secret" not in caplog.text
    assert next_backoff(1.0, 60.0) == 2.0 and next_backoff(40.0, 60.0) == 60.0


async def test_longconn_disconnected_event_and_lost_heartbeat_reconnect(
        server: FakeAibotServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="intake.aibot"):
        async with running(connection(server, Store(), heartbeat_s=0.02)) as conn:
            for kicks in (1, 2):
                await server.push_disconnected_event()
                await until(lambda kicks=kicks: server.subscriptions == kicks + 1 and conn.connected)
            assert caplog.text.count("another connection for this bot took over") == 2
            server.ack_pings = False
            await until(lambda: server.subscriptions == 4 and conn.connected)
            assert "pings without an ack" in caplog.text
    # Kicked twice: the backoff kept growing; a lost heartbeat ends a working connection: it starts over.
    assert list(conn.reconnect_delays) == [0.02, 0.04, 0.02]


async def test_longconn_card_click_updates_the_card_for_everyone(server: FakeAibotServer) -> None:
    store = Store()

    def on_card_event(msg: InboundMessage) -> dict[str, Any]:
        card = claimed_card("ignored-task", "新工单 #1", [("报修人", "刘芳")], [("接单", "claim:1")],
                            claim_key="claim:1", claimed_text="张伟 已接单")
        del card["task_id"]  # filled in from the event
        return card

    async with running(connection(server, store, on_card_event=on_card_event)):
        click = {"msgid": "CAIQclick", "create_time": 1700000000, "aibotid": BOT_ID, "chatid": CHAT,
                 "chattype": "group", "from": {"userid": "zhangwei"}, "msgtype": "event",
                 "event": {"eventtype": "template_card_event",
                           "template_card_event": {"card_type": "button_interaction", "event_key": "claim:1",
                                                   "task_id": "hd-1-a1b2"}}}
        req_id = await server.push_event(click)
        [update] = await server.wait_frames("aibot_respond_update_msg")
        await until(lambda: len(server.updates) == 1)  # the fake validated and acked it
    assert update["headers"]["req_id"] == req_id
    assert update["body"]["response_type"] == "update_template_card"
    assert update["body"]["template_card"]["task_id"] == "hd-1-a1b2"
    assert update["body"]["template_card"]["button_list"] == [
        {"text": "张伟 已接单", "style": 2, "key": "claim:1:claimed"}]
    [msg] = store.messages
    assert (msg.msg_type, msg.thread_hints["event_key"], msg.thread_hints["req_id"]) == (
        "card_event", "claim:1", req_id)


async def test_only_one_connection_per_bot_runs_in_a_process(server: FakeAibotServer) -> None:
    async with running(connection(server, Store())):
        with pytest.raises(RuntimeError, match="already running"):
            await connection(server, Store()).run(asyncio.Event())
    assert server.connections == 1


# ============================================================================ cards


def test_ticket_card_respects_wecom_limits() -> None:
    long_title = "新工单 #1234 " + "心内科护士站打印机无法打印并且显示脱机状态" * 2
    card = ticket_card(make_task_id("hd", 1234, "7f3a"), long_title,
                       [("报修科室名称", "心血管内科一病区护士站" * 3)], [("立即接单并处理此条工单", "claim:1234")],
                       sub_title="详情" * 100)
    assert card["task_id"] == "hd-1234-7f3a"
    assert len(card["main_title"]["title"]) == 26 and card["main_title"]["title"].endswith("…")
    assert card["main_title"]["title"].startswith("新工单 #1234 心内科")
    assert card["horizontal_content_list"] == [{"keyname": "报修科室…", "value": "心血管内科一病区护士站心血管内科一病区护士站心血管…"}]
    assert card["button_list"] == [{"text": "立即接单并处理此条…", "style": 1, "key": "claim:1234"}]
    assert len(card["sub_title_text"]) == 112
    assert truncate("第一行\n  第二行", 10) == "第一行 第二行" and truncate("第一行\n第二行", 5, one_line=False) == "第一行\n…"
    assert make_task_id("hd", "工单 #9", "a/b") == "hd-____9-a_b"
    assert len(make_task_id("x" * 300)) == 128

    for bad in ({"task_id": "有 空格"}, {"task_id": "x" * 129}, {"buttons": []},
                {"buttons": [("a", "k")] * 2}, {"buttons": [("a", str(i)) for i in range(7)]},
                {"lines": [("k", "v")] * 7}):
        args: dict[str, Any] = {"task_id": "t1", "lines": [], "buttons": [("接单", "claim")]} | bad
        with pytest.raises(ValueError):
            ticket_card(args["task_id"], "标题", args["lines"], args["buttons"])


def test_claimed_card_replaces_only_the_claim_button() -> None:
    buttons = [("接单", "claim:7"), ("转派", "assign:7")]
    card = claimed_card("hd-7", "新工单 #7", [("报修人", "刘芳")], buttons, claim_key="claim:7",
                        claimed_text="欧阳娜娜娜娜娜 已接单")
    assert card["button_list"] == [{"text": "欧阳娜娜娜娜娜 已…", "style": 2, "key": "claim:7:claimed"},
                                   {"text": "转派", "style": 1, "key": "assign:7"}]
    assert {k: v for k, v in card.items() if k != "button_list"} == {
        k: v for k, v in ticket_card("hd-7", "新工单 #7", [("报修人", "刘芳")], buttons).items() if k != "button_list"}
    with pytest.raises(ValueError, match="no button"):
        claimed_card("hd-7", "t", [], buttons, claim_key="nope", claimed_text="x")
    assert card_update_reply({"card_type": "button_interaction"}, "hd-7", ["zhangwei"]) == {
        "response_type": "update_template_card", "userids": ["zhangwei"],
        "template_card": {"card_type": "button_interaction", "task_id": "hd-7"}}


def test_parse_payload_reads_long_connection_bodies() -> None:
    body = {"msgid": "m1", "aibotid": BOT_ID, "chattype": "single", "from": {"userid": "liufang"},
            "msgtype": "file", "file": {"url": "https://cos/f", "aeskey": "k" * 43}}
    msg = parse_payload(body, NOW, req_id="r1")
    assert msg is not None
    assert (msg.msg_type, msg.text, msg.thread_hints["req_id"]) == ("file", "[文件]", "r1")
    assert msg.attachments == [{"kind": "file", "url": "https://cos/f", "aeskey": "k" * 43}]
