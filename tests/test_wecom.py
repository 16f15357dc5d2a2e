"""The WeCom channel end to end: a fake WeCom (real wire format and crypto) on
loopback calls our callback and receives what we send."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from admin.app import create_app
from intake import InboundRecord
from intake.wecom import parse_callback_xml
from tests.conftest import Env, FakeClock, live_server, make_env, wait_until
from tests.fakes.wecom_crypto import make_aes_key
from tests.fakes.wecom_driver import CallbackDriver
from tests.fakes.wecom_server import FakeWeCom
from tests.helpers import outbox_rows, tickets
from tickets import outbox, utcnow
from tickets.models import Message

CORP, SECRET, AGENT, TOKEN, CHAT = "wwhospital0001", "app-secret", "1000002", "cb-token", "engineers01"
STAFF = ["liufang", "zhangwei", "lina", "wangqiang", "chenjing"]


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP, secret=SECRET, agent_id=AGENT, known_users=set(STAFF)) as f:
        f.add_chat(CHAT, ["zhangwei", "lina", "wangqiang"], owner="wangqiang")
        yield f


@pytest.fixture
def aes_key() -> str:
    return make_aes_key()


def wecom_env(tmp_path: Path, db_url: str, clock: object, fake: FakeWeCom, aes_key: str, **kw: object) -> Env:
    return make_env(tmp_path, db_url, clock,  # type: ignore[arg-type]
                    wecom_corp_id=CORP, wecom_secret=SECRET, wecom_agent_id=AGENT, wecom_token=TOKEN,
                    wecom_aes_key=aes_key, wecom_api_base=fake.base_url, wecom_engineer_chatid=CHAT, **kw)


def driver_for(base_url: str, aes_key: str) -> CallbackDriver:
    return CallbackDriver(base_url, token=TOKEN, aes_key=aes_key, corp_id=CORP, agent_id=AGENT)


def texts_to(fake: FakeWeCom, userid: str) -> list[str]:
    return [body["text"]["content"] for body in fake.delivered_to(userid) if body["msgtype"] == "text"]


def test_nurse_report_claim_and_reply_end_to_end(tmp_path: Path, db_url: str, fake: FakeWeCom, aes_key: str) -> None:
    env = wecom_env(tmp_path, db_url, utcnow, fake, aes_key, workers=True)
    with live_server(env) as server:
        driver = driver_for(server.base_url, aes_key)
        response, expected = driver.verify_url()
        assert response.status_code == 200 and response.text == expected

        # Delivered five minutes after the nurse sent it: the clock starts at CreateTime.
        create_time = int(time.time()) - 300
        resp = driver.post_text("liufang", "DRG系统分组结果全部为空", msg_id=7001, create_time=create_time)
        assert resp.status_code == 200 and resp.text == ""
        [ticket] = wait_until(lambda: tickets(env))
        assert ticket.reported_at == datetime.fromtimestamp(create_time, UTC)

        notice = wait_until(lambda: [b for b in fake.delivered("appchat") if "新工单 #1" in b["text"]["content"]])
        assert notice[0]["chatid"] == CHAT
        wait_until(lambda: any("工单号 #1" in t for t in texts_to(fake, "liufang")))

        driver.post_text("zhangwei", "接 1")
        wait_until(lambda: any("工程师 张伟 已接单" in t for t in texts_to(fake, "liufang")))
        driver.post_text("zhangwei", "回 1 请重启读卡器后重试")
        wait_until(lambda: "【工单 #1】工程师 张伟：请重启读卡器后重试" in texts_to(fake, "liufang"))
        wait_until(lambda: any("已发给 刘芳" in t for t in texts_to(fake, "zhangwei")))

    [ticket] = tickets(env)
    assert ticket.first_response_at is not None and ticket.status == "claimed"
    env.db.dispose()


def test_same_msgid_three_times_concurrently_is_one_ticket(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                           aes_key: str) -> None:
    env = wecom_env(tmp_path, db_url, utcnow, fake, aes_key)
    with live_server(env) as server:
        driver = driver_for(server.base_url, aes_key)
        xml = driver.build_text("liufang", "DRG 无法登录", msg_id=8001, create_time=int(time.time()))

        async def three() -> list[httpx.Response]:
            return await asyncio.gather(*(driver.apost_plain_xml(xml) for _ in range(3)))

        responses = asyncio.run(three())
        assert [r.status_code for r in responses] == [200, 200, 200]
        env.runtime.drain_inbound()
    with env.db.session() as session:
        assert len(session.exec(select(InboundRecord)).all()) == 1
        assert len(session.exec(select(Message).where(Message.direction == "in")).all()) == 1
    assert len(tickets(env)) == 1
    env.db.dispose()


def test_forged_callbacks_get_403_and_no_ticket(tmp_path: Path, db_url: str, fake: FakeWeCom, aes_key: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    env = wecom_env(tmp_path, db_url, utcnow, fake, aes_key)
    with live_server(env) as server, caplog.at_level(logging.WARNING):
        driver = driver_for(server.base_url, aes_key)
        assert driver.post_text("liufang", "伪造", tamper_signature=True).status_code == 403
        assert driver.post_text("liufang", "别的企业", corp_id_override="wwotherCorp").status_code == 403
        assert driver.verify_url(tamper_signature=True)[0].status_code == 403
        garbage = httpx.post(f"{server.base_url}/wecom/callback?msg_signature=x&timestamp=1&nonce=2",
                             content=b"not xml at all")
        assert garbage.status_code == 403
        env.runtime.drain_inbound()
    assert tickets(env) == []
    with env.db.session() as session:
        assert session.exec(select(InboundRecord)).all() == []
    assert "rejected" in caplog.text
    env.db.dispose()


def _report_via_wecom(env: Env, driver: CallbackDriver, text: str, msg_id: int) -> None:
    xml = driver.build_text("liufang", text, msg_id=msg_id, create_time=int(env.clock().timestamp()))
    env.runtime.accept(parse_callback_xml(xml, env.clock()))
    env.runtime.drain_inbound()


def test_wecom_outage_delays_the_reply_and_loses_nothing(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                        aes_key: str, clock: FakeClock) -> None:
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    driver = driver_for("http://unused", aes_key)
    _report_via_wecom(env, driver, "DRG系统白屏", 9001)
    env.runtime.drain_outbox()

    fake.down()
    reply = driver.build_text("zhangwei", "回 1 请清空浏览器缓存后重试", msg_id=9002,
                              create_time=int(clock().timestamp()))
    env.runtime.accept(parse_callback_xml(reply, clock()))
    env.runtime.drain_inbound()
    for _ in range(4):
        assert env.runtime.deliver_due() > 0
        clock.advance(minutes=5)
    pending = [r for r in outbox_rows(env) if r.status == "pending"]
    assert pending and all(r.attempts >= 1 and r.last_error for r in pending)
    assert tickets(env)[0].first_response_at is None  # not delivered: the hospital has no answer yet

    fake.up()
    clock.advance(minutes=15)
    back_at = clock()
    env.runtime.drain_outbox()
    assert {r.status for r in outbox_rows(env)} == {"sent"}
    assert texts_to(fake, "liufang").count("【工单 #1】工程师 张伟：请清空浏览器缓存后重试") == 1
    assert tickets(env)[0].first_response_at == back_at  # the response is when it reached the reporter
    clock.advance(hours=1)
    assert env.runtime.deliver_due() == 0
    assert texts_to(fake, "liufang").count("【工单 #1】工程师 张伟：请清空浏览器缓存后重试") == 1
    env.db.dispose()


def test_crash_after_wecom_accepted_does_not_deliver_twice(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                           aes_key: str, clock: FakeClock) -> None:
    """WeCom took the message but we died before recording it: the retry is a duplicate WeCom drops."""
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    _report_via_wecom(env, driver_for("http://unused", aes_key), "DRG系统白屏", 9101)
    with env.db.session() as session:
        leased = outbox.claim_due(session, clock())
    for row in [r for r in leased if r.channel == "wecom" and not r.recipient.startswith("chat:")]:
        env.runtime.remote["wecom"].send(row)  # sent, then the process died before marking it
    clock.advance(seconds=outbox.LEASE.total_seconds() + 1)
    env.runtime.drain_outbox()
    assert {r.status for r in outbox_rows(env)} == {"sent"}
    assert len([t for t in texts_to(fake, "liufang") if "工单号 #1" in t]) == 1
    env.db.dispose()


def test_access_token_is_cached_and_refreshed_once_on_expiry(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                             aes_key: str, clock: FakeClock) -> None:
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    client = env.runtime.remote["wecom"].client  # type: ignore[attr-defined]
    client.send_text("liufang", "一")
    client.send_text("liufang", "二")
    assert len(fake.calls_to("gettoken")) == 1
    fake.expire_token()
    client.send_text("liufang", "三")
    assert len(fake.calls_to("gettoken")) == 2
    fake.invalidate_token()
    client.send_text("liufang", "四")
    assert len(fake.calls_to("gettoken")) == 3
    assert texts_to(fake, "liufang") == ["一", "二", "三", "四"]
    env.db.dispose()


def test_permanent_error_parks_the_message_and_busy_is_retried(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                                aes_key: str, clock: FakeClock) -> None:
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    fake.fail(errcode=-1, times=1, endpoints=["message/send"])  # "system busy": try again later
    _report_via_wecom(env, driver_for("http://unused", aes_key), "DRG系统白屏", 9201)
    env.runtime.deliver_due()
    clock.advance(minutes=1)
    env.runtime.drain_outbox()
    assert any("工单号 #1" in t for t in texts_to(fake, "liufang"))

    with env.db.session() as session:
        outbox.enqueue(session, channel="wecom", recipient="nobody-here", text="x", now=clock())
    env.runtime.drain_outbox()
    [dead] = [r for r in outbox_rows(env) if r.recipient == "nobody-here"]
    assert dead.status == "dead" and "81013" in dead.last_error
    env.db.dispose()


def test_without_wecom_settings_the_product_runs_and_says_so(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app(env.settings, runtime=env.runtime)
    assert "wecom: channel off" in caplog.text
    assert not any(getattr(r, "path", "") == "/wecom/callback" for r in app.routes)


def test_the_same_words_twice_reach_the_reporter_twice(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                        aes_key: str, clock: FakeClock) -> None:
    """WeCom's duplicate check would drop a legitimate repeat while answering success: first attempts never use it."""
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    driver = driver_for("http://unused", aes_key)
    _report_via_wecom(env, driver, "DRG系统白屏", 9301)
    for msg_id in (9302, 9303):
        clock.advance(minutes=1)
        xml = driver.build_text("zhangwei", "回 1 好的", msg_id=msg_id, create_time=int(clock().timestamp()))
        env.runtime.accept(parse_callback_xml(xml, clock()))
        env.runtime.drain_inbound()
        env.runtime.drain_outbox()
    assert texts_to(fake, "liufang").count("【工单 #1】工程师 张伟：好的") == 2
    assert not any(c.outcome == "duplicate" for c in fake.calls)
    env.db.dispose()


def test_cli_creates_the_engineers_group(tmp_path: Path, fake: FakeWeCom) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")} | {
        "HELPDESK_VAR_DIR": str(tmp_path), "HELPDESK_WECOM_CORP_ID": CORP, "HELPDESK_WECOM_SECRET": SECRET,
        "HELPDESK_WECOM_AGENT_ID": AGENT, "HELPDESK_WECOM_API_BASE": fake.base_url}
    helpdesk = str(Path(sys.executable).parent / "helpdesk")
    result = subprocess.run([helpdesk, "wecom", "create-group", "维保工程师群", "--owner", "wangqiang",
                             "--members", "zhangwei,lina", "--chatid", "hdeng01"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hdeng01"
    [created] = [c.body for c in fake.calls_to("appchat/create")]
    assert created["owner"] == "wangqiang" and set(created["userlist"]) == {"wangqiang", "zhangwei", "lina"}
    assert fake.delivered("appchat")[0]["chatid"] == "hdeng01"


def test_an_earlier_message_delivered_late_moves_reported_at_back(tmp_path: Path, db_url: str, fake: FakeWeCom,
                                                                  aes_key: str, clock: FakeClock) -> None:
    """WeCom delivered the nurse's second message first (the first was retried): the clock still starts at the first."""
    env = wecom_env(tmp_path, db_url, clock, fake, aes_key)
    driver = driver_for("http://unused", aes_key)
    first_sent = int(clock().timestamp()) - 240
    second = driver.build_text("liufang", "补充：整个科室都这样", msg_id=9402, create_time=first_sent + 60)
    first = driver.build_text("liufang", "DRG系统白屏", msg_id=9401, create_time=first_sent)
    for xml in (second, first):
        env.runtime.accept(parse_callback_xml(xml, clock()))
        env.runtime.drain_inbound()
        clock.advance(seconds=30)
    [ticket] = tickets(env)
    assert ticket.reported_at == datetime.fromtimestamp(first_sent, UTC)
    assert ticket.response_due_at == ticket.reported_at + timedelta(hours=1)
    env.db.dispose()
