"""A proposed urgency from the words a caller used; an engineer confirms it.

Contracts grade faults differently (seed 004: five levels from "系统瘫痪所有业务
功能均不可用" down to "系统操作疑难"; seed 000: 致命/严重/一般), so this module
speaks an abstract rank and :func:`level_for` maps it onto a contract's codes.

The rules, in order:
- an outage word (瘫痪, 宕机, 崩溃 …), or a fault said of the whole hospital
  (全院, 所有科室, 全部 …), is ``critical``;
- a fault (打不开, 无法使用, 报错, …不了 …) is ``major``, ``minor`` when the
  caller says it is isolated (个别, 偶尔, 一台电脑 …);
- slowness (变慢, 很卡, 转圈 …) is ``minor`` (``major`` when hospital-wide);
- a question with no fault in it (咨询, 怎么操作, 请问 …) is ``consult``;
- nothing recognisable: ``minor`` with no words, for the engineer to judge.
A word right after a simple negation (没有瘫痪, 不是全院, 不卡) does not count, and
"开错了" / "录错了" is the user's own slip, a how-to question rather than a fault.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CRITICAL = "critical"
MAJOR = "major"
MINOR = "minor"
CONSULT = "consult"
RANKS = (CRITICAL, MAJOR, MINOR, CONSULT)  # most urgent first

OUTAGE = re.compile(r"瘫痪|瘫了|宕机|崩溃|崩了|停摆|停机|(?:系统|服务器|服务|数据库|平台)挂了|系统停了|全停了")
WIDE = re.compile(r"全院|全部|所有科室|所有的科室|各个科室|各科室|整个医院|全医院|所有窗口|所有的窗口|"
                  r"所有电脑|所有的电脑|所有人|大家都|所有业务|所有功能|整个系统|整个门诊|整个住院部")
_NOT_PUNCT = r"[^\s，。！？,.!?]"
DOWN = re.compile(r"无法使用|无法登录|无法打开|无法|不能用|不能使用|用不了|打不开|登不上|登不进|进不去|连不上|"
                  r"没反应|没有反应|白屏|黑屏|闪退|报错|出错|错误|失败|异常|超时|卡死|死机|坏了|断网|起不来|"
                  r"没法用|没法登录|没法打开|没办法用|没办法登录|没办法打开|没同步|没有同步|停了|不叫号|不显示|(?<!半天)出不来|"
                  + "|".join(_NOT_PUNCT + tail for tail in ("不了", "不出", "不到", "不进", "不过来", "不掉")))
SLOW = re.compile(r"变慢|很慢|太慢|特别慢|非常慢|好慢|有点慢|比较慢|慢得|慢死|反应慢|卡顿|卡住|卡得|"
                  r"(?:很|好|太|特别|非常|有点|比较|一直)卡(?![号片费纸])|转圈|转好久|半天出不来")
# "开错了", "录错了": the user did something wrongly; that is a question of how to undo it, not a fault.
WRONG = re.compile(r"不对|对不上|(?<![开录输填写打选点退收记])错了|不一致|有问题")
SMALL = re.compile(r"个别|偶尔|有时候|有的时候|一台电脑|这一台|就我这|就我们这一个|一个窗口|(?<!下)一个病人|某个病人|"
                   r"个别病人|一两个")
QUESTION = re.compile(r"咨询|请问|想问|问一下|怎么操作|怎么弄|怎么设置|怎么添加|怎么导出|怎么|如何|能不能|"
                      r"可不可以|在哪里|在哪|培训")
# Words said of a system that is in trouble, or asked about: spot.py looks for the system named before them.
FAULT_OR_QUESTION = re.compile("|".join(p.pattern for p in (OUTAGE, DOWN, SLOW, WRONG, QUESTION)))

_NEGATED = re.compile(r"(?:(?:没有|并没有|没|不是|并不是|并非|并不|不算|未|不会|倒不是)[^，。！？,.!?\s]{0,3}|不)$")
_CLAUSE = re.compile(r"[，。！？,.!?；;\n]")


@dataclass(frozen=True)
class Proposal:
    """A proposed rank and the words that led to it, shown as proposed until an engineer confirms."""

    rank: str
    words: tuple[str, ...]


def propose_severity(text: str) -> Proposal:
    """The rank the caller's words suggest (see the module docstring for the rules)."""
    text = unicodedata.normalize("NFKC", text)
    outage, wide, down = _said(OUTAGE, text), _said(WIDE, text), _said(DOWN, text)
    slow, wrong, small, question = _said(SLOW, text), _said(WRONG, text), _said(SMALL, text), _said(QUESTION, text)
    if outage:
        return Proposal(CRITICAL, _words(wide, outage, down))
    if wide and down:
        return Proposal(CRITICAL, _words(wide, down))
    if down:
        return Proposal(MINOR, _words(small, down)) if small else Proposal(MAJOR, _words(down))
    if slow:
        return Proposal(MAJOR, _words(wide, slow)) if wide else Proposal(MINOR, _words(slow))
    if wrong:
        return Proposal(MINOR, _words(small, wrong))
    if question:
        return Proposal(CONSULT, _words(question))
    return Proposal(MINOR, ())


def level_for(rank: str, levels: list[str]) -> str:
    """A contract's level code for a rank; ``levels`` are the contract's codes, most urgent first.

    critical → the first, major → the second, minor → the third, consult → the last
    (each as far as the contract has levels): seed 004's 一级/二级/三级/五级,
    seed 000's 致命/严重/一般/一般.
    """
    if rank not in RANKS:
        raise ValueError(f"未知的紧急程度 {rank!r}（可选 {', '.join(RANKS)}）")
    if not levels:
        raise ValueError("合同没有定义故障级别")
    last = len(levels) - 1
    position = {CRITICAL: 0, MAJOR: 1, MINOR: 2, CONSULT: last}[rank]
    return levels[min(position, last)]


def _said(pattern: re.Pattern[str], text: str) -> list[str]:
    """The pattern's matches that are not negated just before ("没有瘫痪", "不是全院", "不卡")."""
    found: list[str] = []
    for match in pattern.finditer(text):
        clause = _CLAUSE.split(text[max(0, match.start() - 8):match.start()])[-1]  # a negation is close
        if not _NEGATED.search(clause):
            found.append(match.group())
    return found


def _words(*groups: list[str]) -> tuple[str, ...]:
    """The triggering words in the order of the rule, each once."""
    seen: dict[str, None] = {}
    for group in groups:
        for word in group:
            seen.setdefault(word, None)
    return tuple(seen)
