"""The command grammar engineers type, in a group, a one-to-one chat or the web chat.

Engineers work tickets from a phone, in between other work, so the grammar is
tolerant of the way people actually type: full-width digits, letters and signs
(folded by NFKC for matching; free text such as a reply keeps what was typed,
so the reporter reads ，not ,), a missing space (``接单12``, ``暂停12等待院方确认``), the
number first (``#12 回复 …``), synonyms (``认领``/``接单``/``接``), an @mention of
the bot at the start, between the verb and the number, or at the end.

It is not tolerant where a guess could do harm: a message that looks like a
command but is incomplete or ambiguous (``回 12`` with no text, ``暂停 12`` with
no reason, ``接 12 13``, an unknown verb) is not guessed at. :func:`parse`
returns an :class:`Invalid` carrying a one-line usage hint for that verb, so
the engineer can fix the message; plain chatter returns None, for which the
caller shows the general :data:`HELP`.

``parse(text, quoted_ticket=None, *, bot_names=()) -> Command | Invalid | None``:

* :class:`Command` — a complete command. ``number`` is the ticket (None only for
  the list verbs :data:`LIST_VERBS`), ``text`` the reply, reason or note,
  ``target`` the person a ticket is reassigned to (name or WeCom userid, without
  the @), ``level`` the severity word of 升级/降级 as typed, normalised (``1级`` →
  ``一级``, ``p1`` → ``P1``); the caller maps it to a level of the contract.
* :class:`Invalid` — looks like a command but cannot be run as written;
  ``verb`` is None when the verb itself is unknown.
* None — not a command at all.

Quote-reply: when WeCom's quote of a ticket card comes with the message, the
caller passes the card's number (:func:`ticket_number_in`) as ``quoted_ticket``.
A verb without a number then applies to that ticket, and free text that is not a
command becomes a reply to its reporter.

Without a number a verb must be followed by a space, punctuation or nothing, so
that ``接下来…``, ``回头…`` or ``解决了吗`` are text and not commands.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    CLAIM = "claim"  # 接 12
    REPLY = "reply"  # 回 12 文本
    TRANSFER = "transfer"  # 转 12 @某人
    PAUSE = "pause"  # 暂停 12 原因
    RESUME = "resume"  # 恢复 12
    ONSITE = "onsite"  # 现场 12: an on-site visit is requested
    ARRIVE = "arrive"  # 到达 12: the engineer is on site
    ESCALATE = "escalate"  # 升级 12 级别 原因
    DEESCALATE = "deescalate"  # 降级 12 级别 原因
    RESOLVE = "resolve"  # 解决 12 原因与措施
    QUERY = "query"  # 查 12
    MINE = "mine"  # 我的
    TODO = "todo"  # 待办


LIST_VERBS: frozenset[Verb] = frozenset({Verb.MINE, Verb.TODO})
"""Verbs that act on no single ticket; every other verb needs a ticket number."""


@dataclass(frozen=True)
class Command:
    verb: Verb
    number: int | None = None
    text: str = ""
    target: str = ""
    level: str = ""


@dataclass(frozen=True)
class Invalid:
    """A message that looks like a command but cannot be run as written.

    ``hint`` is one line of Chinese to send back: what is wrong, then the usage
    of ``verb`` (or the list of verbs when ``verb`` is None: an unknown verb).
    """

    verb: Verb | None
    hint: str


ParseResult = Command | Invalid | None


# -- the words --------------------------------------------------------------------------

_WORDS: dict[Verb, tuple[str, ...]] = {
    Verb.CLAIM: ("认领", "接单", "接"),
    Verb.REPLY: ("回复", "回"),
    Verb.TRANSFER: ("转派", "转给", "转交", "转"),
    Verb.PAUSE: ("挂起", "暂停"),
    Verb.RESUME: ("恢复", "继续"),
    Verb.ONSITE: ("申请现场", "现场"),
    Verb.ARRIVE: ("已到达", "已到场", "到达", "到场"),
    Verb.ESCALATE: ("升级",),
    Verb.DEESCALATE: ("降级",),
    Verb.RESOLVE: ("已解决", "解决"),
    Verb.QUERY: ("查询", "查看", "查"),
    Verb.MINE: ("我的工单", "我的"),
    Verb.TODO: ("待办", "待处理"),
}
_VERB_OF_WORD: dict[str, Verb] = {word: verb for verb, words in _WORDS.items() for word in words}
# Longest first, so that 接单 is not read as 接 followed by 单.
_VERB_WORD = "|".join(re.escape(w) for w in sorted(_VERB_OF_WORD, key=len, reverse=True))
# 转给张伟 (quoting a card) names its target without a space: 给 already separates it.
_GLUED_WORDS = frozenset({"转给"})

_BARE_VERBS = frozenset({Verb.CLAIM, Verb.RESUME, Verb.ONSITE, Verb.ARRIVE, Verb.QUERY})
_TEXT_VERBS = frozenset({Verb.REPLY, Verb.PAUSE, Verb.RESOLVE})
_MISSING_TEXT: dict[Verb, str] = {
    Verb.REPLY: "缺少回复内容。",
    Verb.PAUSE: "缺少暂停原因。",
    Verb.RESOLVE: "缺少原因与措施。",
}

HELP_BY_VERB: dict[Verb, str] = {
    Verb.CLAIM: "用法：接 12（也可写 接单12、#12 接单）",
    Verb.REPLY: "用法：回 12 内容（例如：回 12 请重启读卡器后重试）",
    Verb.TRANSFER: "用法：转 12 @张伟（@ 后写同事姓名或企业微信账号）",
    Verb.PAUSE: "用法：暂停 12 原因（例如：暂停 12 等待院方停机窗口）",
    Verb.RESUME: "用法：恢复 12",
    Verb.ONSITE: "用法：现场 12（申请上门处理）",
    Verb.ARRIVE: "用法：到达 12（已到现场）",
    Verb.ESCALATE: "用法：升级 12 级别 原因（例如：升级 12 一级 全院无法挂号）",
    Verb.DEESCALATE: "用法：降级 12 级别 原因（例如：降级 12 三级 已有临时办法）",
    Verb.RESOLVE: "用法：解决 12 原因与措施（例如：解决 12 驱动异常，已重装）",
    Verb.QUERY: "用法：查 12",
    Verb.MINE: "用法：我的（列出我负责的工单）",
    Verb.TODO: "用法：待办（未接单和快到期的工单）",
}
_VERB_LIST = "可用指令：接 回 转 暂停 恢复 现场 到达 升级 降级 解决 查 我的 待办"

HELP = (
    "可用指令（工单号前的 # 可省略）：\n"
    "接 12 —— 接单\n"
    "回 12 内容 —— 回复报障人\n"
    "转 12 @张伟 —— 转派给同事\n"
    "暂停 12 原因 / 恢复 12\n"
    "现场 12 —— 申请上门；到达 12 —— 已到现场\n"
    "升级 12 一级 原因 / 降级 12 三级 原因\n"
    "解决 12 原因与措施\n"
    "查 12 —— 查看工单\n"
    "我的 —— 我的工单；待办 —— 未接单和快到期的\n"
    "引用工单卡片并@我：写“接单”等指令即作用于该单，直接写内容即回复报障人。"
)


# -- the shapes ---------------------------------------------------------------------------

_SEPARATOR = r"[\s:,、;]"  # after NFKC: ：→: ，→, ；→;
_MENTION = r"@[^\s@]+"
# Between the verb and the number: spaces, separators, a mention of the bot (接 @维保助手 12).
_GAP = rf"(?:{_SEPARATOR}|{_MENTION}\s)*"
_NUMBER = r"(?:工单\s*)?(?:#\s*)?(?P<number>[0-9]+)(?![0-9])"
_MAX_DIGITS = 9

_VERB_THEN_NUMBER = re.compile(rf"^(?P<word>{_VERB_WORD}){_GAP}{_NUMBER}(?P<rest>.*)$", re.S)
_NUMBER_THEN_VERB = re.compile(rf"^{_NUMBER}{_GAP}(?P<word>{_VERB_WORD})(?P<rest>.*)$", re.S)
_VERB_ALONE = re.compile(rf"^(?P<word>{_VERB_WORD})(?P<rest>.*)$", re.S)
# What may follow a verb that has no number after it.
_BOUNDARY = re.compile(r"^(?:$|[\s:,、;@#.!?。~])")

# Looks like "verb number" with a verb we do not know: 关闭 12, #12 关闭, #12.
_WORD_AND_NUMBER = re.compile(r"^(?P<word>[\u4e00-\u9fff]{1,4})\s*(?:#\s*)?[0-9]+[\s.!?。~]*$")
_HASH_NUMBER = re.compile(r"^#\s*[0-9]+\s*(?P<word>[^\s.!?。~]{1,6})?")

_LEADING_MENTIONS = re.compile(rf"^(?:{_MENTION}(?:\s+|$))+")
_LEADING_SPACE_AND_MENTIONS = re.compile(rf"^(?:\s|{_MENTION}(?:\s|$))*")
_LEADING_JUNK = re.compile(rf"^(?:{_SEPARATOR}|{_MENTION}(?:\s|$))+")
_TRAILING_MENTION = re.compile(rf"(?:^|\s){_MENTION}\s*$")
_TRAILING_PUNCTUATION = re.compile(r"[\s.!?。~]+$")
_ANY_MENTION = re.compile(rf"(?:^|\s){_MENTION}")
_DIGIT = re.compile(r"[0-9]")

_NAME = r"[^\s@:,、;!?。~]+"
_TARGET = re.compile(rf"^{_SEPARATOR}*(?:给\s*)?(?:@(?P<mention>{_NAME})|(?P<name>{_NAME}))(?P<note>.*)$", re.S)

_LEVEL = re.compile(
    r"""^[\s:,、;]*(?:(?:到|为|至)\s*)?
    (?:
        (?P<rank>[1-9一二三四五六七八九])\s*级(?P<rank_suffix>故障|事件|错误)?
      | (?P<code>[PLpl])\s*(?P<code_digit>[0-9])(?![0-9])
      | (?P<word>非紧急|紧急|致命|严重|一般|轻微|重大|较大|普通)(?P<word_suffix>错误|故障|事件|问题)?
    )
    (?P<reason>.*)$""",
    re.X | re.S,
)
_CHINESE_DIGITS = dict(zip("123456789", "一二三四五六七八九", strict=True))

_CARD_TICKET = re.compile(r"工单\s*(?:#\s*)?(?P<number>[0-9]{1,9})(?![0-9])")
_HASH_TICKET = re.compile(r"#\s*(?P<number>[0-9]{1,9})(?![0-9])")


# -- public functions ------------------------------------------------------------------------

def normalize(text: str) -> str:
    """NFKC (full-width → half-width), trimmed, the @mentions at the start removed."""
    text = unicodedata.normalize("NFKC", text).strip()
    return _LEADING_MENTIONS.sub("", text).strip()


def parse(text: str, quoted_ticket: int | None = None, *, bot_names: Collection[str] = ()) -> ParseResult:
    """The command in ``text``: a :class:`Command`, an :class:`Invalid` one, or None for chatter.

    ``quoted_ticket`` is the ticket of a quoted card (WeCom quote-reply): a verb
    without a number applies to it, and free text becomes a reply to it.
    ``bot_names`` are the bot's names as WeCom shows them in a mention; mentions
    of them are removed wherever they are (otherwise only at the start, between
    the verb and the number, and around free text).
    """
    message = _Typed.of(text, bot_names)
    clean = message.folded
    if not clean:
        return None
    if m := _VERB_THEN_NUMBER.match(clean):
        return _command(_VERB_OF_WORD[m["word"]], m["number"], message.slice(m.start("rest")), quoted_ticket)
    if m := _NUMBER_THEN_VERB.match(clean):
        verb = _VERB_OF_WORD[m["word"]]
        if not _separated(m["word"], m["rest"]):
            return _invalid(verb, "指令后请空一格再写内容。")
        return _command(verb, m["number"], message.slice(m.start("rest")), quoted_ticket)
    if (m := _VERB_ALONE.match(clean)) and _separated(m["word"], m["rest"]):
        return _command(_VERB_OF_WORD[m["word"]], None, message.slice(m.start("rest")), quoted_ticket)
    if unknown := _unknown_verb(clean):
        return unknown
    if quoted_ticket is not None and (body := _body(message)):
        return Command(Verb.REPLY, quoted_ticket, body)
    return None


def ticket_number_in(text: str) -> int | None:
    """The ticket number in the text of a quoted card (【新工单 #12】…, 工单 #12 …), or None."""
    text = unicodedata.normalize("NFKC", text)
    m = _CARD_TICKET.search(text) or _HASH_TICKET.search(text)
    return int(m["number"]) if m else None


# -- the parts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Typed:
    """A stretch of the message as typed, and its folded form of the same length.

    The grammar is matched on ``folded``; free text (a reply, a reason) is taken
    from ``typed`` at the same place, so the reporter reads the engineer's own
    punctuation (，not ,).
    """

    typed: str
    folded: str

    @classmethod
    def of(cls, text: str, bot_names: Collection[str]) -> _Typed:
        """The message without the bot's mentions, the mentions at its start, and the spaces around it."""
        folded = _fold(text)
        for name in sorted({_fold(n).strip().lstrip("@") for n in bot_names}, key=len, reverse=True):
            if name:
                folded = folded.replace("@" + name, " " * (len(name) + 1))
        m = _LEADING_SPACE_AND_MENTIONS.match(folded)
        return cls(text, folded).slice(m.end() if m else 0).strip()

    def slice(self, start: int, end: int | None = None) -> _Typed:
        return _Typed(self.typed[start:end], self.folded[start:end])

    def strip(self) -> _Typed:
        start = len(self.folded) - len(self.folded.lstrip())
        return self.slice(start, len(self.folded.rstrip()))


def _fold(text: str) -> str:
    """NFKC character by character, keeping the length: full-width forms and odd spaces become ASCII.

    A character NFKC would expand into several (㎏ → kg) is kept as it is.
    """
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def _separated(word: str, rest: str) -> bool:
    """Whether what follows a verb is set apart from it (接单！, 回复：…), not a longer word (接下来)."""
    return word in _GLUED_WORDS or _BOUNDARY.match(rest) is not None


def _invalid(verb: Verb, problem: str) -> Invalid:
    return Invalid(verb, problem + HELP_BY_VERB[verb])


def _unknown_verb(text: str) -> Invalid | None:
    if m := _WORD_AND_NUMBER.match(text):
        return Invalid(None, f"没有“{m['word']}”这个指令。{_VERB_LIST}")
    if m := _HASH_NUMBER.match(text):
        problem = f"没有“{m['word']}”这个指令。" if m["word"] else "工单号后面要写指令。"
        return Invalid(None, problem + _VERB_LIST)
    return None


def _body(text: _Typed) -> str:
    """Free text as typed, without the separators and mentions around it; "" when nothing meaningful is left."""
    if m := _LEADING_JUNK.match(text.folded):
        text = text.slice(m.end())
    while m := _TRAILING_MENTION.search(text.folded):
        text = text.slice(0, m.start())
    body = text.strip().typed
    return body if any(_is_meaningful(c) for c in body) else ""


def _is_meaningful(char: str) -> bool:
    """A letter, digit, CJK character or emoji: not punctuation, space or a control character."""
    return unicodedata.category(char)[0] not in "PZC"


def _command(verb: Verb, digits: str | None, rest: _Typed, quoted_ticket: int | None) -> Command | Invalid:
    if verb in LIST_VERBS:
        if digits is not None:
            return _invalid(verb, "这条指令不带工单号。")
        if _body(rest):
            return _invalid(verb, "指令后面不要带其他内容。")
        return Command(verb)
    if digits is not None:
        if len(digits.lstrip("0")) > _MAX_DIGITS:
            return _invalid(verb, "工单号不对。")
        number = int(digits)
    elif quoted_ticket is not None:
        number = quoted_ticket
    else:
        return _invalid(verb, "缺少工单号。")
    return _with_arguments(verb, number, rest)


def _with_arguments(verb: Verb, number: int, rest: _Typed) -> Command | Invalid:
    if verb in _BARE_VERBS:
        extra = _TRAILING_PUNCTUATION.sub("", _fold(_body(rest)))
        if extra:
            problem = "一次只能处理一张工单。" if _DIGIT.search(extra) else "指令后面不要带其他内容。"
            return _invalid(verb, problem)
        return Command(verb, number)
    if verb in _TEXT_VERBS:
        body = _body(rest)
        return Command(verb, number, body) if body else _invalid(verb, _MISSING_TEXT[verb])
    if verb is Verb.TRANSFER:
        return _transfer(number, rest)
    return _level_change(verb, number, rest)


def _transfer(number: int, rest: _Typed) -> Command | Invalid:
    m = _TARGET.match(rest.folded)
    target = (m["mention"] or m["name"]).rstrip(".") if m else ""
    if not m or target in ("", "给"):  # 转 12 给: the name after 给 is missing
        return _invalid(Verb.TRANSFER, "缺少要转给的人。")
    if m["name"] and target.isdigit():
        return _invalid(Verb.TRANSFER, "转给谁不明确，账号请写成 @账号。")
    if _ANY_MENTION.search(m["note"]):
        return _invalid(Verb.TRANSFER, "一次只能转给一个人。")
    return Command(Verb.TRANSFER, number, _body(rest.slice(m.start("note"))), target=target)


def _level_change(verb: Verb, number: int, rest: _Typed) -> Command | Invalid:
    m = _LEVEL.match(rest.folded)
    if m and m["word"] and not m["word_suffix"] and not _BOUNDARY.match(m["reason"]):
        m = None  # 严重影响门诊: 严重 is not a level here
    if m is None:
        problem = "没看懂级别，可写：一级、2级、P1、严重、紧急等。" if _body(rest) else "缺少级别和原因。"
        return _invalid(verb, problem)
    reason = _body(rest.slice(m.start("reason")))
    if not reason:
        return _invalid(verb, "缺少原因。")
    return Command(verb, number, reason, level=_level_of(m))


def _level_of(m: re.Match[str]) -> str:
    if m["rank"]:
        return _CHINESE_DIGITS.get(m["rank"], m["rank"]) + "级" + (m["rank_suffix"] or "")
    if m["code"]:
        return m["code"].upper() + m["code_digit"]
    return m["word"] + (m["word_suffix"] or "")
