"""Small pure pieces: text splitting, backoff, passwords, settings (the command grammar: test_commands)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from admin.passwords import hash_password, verify_password
from admin.settings import Settings
from intake.wecom import split_text
from intake.wecom.parse import MalformedCallback, parse_callback_xml
from tickets.models import Outbox
from tickets.outbox import BACKOFF_CAP_S, MAX_ATTEMPTS, mark_failed


@given(st.text(min_size=0, max_size=3000))
def test_split_text_keeps_every_character_and_respects_the_limit(text: str) -> None:
    parts = split_text(text, limit=300)
    assert all(len(p.encode()) <= 300 for p in parts)
    assert "".join(parts) == text


def test_split_text_prefers_line_breaks() -> None:
    text = ("一" * 100 + "\n") * 10  # 301 bytes a line
    parts = split_text(text, limit=700)
    assert len(parts) == 5 and all(p.endswith("\n") and p.count("\n") == 2 for p in parts)


def test_backoff_grows_caps_and_parks() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = Outbox(channel="wecom", recipient="u", text="t", next_attempt_at=now, created_at=now)
    delays = []
    for _ in range(MAX_ATTEMPTS - 1):
        mark_failed(row, now, "busy")
        delays.append((row.next_attempt_at - now).total_seconds())
    assert delays[:4] == [5, 10, 20, 40] and max(delays) == BACKOFF_CAP_S
    assert sum(delays) > timedelta(hours=2).total_seconds()
    assert row.status == "pending"
    mark_failed(row, now, "busy")
    assert row.status == "dead"


def test_permanent_failure_parks_at_once() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = Outbox(channel="wecom", recipient="u", text="t", next_attempt_at=now, created_at=now)
    mark_failed(row, now, "81013", permanent=True)
    assert row.status == "dead" and row.attempts == 1


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not verify_password("correct horse", "garbage")
    assert hash_password("correct horse") != stored  # salted


def test_settings_from_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "helpdesk.toml"
    config.write_text('port = 9001\nwecom_corp_id = "wwfile"\nwecom_token = "t"\n')
    monkeypatch.setenv("HELPDESK_CONFIG", str(config))
    monkeypatch.setenv("HELPDESK_WECOM_CORP_ID", "wwenv")
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path / "v"))
    s = Settings()
    assert s.port == 9001  # from the file
    assert s.wecom_corp_id == "wwenv"  # the environment wins
    assert s.database_url == f"sqlite:///{tmp_path / 'v' / 'helpdesk.db'}"
    assert not s.wecom_callback_enabled  # no AES key
    assert s.session_secret() == s.session_secret()  # generated once, then kept


def test_wecom_xml_parsing() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    xml = ("<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[liufang]]></FromUserName>"
           "<CreateTime>1795000000</CreateTime><MsgType><![CDATA[image]]></MsgType>"
           "<PicUrl><![CDATA[http://p]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>42</MsgId>"
           "<AgentID>1000002</AgentID></xml>")
    msg = parse_callback_xml(xml, now)
    assert msg.external_id == "42" and msg.text == "[图片]" and msg.attachments[0]["media_id"] == "m1"
    assert msg.channel_ts == datetime.fromtimestamp(1795000000, UTC) and msg.received_at == now
    event = parse_callback_xml(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>5</CreateTime>"
        "<MsgType>event</MsgType><Event>enter_agent</Event><AgentID>1</AgentID></xml>", now)
    assert event.external_id == "event:u:5:enter_agent:"
    with pytest.raises(MalformedCallback):
        parse_callback_xml("<xml><FromUserName>u</FromUserName></xml>", now)
    with pytest.raises(MalformedCallback):
        parse_callback_xml("not xml", now)
