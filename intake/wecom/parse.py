"""Turn a decrypted WeCom self-built-app callback (XML) into an InboundMessage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import xmltodict

from intake.message import InboundMessage

CHANNEL = "wecom"

# What the reporter sees in the ticket for messages that are not text.
_PLACEHOLDER = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "location": "[位置]", "link": "[链接]"}


class MalformedCallback(ValueError):
    """The plaintext is not a WeCom message we can read."""


def parse_callback_xml(xml: str, received_at: datetime) -> InboundMessage:
    try:
        data: dict[str, Any] = xmltodict.parse(xml)["xml"]
    except Exception as exc:
        raise MalformedCallback(f"not WeCom XML: {exc!r}") from exc
    try:
        sender = str(data["FromUserName"])
        create_time = int(data["CreateTime"])
        msg_type = str(data["MsgType"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedCallback(f"missing field: {exc!r}") from exc
    # CreateTime is WeCom's own attestation of when the member sent it: the
    # instant the contract's response clock starts from, not our receive time.
    channel_ts = datetime.fromtimestamp(create_time, UTC)
    return InboundMessage(
        channel=CHANNEL,
        external_id=_external_id(data, msg_type, sender, create_time),
        sender=sender,
        channel_ts=channel_ts,
        received_at=received_at,
        msg_type=msg_type,
        text=_text(data, msg_type),
        attachments=_attachments(data, msg_type),
        raw=dict(data),
    )


def _external_id(data: dict[str, Any], msg_type: str, sender: str, create_time: int) -> str:
    if msg_type != "event" and data.get("MsgId"):
        return str(data["MsgId"])
    # Events carry no MsgId; WeCom's own advice is FromUserName + CreateTime.
    return f"event:{sender}:{create_time}:{data.get('Event', '')}:{data.get('EventKey', '') or ''}"


def _text(data: dict[str, Any], msg_type: str) -> str:
    if msg_type == "text":
        return str(data.get("Content") or "")
    if msg_type == "link":
        return f"[链接] {data.get('Title', '')} {data.get('Url', '')}".strip()
    if msg_type == "location":
        return f"[位置] {data.get('Label', '')}".strip()
    return _PLACEHOLDER.get(msg_type, "")


def _attachments(data: dict[str, Any], msg_type: str) -> list[dict[str, Any]]:
    if msg_type in ("image", "voice", "video") and data.get("MediaId"):
        # WeCom keeps media for 3 days; fetching it (media/get) is the attachment store's job.
        return [{"kind": msg_type, "media_id": data["MediaId"], "url": data.get("PicUrl", "")}]
    return []
