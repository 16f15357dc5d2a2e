"""Template cards (模板卡片) the AI bot posts for a ticket: pure data, no I/O.

A ``button_interaction`` card (DOC 101031 "模板卡片类型 / 按钮交互模版卡片") lets an
engineer claim a ticket with one tap inside the group. The click comes back as
a ``template_card_event`` carrying the card's ``task_id`` and the button's
``key`` (DOC 101027); the card is then replaced for everyone by answering that
event with ``{"response_type": "update_template_card", "template_card": ...}``
(callback mode: the passive reply; long connection: ``aibot_respond_update_msg``).
The replacement must carry the clicked card's ``task_id``.

Limits from DOC 101031 (the "建议不超过" ones are the client's display limits;
texts are cut here, by characters, so Chinese is never split mid-character):

* ``task_id``: required, unique per bot, ``[0-9A-Za-z_-@]``, at most 128 bytes;
* ``main_title.title`` 26 characters, ``main_title.desc`` 30, ``sub_title_text`` 112;
* ``horizontal_content_list``: at most 6 rows, ``keyname`` 5 characters, ``value`` 26;
* ``button_list``: required, 1 to 6 buttons, ``text`` 10 characters, ``key`` unique, at most 1024 bytes;
* button ``style`` 1 to 4; the colours are only shown in a picture in the doc.
  **[uncertain]** which one reads as "done"; :data:`STYLE_CLAIMED` is a guess to be checked on a real client.

The AI bot has no "disabled button" (the self-built app's ``button.replace_name``
is not in the AI bot's update message), so a claimed card keeps the claim
button's place with a label such as "张三 已接单" and a distinct key
(:func:`claimed_key`) that the product treats as "already claimed".
Also from the doc: a button_interaction card can only be sent by a bot that has
a callback URL configured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BUTTONS_MAX", "BUTTON_TEXT_MAX", "DESC_MAX", "LINES_MAX", "STYLE_CLAIMED", "STYLE_PRIMARY",
    "SUB_TITLE_MAX", "TASK_ID_MAX_BYTES", "TITLE_MAX", "card_update_reply", "claimed_card", "claimed_key",
    "make_task_id", "ticket_card", "truncate",
]

TASK_ID_MAX_BYTES = 128
TITLE_MAX = 26
DESC_MAX = 30
SUB_TITLE_MAX = 112
LINES_MAX = 6
KEYNAME_MAX = 5
VALUE_MAX = 26
BUTTONS_MAX = 6
BUTTON_TEXT_MAX = 10
BUTTON_KEY_MAX_BYTES = 1024
STYLE_PRIMARY = 1
STYLE_CLAIMED = 2  # [uncertain] see the module docstring

_TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
_NOT_TASK_ID_CHAR = re.compile(r"[^0-9A-Za-z_\-@]")
_ELLIPSIS = "…"


def truncate(text: str, max_chars: int, *, one_line: bool = True) -> str:
    """At most ``max_chars`` characters, the last one an ellipsis when something was cut.

    Python slices by character, so a Chinese character is never split.
    """
    if one_line:
        text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + _ELLIPSIS if max_chars > 1 else text[:max_chars]


def make_task_id(*parts: str | int) -> str:
    """A valid task_id from parts such as ("hd", ticket_id, nonce): other characters become "_"."""
    raw = "-".join(str(p) for p in parts if str(p))
    task_id = _NOT_TASK_ID_CHAR.sub("_", raw)[:TASK_ID_MAX_BYTES]
    if not task_id:
        raise ValueError("task_id would be empty")
    return task_id


def claimed_key(claim_key: str) -> str:
    """The key of the button that replaces ``claim_key`` once the ticket is claimed."""
    return f"{claim_key}:claimed"


def ticket_card(task_id: str, title: str, lines: Sequence[tuple[str, str]],
                buttons: Sequence[tuple[str, str]], *, desc: str = "", sub_title: str = "",
                source: str = "", button_style: int = STYLE_PRIMARY) -> dict[str, Any]:
    """A button_interaction card: title, up to 6 "key: value" lines, 1 to 6 (text, key) buttons."""
    _check_task_id(task_id)
    if len(lines) > LINES_MAX:
        raise ValueError(f"at most {LINES_MAX} lines fit on a card, got {len(lines)}")
    button_list = [{"text": truncate(text, BUTTON_TEXT_MAX), "style": button_style, "key": key}
                   for text, key in buttons]
    _check_buttons(button_list)
    card: dict[str, Any] = {"card_type": "button_interaction"}
    if source:
        card["source"] = {"desc": truncate(source, 13)}
    card["main_title"] = {"title": truncate(title, TITLE_MAX)}
    if desc:
        card["main_title"]["desc"] = truncate(desc, DESC_MAX)
    if sub_title:
        card["sub_title_text"] = truncate(sub_title.strip(), SUB_TITLE_MAX, one_line=False)
    if lines:
        card["horizontal_content_list"] = [
            {"keyname": truncate(k, KEYNAME_MAX), "value": truncate(v, VALUE_MAX)} for k, v in lines]
    card["button_list"] = button_list
    card["task_id"] = task_id
    return card


def claimed_card(task_id: str, title: str, lines: Sequence[tuple[str, str]],
                 buttons: Sequence[tuple[str, str]], *, claim_key: str, claimed_text: str,
                 desc: str = "", sub_title: str = "", source: str = "",
                 button_style: int = STYLE_PRIMARY, claimed_style: int = STYLE_CLAIMED) -> dict[str, Any]:
    """The same card once claimed: the ``claim_key`` button becomes ``claimed_text`` (e.g. "张三 已接单")."""
    if claim_key not in {key for _, key in buttons}:
        raise ValueError(f"no button with key {claim_key!r}")
    card = ticket_card(task_id, title, lines, buttons, desc=desc, sub_title=sub_title, source=source,
                       button_style=button_style)
    card["button_list"] = [
        {"text": truncate(claimed_text, BUTTON_TEXT_MAX), "style": claimed_style, "key": claimed_key(claim_key)}
        if button["key"] == claim_key else button
        for button in card["button_list"]
    ]
    return card


def card_update_reply(template_card: dict[str, Any], task_id: str = "",
                      userids: Sequence[str] | None = None) -> dict[str, Any]:
    """The update message for a clicked card (DOC 101031 "模版卡片更新消息").

    No ``userids`` means every user the card reached. ``task_id`` (the clicked
    card's) is filled in when the card has none.
    """
    card = dict(template_card)
    if task_id and not card.get("task_id"):
        card["task_id"] = task_id
    reply: dict[str, Any] = {"response_type": "update_template_card", "template_card": card}
    if userids:
        reply["userids"] = list(userids)
    return reply


def _check_task_id(task_id: str) -> None:
    if not _TASK_ID.match(task_id):
        raise ValueError(f"task_id must be 1-{TASK_ID_MAX_BYTES} characters of [0-9A-Za-z_-@]: {task_id!r}")


def _check_buttons(button_list: list[dict[str, Any]]) -> None:
    if not 1 <= len(button_list) <= BUTTONS_MAX:
        raise ValueError(f"a button_interaction card needs 1-{BUTTONS_MAX} buttons, got {len(button_list)}")
    keys = [b["key"] for b in button_list]
    if len(set(keys)) != len(keys):
        raise ValueError(f"button keys must be unique: {keys}")
    for key in keys:
        if not key or len(key.encode("utf-8")) > BUTTON_KEY_MAX_BYTES:
            raise ValueError(f"button key must be 1-{BUTTON_KEY_MAX_BYTES} bytes: {key[:40]!r}")
