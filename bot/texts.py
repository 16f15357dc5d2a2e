"""What the bot says, in one place: short, concrete, in Chinese."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def when(due: datetime, now: datetime, tz: str) -> str:
    """A deadline as a person reads it: 今天 21:39 / 明天 09:00 / 11月24日 09:00."""
    zone = ZoneInfo(tz)
    local, today = due.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    days = (local.date() - today).days
    if days == 0:
        return f"今天 {clock}"
    if days == 1:
        return f"明天 {clock}"
    return f"{local.month}月{local.day}日 {clock}"


def left(due: datetime, now: datetime) -> str:
    return f"已超时 {span(now - due)}" if due < now else f"还有 {span(due - now)}"


def span(length: timedelta) -> str:
    """A length of time as people say it: 45 分钟 / 2 小时 15 分钟 (whole minutes, never negative)."""
    minutes = max(0, int(length.total_seconds()) // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"


def deadline_line(due: datetime | None, now: datetime, tz: str) -> str:
    if due is None:
        return "响应时限：合同未规定"
    return f"响应时限：{when(due, now, tz)} 前（{left(due, now)}）"


def clip(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters: for notices that quote what somebody wrote."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def numbered(options: list[str]) -> str:
    return "\n".join(f"{i} {text}" for i, text in enumerate(options, start=1))


UNKNOWN_PERSON = (
    "您好，服务台的通讯录里还没有您的账号，暂时无法登记报障。"
    "请联系医院信息科把您加入通讯录，紧急情况请拨打维保热线。"
)
ASK_TO_DESCRIBE = "您好！请直接描述遇到的问题（哪个系统、什么现象、影响多大），我会马上为您登记工单。"
NO_CONTRACT = "您所在医院目前没有有效的维保合同，无法登记报障。请联系医院信息科。"
