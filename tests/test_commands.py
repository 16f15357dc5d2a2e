"""The engineers' command grammar (bot.commands): every verb and its variants, quote-reply,
what is refused with a hint rather than guessed, and what is plain chatter."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import (
    HELP,
    HELP_BY_VERB,
    LIST_VERBS,
    Command,
    Invalid,
    Verb,
    normalize,
    parse,
    ticket_number_in,
)

C = Command
V = Verb


# -- complete commands -----------------------------------------------------------------------

CLAIM_CASES = [
    ("接 12", C(V.CLAIM, 12)),
    ("接12", C(V.CLAIM, 12)),
    ("接单12", C(V.CLAIM, 12)),
    ("接单 #12", C(V.CLAIM, 12)),
    ("接单#12", C(V.CLAIM, 12)),
    ("认领 12", C(V.CLAIM, 12)),
    ("#12 接单", C(V.CLAIM, 12)),
    ("#12接", C(V.CLAIM, 12)),
    ("12 接", C(V.CLAIM, 12)),
    ("接 工单12", C(V.CLAIM, 12)),
    ("接 # 12", C(V.CLAIM, 12)),
    ("接 012", C(V.CLAIM, 12)),
    ("接　１２", C(V.CLAIM, 12)),  # full-width space and digits
    ("＃１２　接单", C(V.CLAIM, 12)),
    ("接 12。", C(V.CLAIM, 12)),
    ("接 12！", C(V.CLAIM, 12)),
    ("接单12!", C(V.CLAIM, 12)),
    ("  接 12  ", C(V.CLAIM, 12)),
    ("@维保助手 接 12", C(V.CLAIM, 12)),
    ("@维保助手\u2005接 12", C(V.CLAIM, 12)),  # WeCom puts a four-per-em space after a mention
    ("@维保助手\u2005接单12", C(V.CLAIM, 12)),
    ("@维保助手 @张伟 接 12", C(V.CLAIM, 12)),
    ("接 @维保助手 12", C(V.CLAIM, 12)),
    ("接 12 @维保助手", C(V.CLAIM, 12)),
    ("#12 @维保助手 接单", C(V.CLAIM, 12)),
    ("＠维保助手　接　１２", C(V.CLAIM, 12)),
]

REPLY_CASES = [
    ("回 12 请重启读卡器后重试", C(V.REPLY, 12, "请重启读卡器后重试")),
    ("回12好的", C(V.REPLY, 12, "好的")),
    ("回复 12：已处理", C(V.REPLY, 12, "已处理")),
    ("回复12：请清空缓存", C(V.REPLY, 12, "请清空缓存")),
    ("回复12，马上到", C(V.REPLY, 12, "马上到")),
    ("#12 回复 正在查看，请稍候", C(V.REPLY, 12, "正在查看，请稍候")),
    ("#12 回复 多行\n第二行", C(V.REPLY, 12, "多行\n第二行")),
    ("＃１２　回　好的", C(V.REPLY, 12, "好的")),
    ("回 12 请把ＨＩＳ重启：先关（客户端）再开！", C(V.REPLY, 12, "请把ＨＩＳ重启：先关（客户端）再开！")),  # as typed
    ("回 12 好的。", C(V.REPLY, 12, "好的。")),  # the reply keeps its own punctuation
    ("回 12 13床病人已恢复", C(V.REPLY, 12, "13床病人已恢复")),  # a number inside the text is text
    ("回 12 👍", C(V.REPLY, 12, "👍")),
    ("回 12 @维保助手 好的", C(V.REPLY, 12, "好的")),
    ("回 12 好的 @维保助手", C(V.REPLY, 12, "好的")),
    ("回 12 发到 it@hospital.cn 了", C(V.REPLY, 12, "发到 it@hospital.cn 了")),
    ("@维保助手\u2005回 12 已远程处理", C(V.REPLY, 12, "已远程处理")),
    ("回复：12 已处理", C(V.REPLY, 12, "已处理")),
]

TRANSFER_CASES = [
    ("转 12 @张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转12 @张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转 12 张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转12张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转派 12 @zhangwei", C(V.TRANSFER, 12, target="zhangwei")),
    ("转给 12 @李娜", C(V.TRANSFER, 12, target="李娜")),
    ("转交 12 李娜", C(V.TRANSFER, 12, target="李娜")),
    ("转 12 给 @张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转 12 给张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转 12 @zhang.wei。", C(V.TRANSFER, 12, target="zhang.wei")),
    ("转 12 @10023", C(V.TRANSFER, 12, target="10023")),  # a numeric userid, made clear by the @
    ("转 12 @张伟 他熟悉 HIS 接口", C(V.TRANSFER, 12, "他熟悉 HIS 接口", target="张伟")),
    ("#12 转 @张伟", C(V.TRANSFER, 12, target="张伟")),
    ("＃１２　转派　＠ｚｈａｎｇｗｅｉ", C(V.TRANSFER, 12, target="zhangwei")),
]

PAUSE_RESUME_CASES = [
    ("暂停 12 等待院方停机窗口", C(V.PAUSE, 12, "等待院方停机窗口")),
    ("暂停12等待院方确认", C(V.PAUSE, 12, "等待院方确认")),
    ("挂起 12 等待医院授权签字", C(V.PAUSE, 12, "等待医院授权签字")),
    ("#12 暂停 等待院方评审", C(V.PAUSE, 12, "等待院方评审")),
    ("暂停 12：院方要求下班后再处理", C(V.PAUSE, 12, "院方要求下班后再处理")),
    ("恢复 12", C(V.RESUME, 12)),
    ("恢复12", C(V.RESUME, 12)),
    ("继续 12", C(V.RESUME, 12)),
    ("#12 恢复", C(V.RESUME, 12)),
]

ONSITE_CASES = [
    ("现场 12", C(V.ONSITE, 12)),
    ("申请现场 12", C(V.ONSITE, 12)),
    ("申请现场12", C(V.ONSITE, 12)),
    ("#12 现场", C(V.ONSITE, 12)),
    ("到达 12", C(V.ARRIVE, 12)),
    ("已到达 12", C(V.ARRIVE, 12)),
    ("到场12", C(V.ARRIVE, 12)),
    ("已到场 12。", C(V.ARRIVE, 12)),
    ("#12 已到达", C(V.ARRIVE, 12)),
]

LEVEL_CASES = [
    ("升级 12 一级 全院无法挂号", C(V.ESCALATE, 12, "全院无法挂号", level="一级")),
    ("升级 12 二级 部分科室无法开单", C(V.ESCALATE, 12, "部分科室无法开单", level="二级")),
    ("升级12 1级 数据库宕机", C(V.ESCALATE, 12, "数据库宕机", level="一级")),
    ("升级 12 1 级 数据库宕机", C(V.ESCALATE, 12, "数据库宕机", level="一级")),
    ("升级12一级数据库宕机", C(V.ESCALATE, 12, "数据库宕机", level="一级")),
    ("升级 12 一级故障 全院停机", C(V.ESCALATE, 12, "全院停机", level="一级故障")),
    ("升级 12 P1 全院停机", C(V.ESCALATE, 12, "全院停机", level="P1")),
    ("升级 12 p1 全院停机", C(V.ESCALATE, 12, "全院停机", level="P1")),
    ("升级 12 Ｐ１ 全院停机", C(V.ESCALATE, 12, "全院停机", level="P1")),
    ("升级 12 L2 影响门诊", C(V.ESCALATE, 12, "影响门诊", level="L2")),
    ("升级 12 致命 系统停机", C(V.ESCALATE, 12, "系统停机", level="致命")),
    ("升级 12 致命错误 系统停机", C(V.ESCALATE, 12, "系统停机", level="致命错误")),
    ("升级 12 严重错误影响门诊", C(V.ESCALATE, 12, "影响门诊", level="严重错误")),
    ("升级 12 紧急 影响临床", C(V.ESCALATE, 12, "影响临床", level="紧急")),
    ("升级 12 到一级 全院停机", C(V.ESCALATE, 12, "全院停机", level="一级")),
    ("升级 12 一级：全院停机", C(V.ESCALATE, 12, "全院停机", level="一级")),
    ("#12 升级 二级 影响住院结算", C(V.ESCALATE, 12, "影响住院结算", level="二级")),
    ("降级 12 三级 已有临时办法", C(V.DEESCALATE, 12, "已有临时办法", level="三级")),
    ("降级 12 四级 只影响一台电脑", C(V.DEESCALATE, 12, "只影响一台电脑", level="四级")),
    ("降级 12 一般 不影响业务", C(V.DEESCALATE, 12, "不影响业务", level="一般")),
    ("降级 12 轻微 仅界面错位", C(V.DEESCALATE, 12, "仅界面错位", level="轻微")),
    ("降级 12 非紧急 有替代流程", C(V.DEESCALATE, 12, "有替代流程", level="非紧急")),
    ("降级12 4级 已恢复大部分功能", C(V.DEESCALATE, 12, "已恢复大部分功能", level="四级")),
]

RESOLVE_QUERY_LIST_CASES = [
    ("解决 12 读卡器驱动异常，已重装驱动", C(V.RESOLVE, 12, "读卡器驱动异常，已重装驱动")),
    ("已解决 12 清理缓存后恢复", C(V.RESOLVE, 12, "清理缓存后恢复")),
    ("解决12索引损坏，已重建", C(V.RESOLVE, 12, "索引损坏，已重建")),
    ("#12 已解决 证书过期，已更新", C(V.RESOLVE, 12, "证书过期，已更新")),
    ("查 12", C(V.QUERY, 12)),
    ("查12", C(V.QUERY, 12)),
    ("查询 12", C(V.QUERY, 12)),
    ("查看 #12", C(V.QUERY, 12)),
    ("查 12？", C(V.QUERY, 12)),
    ("#12 查", C(V.QUERY, 12)),
    ("我的", C(V.MINE)),
    ("我的工单", C(V.MINE)),
    ("我的。", C(V.MINE)),
    ("@维保助手 我的", C(V.MINE)),
    ("待办", C(V.TODO)),
    ("待处理", C(V.TODO)),
    ("待办！", C(V.TODO)),
]


@pytest.mark.parametrize(("text", "expected"), CLAIM_CASES + REPLY_CASES + TRANSFER_CASES + PAUSE_RESUME_CASES
                         + ONSITE_CASES + LEVEL_CASES + RESOLVE_QUERY_LIST_CASES)
def test_commands(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("@维保助手接 12", C(V.CLAIM, 12)),  # no space after the mention: only the name tells where it ends
    ("转 12 @维保助手 @张伟", C(V.TRANSFER, 12, target="张伟")),
    ("转 12 @张伟 @维保助手", C(V.TRANSFER, 12, target="张伟")),
    ("回 12 好的@维保助手", C(V.REPLY, 12, "好的")),
])
def test_known_bot_names_are_removed_wherever_they_are(text: str, expected: Command) -> None:
    assert parse(text, bot_names=["维保助手", "@运维机器人"]) == expected


# -- quote-reply ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("接单", C(V.CLAIM, 7)),
    ("接", C(V.CLAIM, 7)),
    ("认领！", C(V.CLAIM, 7)),
    ("@维保助手\u2005接单", C(V.CLAIM, 7)),
    ("查", C(V.QUERY, 7)),
    ("恢复", C(V.RESUME, 7)),
    ("现场", C(V.ONSITE, 7)),
    ("已到达", C(V.ARRIVE, 7)),
    ("回复：稍等，我远程看一下", C(V.REPLY, 7, "稍等，我远程看一下")),
    ("回 好的", C(V.REPLY, 7, "好的")),
    ("暂停 等待院方停机窗口", C(V.PAUSE, 7, "等待院方停机窗口")),
    ("解决 重启服务后恢复", C(V.RESOLVE, 7, "重启服务后恢复")),
    ("转 @张伟", C(V.TRANSFER, 7, target="张伟")),
    ("转给张伟", C(V.TRANSFER, 7, target="张伟")),
    ("升级 一级 全院停机", C(V.ESCALATE, 7, "全院停机", level="一级")),
    ("降级 三级 已有临时办法", C(V.DEESCALATE, 7, "已有临时办法", level="三级")),
    # free text is a reply to the quoted ticket's reporter
    ("好的，我马上远程看一下", C(V.REPLY, 7, "好的，我马上远程看一下")),
    ("@维保助手\u2005请重启读卡器后重试", C(V.REPLY, 7, "请重启读卡器后重试")),
    ("接下来请重启一下电脑", C(V.REPLY, 7, "接下来请重启一下电脑")),  # 接下来 is not 接
    ("回头我去现场看看", C(V.REPLY, 7, "回头我去现场看看")),
    ("解决了吗？", C(V.REPLY, 7, "解决了吗？")),
    ("13床的医嘱已经可以开了", C(V.REPLY, 7, "13床的医嘱已经可以开了")),
    # an explicit number wins over the quoted card; list verbs ignore it
    ("接 12", C(V.CLAIM, 12)),
    ("#12 回复 好的", C(V.REPLY, 12, "好的")),
    ("我的", C(V.MINE)),
    ("待办", C(V.TODO)),
])
def test_quote_reply(text: str, expected: Command) -> None:
    assert parse(text, quoted_ticket=7) == expected


@pytest.mark.parametrize("text", ["", "   ", "@维保助手", "@维保助手\u2005", "。"])
def test_quote_with_nothing_to_say_is_nothing(text: str) -> None:
    assert parse(text, quoted_ticket=7) is None


@pytest.mark.parametrize(("text", "verb", "problem"), [
    ("暂停", V.PAUSE, "缺少暂停原因。"),
    ("回复：", V.REPLY, "缺少回复内容。"),
    ("升级 全院停机", V.ESCALATE, "没看懂级别"),
    ("接 一下", V.CLAIM, "指令后面不要带其他内容。"),
    ("回 12", V.REPLY, "缺少回复内容。"),  # the explicit number is still incomplete
])
def test_quote_does_not_complete_a_broken_command(text: str, verb: Verb, problem: str) -> None:
    result = parse(text, quoted_ticket=7)
    assert isinstance(result, Invalid) and result.verb is verb and result.hint.startswith(problem)


@pytest.mark.parametrize(("card", "number"), [
    ("【新工单 #12】武汉市中心医院 · DRG系统\n级别：致命错误", 12),
    ("工单 #12 已确认：DRG系统 · 致命错误", 12),
    ("【工单 #34】工程师 张伟：请重启读卡器后重试", 34),
    ("工单 #１２ 刘芳 补充：还是不行", 12),  # full-width digits
    ("已接单 #56（门诊部 刘芳）", 56),
    ("工单12 已确认", 12),
    ("【新工单 #12】… 接单请回复：接 12", 12),
    ("DRG分组结果全部为空", None),
    ("", None),
])
def test_ticket_number_in_a_quoted_card(card: str, number: int | None) -> None:
    assert ticket_number_in(card) == number


# -- refused with a hint -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "verb", "problem"), [
    ("接", V.CLAIM, "缺少工单号。"),
    ("接单", V.CLAIM, "缺少工单号。"),
    ("接 abc", V.CLAIM, "缺少工单号。"),
    ("接 12 13", V.CLAIM, "一次只能处理一张工单。"),
    ("接 12、13", V.CLAIM, "一次只能处理一张工单。"),
    ("接 12 和 13", V.CLAIM, "一次只能处理一张工单。"),
    ("接 #12 #13", V.CLAIM, "一次只能处理一张工单。"),
    ("12 接 13", V.CLAIM, "一次只能处理一张工单。"),
    ("接12好的", V.CLAIM, "指令后面不要带其他内容。"),
    ("接 1234567890123", V.CLAIM, "工单号不对。"),
    ("回 12", V.REPLY, "缺少回复内容。"),
    ("回 12 。", V.REPLY, "缺少回复内容。"),
    ("回复", V.REPLY, "缺少工单号。"),
    ("回复 好的", V.REPLY, "缺少工单号。"),
    ("#12 回复好的", V.REPLY, "指令后请空一格再写内容。"),
    ("#12 解决了", V.RESOLVE, "指令后请空一格再写内容。"),
    ("转 12", V.TRANSFER, "缺少要转给的人。"),
    ("转 12 给", V.TRANSFER, "缺少要转给的人。"),
    ("转 12 13", V.TRANSFER, "转给谁不明确"),
    ("转 12 @张伟 @李娜", V.TRANSFER, "一次只能转给一个人。"),
    ("暂停 12", V.PAUSE, "缺少暂停原因。"),
    ("挂起 12。", V.PAUSE, "缺少暂停原因。"),
    ("恢复 12 13", V.RESUME, "一次只能处理一张工单。"),
    ("现场 12 明天上午", V.ONSITE, "指令后面不要带其他内容。"),
    ("到达", V.ARRIVE, "缺少工单号。"),
    ("升级 12", V.ESCALATE, "缺少级别和原因。"),
    ("升级 12 一级", V.ESCALATE, "缺少原因。"),
    ("升级 12 P1。", V.ESCALATE, "缺少原因。"),
    ("升级 12 全院停机", V.ESCALATE, "没看懂级别"),
    ("升级 12 严重影响门诊", V.ESCALATE, "没看懂级别"),  # 严重 glued to text is not a level
    ("升级 12 10级 全院停机", V.ESCALATE, "没看懂级别"),
    ("降级 12 三级", V.DEESCALATE, "缺少原因。"),
    ("降级", V.DEESCALATE, "缺少工单号。"),
    ("解决 12", V.RESOLVE, "缺少原因与措施。"),
    ("查 12 13", V.QUERY, "一次只能处理一张工单。"),
    ("查 一下日志", V.QUERY, "缺少工单号。"),
    ("我的 12", V.MINE, "这条指令不带工单号。"),
    ("#12 我的", V.MINE, "这条指令不带工单号。"),
    ("待办 全部", V.TODO, "指令后面不要带其他内容。"),
])
def test_incomplete_or_ambiguous_commands_are_refused_with_the_verbs_usage(
        text: str, verb: Verb, problem: str) -> None:
    result = parse(text)
    assert isinstance(result, Invalid), result
    assert result.verb is verb
    assert result.hint.startswith(problem) and result.hint.endswith(HELP_BY_VERB[verb])
    assert "\n" not in result.hint


def test_the_pause_hint_is_the_documented_one() -> None:
    assert parse("暂停 12") == Invalid(V.PAUSE, "缺少暂停原因。用法：暂停 12 原因（例如：暂停 12 等待院方停机窗口）")


@pytest.mark.parametrize(("text", "word"), [
    ("关闭 12", "关闭"),
    ("关闭12", "关闭"),
    ("关 #12", "关"),
    ("#12 关闭", "关闭"),
    ("#12关闭", "关闭"),
    ("＃１２　关闭", "关闭"),
    ("@维保助手 作废 12", "作废"),
])
def test_unknown_verbs_are_refused(text: str, word: str) -> None:
    result = parse(text)
    assert isinstance(result, Invalid) and result.verb is None
    assert result.hint.startswith(f"没有“{word}”这个指令。") and "暂停" in result.hint


def test_a_bare_hash_number_asks_for_a_verb() -> None:
    result = parse("#12")
    assert isinstance(result, Invalid) and result.verb is None and result.hint.startswith("工单号后面要写指令。")


@pytest.mark.parametrize("text", [
    "", "   ", "你好", "在吗？", "12", "谢谢", "收到", "好的，马上看", "帮助",
    "接下来怎么办", "回头再说", "解决了吗", "我的电脑坏了", "查一下日志", "继续观察", "现场情况怎么样",
    "升级包已经发了", "@维保助手", "@维保助手\u2005", "13床的病人", "邮件发到 it@hospital.cn 了",
])
def test_chatter_is_not_a_command(text: str) -> None:
    assert parse(text) is None


# -- normalize, HELP -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("  ＡＢＣ１２３  ", "ABC123"),
    ("@维保助手 接 12", "接 12"),
    ("@维保助手\u2005接 12", "接 12"),
    ("@维保助手 @张伟 你好", "你好"),
    ("@维保助手", ""),
    ("发到 it@hospital.cn", "发到 it@hospital.cn"),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_help_lists_every_command_and_fits_a_wecom_message() -> None:
    assert len(HELP) < 600
    for word in ("接 12", "回 12", "转 12", "暂停 12", "恢复 12", "现场 12", "到达 12", "升级 12", "降级 12",
                 "解决 12", "查 12", "我的", "待办", "引用"):
        assert word in HELP, word
    assert set(HELP_BY_VERB) == set(Verb)
    assert all(hint.startswith("用法：") and "\n" not in hint for hint in HELP_BY_VERB.values())


def test_list_verbs_need_no_ticket() -> None:
    assert {V.MINE, V.TODO} == LIST_VERBS


# -- properties --------------------------------------------------------------------------------

_WORDS = {
    V.CLAIM: ["接", "接单", "认领"], V.REPLY: ["回", "回复"], V.TRANSFER: ["转", "转派", "转交"],
    V.PAUSE: ["暂停", "挂起"], V.RESUME: ["恢复", "继续"], V.ONSITE: ["现场", "申请现场"],
    V.ARRIVE: ["到达", "已到达", "到场"], V.ESCALATE: ["升级"], V.DEESCALATE: ["降级"],
    V.RESOLVE: ["解决", "已解决"], V.QUERY: ["查", "查询", "查看"], V.MINE: ["我的", "我的工单"],
    V.TODO: ["待办", "待处理"],
}
_LEVELS = ["一级", "二级", "三级", "四级", "P1", "P2", "L3", "致命", "严重错误", "一般", "紧急"]
# Free text as engineers write it: CJK, ASCII letters and digits, punctuation; it starts with a CJK character.
_TEXT = st.text(alphabet="服务器已重启请稍候数据库ABCxyz019 、。，：!?()", min_size=1, max_size=30).map(
    lambda s: "已" + s.strip())
_NAMES = st.sampled_from(["张伟", "李娜", "zhangwei", "zhang.wei", "li_na"])


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, Command]:
    """A command as an engineer could type it, and what it must parse to."""
    verb = draw(st.sampled_from(list(Verb)))
    word = draw(st.sampled_from(_WORDS[verb]))
    if verb in LIST_VERBS:
        return word, Command(verb)
    number = draw(st.integers(min_value=1, max_value=999_999))
    head = draw(st.sampled_from([f"{word} {number}", f"{word}{number}", f"{word} #{number}", f"#{number} {word}"]))
    if verb is V.TRANSFER:
        name = draw(_NAMES)
        return f"{head} @{name}", Command(verb, number, target=name)
    if verb in (V.ESCALATE, V.DEESCALATE):
        level, reason = draw(st.sampled_from(_LEVELS)), draw(_TEXT)
        return f"{head} {level} {reason}", Command(verb, number, reason, level=level)
    if verb in (V.REPLY, V.PAUSE, V.RESOLVE):
        text = draw(_TEXT)
        return f"{head} {text}", Command(verb, number, text)
    return head, Command(verb, number)


def full_width(text: str) -> str:
    """ASCII to its full-width form (！ to ～ and the ideographic space), as a Chinese IME types it."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@given(commands(), st.booleans())
def test_generated_commands_parse_the_same_in_full_and_half_width(case: tuple[str, Command], mention: bool) -> None:
    text, expected = case
    if mention:
        text = "@维保助手\u2005" + text
    assert parse(text) == expected
    # The same command; only its free text stays as typed, in full width.
    assert parse(full_width(text)) == replace(expected, text=full_width(expected.text))


@given(commands())
def test_a_quoted_card_does_not_change_a_numbered_command(case: tuple[str, Command]) -> None:
    text, expected = case
    assert parse(text, quoted_ticket=424242) == expected


@given(st.text(max_size=300), st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
       st.lists(st.text(max_size=8), max_size=2))
def test_parse_never_raises_and_returns_one_of_three_kinds(text: str, quoted: int | None, names: list[str]) -> None:
    result = parse(text, quoted, bot_names=names)
    assert result is None or isinstance(result, Command | Invalid)
    if isinstance(result, Command):
        assert (result.number is None) == (result.verb in LIST_VERBS)
    if isinstance(result, Invalid):
        assert result.hint and "\n" not in result.hint


@given(st.text(alphabet="接回转暂停恢复现场到达升级降解决查我的待办@# 12３:：，。!！\u2005\u3000ab", max_size=40),
       st.one_of(st.none(), st.just(7)))
def test_parse_never_raises_on_command_like_noise(text: str, quoted: int | None) -> None:
    result = parse(text, quoted)
    assert result is None or isinstance(result, Command | Invalid)
    full = parse(full_width(text), quoted)
    if isinstance(result, Command) and isinstance(full, Command):
        assert full == replace(result, text=full_width(result.text))
    else:
        assert full == result


def test_long_messages_parse_quickly() -> None:
    import time

    for text in ("接" + " " * 5000 + "x", "回 12 " + "@a " * 2000 + "x", "#1" + "2" * 5000, "转 12 " + "@张伟 " * 1000):
        started = time.perf_counter()
        parse(text)
        assert time.perf_counter() - started < 0.5, text[:20]
