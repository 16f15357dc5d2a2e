"""Turn a WeCom AI bot (智能机器人) payload into an :class:`InboundMessage`.

The same JSON arrives two ways: decrypted from a callback POST (DOC 100719
messages, DOC 101027 events) or as the ``body`` of an ``aibot_msg_callback`` /
``aibot_event_callback`` frame on the long connection (DOC 101463). Facts the
code relies on:

* ``msgid`` is the dedupe key: WeCom may call back twice for one message.
* Messages carry no ``create_time``; events do. Only WeCom's own timestamp may
  start an SLA clock, so without it ``channel_ts`` is our receive time.
* In a group the bot only sees messages that @ it, and ``text.content`` starts
  with that mention ("@机器人 打印机坏了"); the mention is not the reporter's words.
* ``msgtype == "stream"`` is a *stream refresh*: WeCom polling for the next
  chunk of a streamed reply. It is not a message; :func:`parse_payload` returns
  ``None`` for it.
* A ``template_card_event`` is a button click; the clicked button's key is
  ``event.template_card_event.event_key`` (the doc's table says ``eventkey``,
  its examples ``event_key``; both are read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from intake.message import InboundMessage
from intake.wecom.parse import MalformedCallback

__all__ = ["CHANNEL", "MalformedCallback", "parse_callback_json", "parse_payload", "strip_mention"]

CHANNEL = "aibot"

# What the ticket shows for content that is not text.
_PLACEHOLDER = {"image": "[图片]", "file": "[文件]", "voice": "[语音]", "mixed": "[图文]"}

# A leading "@name" and the space after it; WeCom puts U+2005 after a mention, and \s covers it.
_LEADING_MENTION = re.compile(r"^\s*@\S+\s+")


def parse_callback_json(plaintext: str, received_at: datetime, *, bot_name: str | None = None,
                        ) -> InboundMessage | None:
    """Parse a decrypted callback; ``None`` for a stream refresh (answered, never stored)."""
    try:
        data = json.loads(plaintext)
    except ValueError as exc:
        raise MalformedCallback(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedCallback(f"not a JSON object: {type(data).__name__}")
    return parse_payload(data, received_at, bot_name=bot_name)


def parse_payload(data: Mapping[str, Any], received_at: datetime, *, req_id: str = "",
                  bot_name: str | None = None) -> InboundMessage | None:
    """Parse one AI bot message or event; ``req_id`` is the long-connection frame's, if any.

    ``bot_name`` (without "@") strips exactly that mention; otherwise only a
    leading "@..." in a group chat is removed.
    """
    msg_type = data.get("msgtype")
    if not isinstance(msg_type, str) or not msg_type:
        raise MalformedCallback("no msgtype")
    if msg_type == "stream":
        return None
    sender = _userid(data)
    event: Mapping[str, Any] = {}
    if msg_type == "event":
        raw_event = data.get("event")
        if not isinstance(raw_event, Mapping) or not raw_event.get("eventtype"):
            raise MalformedCallback("event without event.eventtype")
        event = raw_event
    elif not sender:
        raise MalformedCallback("message without from.userid")

    group = data.get("chattype") == "group"
    hints: dict[str, Any] = {
        "chatid": str(data.get("chatid") or ""),
        "chattype": str(data.get("chattype") or ""),
        "response_url": str(data.get("response_url") or ""),
        "aibotid": str(data.get("aibotid") or ""),
        "quote_text": _quote_text(data.get("quote")),
    }
    if req_id:
        hints["req_id"] = req_id

    kind, text, attachments = _content(data, msg_type, event, hints, group=group, bot_name=bot_name)
    return InboundMessage(
        channel=CHANNEL,
        external_id=_external_id(data, sender, event, hints),
        sender=sender,
        channel_ts=_channel_ts(data, received_at),
        received_at=received_at,
        msg_type=kind,
        text=text,
        attachments=attachments,
        thread_hints=hints,
        raw=dict(data),
    )


def strip_mention(text: str, bot_name: str | None = None) -> str:
    """Remove the bot's @mention: exactly ``@bot_name`` if known, else a leading ``@word``."""
    if bot_name:
        return re.sub(r"@" + re.escape(bot_name) + r"(\s+|$)", "", text, count=1).strip()
    return _LEADING_MENTION.sub("", text, count=1).strip()


# ---------------------------------------------------------------------------- pieces


def _userid(data: Mapping[str, Any]) -> str:
    sender = data.get("from")
    return str(sender.get("userid") or "") if isinstance(sender, Mapping) else ""


def _channel_ts(data: Mapping[str, Any], received_at: datetime) -> datetime:
    create_time = data.get("create_time")
    if create_time in (None, ""):
        return received_at
    try:
        return datetime.fromtimestamp(int(create_time), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise MalformedCallback(f"bad create_time {create_time!r}") from exc


def _external_id(data: Mapping[str, Any], sender: str, event: Mapping[str, Any], hints: dict[str, Any]) -> str:
    if data.get("msgid"):
        return str(data["msgid"])
    # DOC 101027 marks msgid required, but a key that is stable across redeliveries costs nothing.
    return (f"event:{hints['aibotid']}:{sender}:{data.get('create_time', '')}:"
            f"{event.get('eventtype', data.get('msgtype', ''))}:{hints.get('event_key', '')}")


def _content(data: Mapping[str, Any], msg_type: str, event: Mapping[str, Any], hints: dict[str, Any], *,
             group: bool, bot_name: str | None) -> tuple[str, str, list[dict[str, Any]]]:
    """(msg_type for the product, text, attachments); may add event details to ``hints``."""
    if msg_type == "event":
        return _event(event, hints)
    if msg_type == "text":
        return "text", _clean(_section_text(data.get("text")), group, bot_name), []
    if msg_type == "mixed":
        texts, attachments = _mixed_items(data.get("mixed"))
        return "text", _clean("\n".join(texts), group, bot_name), attachments
    if msg_type == "voice":  # WeCom sends the transcription, not the audio
        return "voice", _section_text(data.get("voice")), []
    if msg_type in ("image", "file"):
        section = data.get(msg_type)
        url = str(section.get("url") or "") if isinstance(section, Mapping) else ""
        attachment: dict[str, Any] = {"kind": msg_type, "url": url}
        if isinstance(section, Mapping) and section.get("aeskey"):
            attachment["aeskey"] = section["aeskey"]  # long connection: a key per file
        return msg_type, _PLACEHOLDER[msg_type], [attachment] if url else []
    return msg_type, "", []


def _event(event: Mapping[str, Any], hints: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    eventtype = str(event["eventtype"])
    hints["eventtype"] = eventtype
    if eventtype == "template_card_event":
        card = event.get("template_card_event")
        card = card if isinstance(card, Mapping) else {}
        event_key = str(card.get("event_key") or card.get("eventkey") or "")
        hints["event_key"] = event_key
        hints["task_id"] = str(card.get("task_id") or "")
        hints["card_type"] = str(card.get("card_type") or card.get("cardtype") or "")
        return "card_event", event_key, []
    if eventtype == "enter_chat":
        return "enter_chat", "", []
    return "event", "", []


def _section_text(section: object) -> str:
    return str(section.get("content") or "") if isinstance(section, Mapping) else ""


def _mixed_items(section: object) -> tuple[list[str], list[dict[str, Any]]]:
    items = section.get("msg_item") if isinstance(section, Mapping) else None
    texts: list[str] = []
    attachments: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        if item.get("msgtype") == "text":
            texts.append(_section_text(item.get("text")))
        elif item.get("msgtype") == "image" and isinstance(item.get("image"), Mapping):
            image = item["image"]
            attachment: dict[str, Any] = {"kind": "image", "url": str(image.get("url") or "")}
            if image.get("aeskey"):
                attachment["aeskey"] = image["aeskey"]
            attachments.append(attachment)
    return texts, attachments


def _quote_text(quote: object) -> str:
    """The words of a quoted message (reply-with-@ in a group), or a placeholder."""
    if not isinstance(quote, Mapping):
        return ""
    kind = quote.get("msgtype")
    if kind in ("text", "voice"):
        return _section_text(quote.get(kind))
    if kind == "mixed":
        texts, _ = _mixed_items(quote.get("mixed"))
        return "\n".join(t for t in texts if t) or _PLACEHOLDER["mixed"]
    if kind == "template_card":  # [uncertain] the doc does not show a quoted card; its title names the ticket
        card = quote.get("template_card")
        title = card.get("main_title") if isinstance(card, Mapping) else None
        return str(title.get("title") or "") if isinstance(title, Mapping) else ""
    return _PLACEHOLDER.get(str(kind), "")


def _clean(text: str, group: bool, bot_name: str | None) -> str:
    if bot_name or group:
        return strip_mention(text, bot_name)
    return text.strip()
