"""Several workers sharing one journal and one outbox, as several processes would."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from sqlmodel import col, select

from admin.app import build_runtime
from intake import InboundRecord, journal, webchat
from tests.conftest import Env, FakeClock
from tests.helpers import outbox_rows, person, tickets, transcript
from tickets.models import Message

SENDERS = ["liufang", "chenjing", "huanglei", "zhouting", "sunli"]


def test_two_workers_process_each_message_once_and_each_sender_in_order(env: Env, tmp_path: Path) -> None:
    # A second runtime with its own engine (its own connections) stands for a second process.
    other = build_runtime(env.settings, clock=env.clock)
    people = {who: person(env, who) for who in SENDERS}
    for i in range(8):
        for who in SENDERS:
            p = people[who]
            env.runtime.accept(webchat.inbound(p.id or 0, f"{who} 第{i}条：系统报错", uuid.uuid4().hex, env.clock(), p.name))

    def work(runtime: object) -> None:
        while runtime.process_next():  # type: ignore[attr-defined]
            pass

    threads = [threading.Thread(target=work, args=(rt,)) for rt in (env.runtime, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    other.db.dispose()

    assert len(tickets(env)) == len(SENDERS)
    with env.db.session() as session:
        records = session.exec(select(InboundRecord)).all()
        assert {r.status for r in records} == {"done"}
        for who in SENDERS:
            ticket_msgs = session.exec(
                select(Message).where(Message.author_id == people[who].id, Message.direction == "in")
                .order_by(col(Message.id))).all()
            assert [m.text for m in ticket_msgs] == [f"{who} 第{i}条：系统报错" for i in range(8)]


def test_a_message_that_keeps_failing_is_parked_visibly_and_does_not_block_others(env: Env, clock: FakeClock) -> None:
    nurse, other = person(env, "liufang"), person(env, "chenjing")
    env.runtime.accept(webchat.inbound(nurse.id or 0, "第一条", "aaaaaaaa", clock(), nurse.name))
    env.runtime.accept(webchat.inbound(nurse.id or 0, "第二条", "bbbbbbbb", clock(), nurse.name))
    env.runtime.accept(webchat.inbound(other.id or 0, "透析机数据不同步", "cccccccc", clock(), other.name))
    real_handle = env.runtime.bot.handle

    def flaky(session, msg, now):  # type: ignore[no-untyped-def]
        if msg.text == "第一条":
            raise RuntimeError("simulated bug")
        return real_handle(session, msg, now)

    env.runtime.bot.handle = flaky  # type: ignore[method-assign]
    env.runtime.drain_inbound()
    with env.db.session() as session:
        by_text = {r.text: r for r in session.exec(select(InboundRecord))}
        assert by_text["第一条"].status == journal.FAILED and "simulated bug" in by_text["第一条"].error
        assert by_text["第一条"].attempts == journal.MAX_ATTEMPTS
        assert by_text["第二条"].status == journal.DONE and by_text["透析机数据不同步"].status == journal.DONE
        assert journal.count_by_status(session) == {"failed": 1, "done": 2}
    env.runtime.bot.handle = real_handle  # type: ignore[method-assign]
    with env.db.session() as session:
        assert journal.retry_failed(session) == 1
    env.runtime.drain_inbound()
    with env.db.session() as session:
        assert journal.count_by_status(session) == {"done": 3}


def test_unknown_sender_is_told_and_kept(env: Env) -> None:
    from intake import InboundMessage

    env.runtime.accept(InboundMessage(channel="webchat", external_id="x:1", sender="99999", channel_ts=env.clock(),
                                      received_at=env.clock(), text="你好"))
    env.runtime.drain_inbound()
    with env.db.session() as session:
        [rec] = session.exec(select(InboundRecord)).all()
        assert rec.status == "done" and rec.text == "你好"  # kept as evidence
    assert tickets(env) == []
    [answer] = outbox_rows(env)
    assert answer.recipient == "99999" and "通讯录" in answer.text


def test_engineers_see_a_reporters_follow_up(env: Env) -> None:
    from tests.helpers import chat, group_feed

    chat(env, "chenjing", "透析记录保存失败")
    env.clock.advance(minutes=5)
    chat(env, "chenjing", "补充：3号床也一样")
    assert group_feed(env)[-1] == "工单 #1 陈静 补充：补充：3号床也一样"
    assert "已补充到工单 #1" in transcript(env, "chenjing")[-1]


def test_healthz_reports_a_database_that_is_down(env: Env) -> None:
    import httpx

    from tests.conftest import live_server
    from tickets import Database

    with live_server(env) as server:
        assert httpx.get(f"{server.base_url}/healthz").json()["ok"] is True
        healthy = env.runtime.db
        env.runtime.db = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
        try:
            resp = httpx.get(f"{server.base_url}/healthz", timeout=10)
        finally:
            env.runtime.db = healthy
    assert resp.status_code == 503 and resp.json() == {
        "ok": False, "error": "database unavailable", "wecom_callback": False, "wecom_send": False,
        "aibot_connected": None}
