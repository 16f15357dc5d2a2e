"""The command grammar engineers type, in a group, a one-to-one chat or the web chat.

Tolerant of the way people actually type on a phone: full-width digits and
signs (normalised by NFKC), a missing space (``接单12``), the number first
(``#12 回复 …``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    CLAIM = "claim"
    REPLY = "reply"


@dataclass(frozen=True)
class Command:
    verb: Verb
    number: int
    text: str = ""


_CLAIM_WORDS = "接单|接"
_REPLY_WORDS = "回复|回"
_SEP = r"[\s:：,，、]*"
_CLAIM = re.compile(rf"^(?:(?:{_CLAIM_WORDS})\s*#?(?P<a>\d+)|#?(?P<b>\d+)\s*(?:{_CLAIM_WORDS}))\s*[!！。.]?$")
_REPLY = re.compile(
    rf"^(?:(?:{_REPLY_WORDS})\s*#?(?P<a>\d+)(?!\d)|#?(?P<b>\d+)\s*(?:{_REPLY_WORDS})){_SEP}(?P<text>.+)$", re.DOTALL
)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), trimmed, an @mention of the bot removed."""
    text = unicodedata.normalize("NFKC", text).strip()
    return re.sub(r"^@\S+\s+", "", text)


def parse(text: str) -> Command | None:
    """The command in ``text``, or None when it is not one."""
    text = normalize(text)
    if m := _CLAIM.match(text):
        return Command(Verb.CLAIM, int(m["a"] or m["b"]))
    if m := _REPLY.match(text):
        body = m["text"].strip()
        if body:
            return Command(Verb.REPLY, int(m["a"] or m["b"]), body)
    return None


HELP = (
    "可用指令：\n"
    "接 12 —— 接单 #12（报障人会收到通知）\n"
    "回 12 内容 —— 把内容回复给 #12 的报障人\n"
    "也可以写成：接单12、#12 回复 内容"
)
