"""The reporter's side of the loop (issue 6): confirm a resolution, rate the service, or let it close.

Seed 002 一.1: 定期进行满意度回访服务，形成全流程服务闭环管理; seed 000 5.其他要求(2): the evaluation
report contains 用户评价. So after 解决 N the reporter is asked 请确认问题是否已解决 (1 已解决,
2 未解决):

- 已解决 closes the ticket and asks for a score, 1–5; a score of 1–2 asks the service
  managers for a 回访 (seed 002 7、定期开展客户经理现场客户满意度回访).
- 未解决 reopens it: the engineers and the assignee are told, and the resolution clock
  continues from the original report (``tickets.closing.reopen``).
- No answer: after ``BotConfig.confirm_days`` working days the autoclose timer closes
  it as confirmed by default and says so.

Anything that is not an answer is handled as usual (a new report opens a new ticket):
nobody is trapped in a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from bot import reminders, state, texts
from bot.commands import normalize
from tickets import service
from tickets.closing import (
    LOW_RATING,
    CloseReason,
    autoclose_key,
    await_confirmation,
    close,
    rate,
    reopen,
    resolutions,
)
from tickets.models import Hospital, Person, Ticket, TicketClock, TicketStatus, Timer
from tickets.service import Actor, Report, lock

if TYPE_CHECKING:
    from bot.bot import Bot

CONFIRM = "confirm"  # state.Conversation.awaiting: 1 已解决 / 2 未解决
RATE = "rate"  # state.Conversation.awaiting: a score, 1–5
QUESTIONS = (CONFIRM, RATE)
CONFIRM_QUESTION = "请确认问题是否已解决：回复 1 已解决，2 未解决"
RATE_QUESTION = "请为本次服务打分：1–5 分（5 分最满意）"

_SEPARATORS = r"[\s,，。.!！?？~～、;；:：…]+"
_YES = frozenset({"1", "已解决", "解决了", "已经解决", "已经解决了", "好了", "好的", "可以了", "正常了", "恢复了", "恢复正常",
                  "没问题", "没问题了", "行了", "ok", "谢谢", "谢谢您", "谢谢你", "感谢", "辛苦了"})
_NO = ("未解决", "没解决", "没有解决", "还没解决", "还是不行", "还不行", "不行", "没好", "还没好", "没有好",
       "仍然不行", "依然不行", "问题依旧", "还是有问题", "还有问题")
_THANKS = frozenset({"谢谢", "谢谢您", "谢谢你", "感谢", "好的", "好", "ok", "收到", "辛苦了", "不用了", "不打分"})
_SCORE = re.compile(r"([1-5一二三四五])(分|星|星好评)?")
_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
# The usual five-point satisfaction scale of a 回访 questionnaire (5 非常满意 … 1 非常不满意).
_SCORE_WORDS = {"满分": 5, "非常满意": 5, "很满意": 5, "满意": 4, "比较满意": 4, "一般": 3, "不太满意": 2, "不满意": 2,
                "很不满意": 1, "非常不满意": 1}


@dataclass(frozen=True)
class Reading:
    """What the reporter's words answer: yes, no, a score (with the rest as a comment), or thanks."""

    what: str  # "yes", "no", "score", "thanks"
    score: int = 0
    comment: str = ""


def ask(session: Session, ticket: Ticket, now: datetime, *, days: int) -> str:
    """After a resolution: the question for the reporter; the answer is awaited, the autoclose timer set."""
    await_confirmation(session, ticket, now, days=days)
    state.save(session, ticket.reporter_id, ticket.id, CONFIRM, [], now)
    return CONFIRM_QUESTION


def answer(bot: Bot, session: Session, person: Person, report: Report, now: datetime) -> bool:
    """A chat message that answers the pending question (taken onto the ticket); False: handle it as usual."""
    conv = state.load(session, person.id or 0)
    if conv is None or conv.awaiting not in QUESTIONS or conv.ticket_id is None:
        return False
    ticket = session.get(Ticket, conv.ticket_id)
    if ticket is None:
        return False
    lock(session, ticket)
    if not _applies(conv.awaiting, ticket):
        state.clear(session, person.id or 0, now)  # answered elsewhere, or closed meanwhile
        return False
    reading = read(conv.awaiting, normalize(report.text))
    if reading is None:
        return False
    service.append_report(session, ticket, person, report, now)
    _apply(bot, session, ticket, person, conv.awaiting, reading, report.text, now)
    return True


def reply(bot: Bot, session: Session, ticket: Ticket, person: Person, conv: state.Conversation, text: str,
          now: datetime) -> bool:
    """The same for a message already on the ticket (a mail reply): False when ``text`` is no answer."""
    lock(session, ticket)
    reading = read(conv.awaiting, normalize(text)) if _applies(conv.awaiting, ticket) else None
    if reading is None:
        return False
    _apply(bot, session, ticket, person, conv.awaiting, reading, text, now)
    return True


def read(awaiting: str, text: str) -> Reading | None:
    """The reporter's words as an answer to ``awaiting``; None when they are about something else."""
    words = [w for w in re.split(_SEPARATORS, text.lower()) if w]
    if not words:
        return None
    if awaiting == CONFIRM:
        if words[0] == "2" or words[0].startswith(_NO):
            return Reading("no")
        return Reading("yes") if all(w in _YES for w in words) else None
    text = re.sub(r"([1-5一二三四五])\s+(分|星)", r"\1\2", text.strip())
    first = re.split(_SEPARATORS, text, maxsplit=1)
    match = _SCORE.fullmatch(first[0])
    score = (int(_DIGITS.get(match.group(1), match.group(1))) if match else _SCORE_WORDS.get(first[0], 0))
    if score:
        return Reading("score", score=score, comment=first[1] if len(first) > 1 else "")
    return Reading("thanks") if all(w in _THANKS for w in words) else None


def autoclose(bot: Bot, session: Session, due: list[Timer], now: datetime) -> list[Timer]:
    """Close the tickets whose reporters did not answer in time; returns the timers that no longer apply."""
    stale = []
    for timer in due:
        ticket = session.get(Ticket, timer.ticket_id) if timer.ticket_id else None
        if ticket is not None:
            lock(session, ticket)
        # Reopened, confirmed or resolved again since: that resolution's timer says nothing now.
        if (ticket is None or ticket.status != TicketStatus.RESOLVED
                or timer.key != autoclose_key(ticket, resolutions(session, ticket))):
            stale.append(timer)
            continue
        close(session, ticket, CloseReason.AUTO, service.SYSTEM, now)
        conv = state.load(session, ticket.reporter_id)
        if conv is not None and conv.ticket_id == ticket.id and conv.awaiting in QUESTIONS:
            state.clear(session, ticket.reporter_id, now)
        service.send_to_reporter(session, ticket, f"工单 #{ticket.id} 已超过 {bot.config.confirm_days} 个工作日未收到确认，"
                                 "系统已按已解决关闭。如仍有问题请直接回复。", now)
    return stale


# -- what each answer does ------------------------------------------------------------------------

def _applies(awaiting: str, ticket: Ticket) -> bool:
    if awaiting == CONFIRM:
        return ticket.status == TicketStatus.RESOLVED
    return ticket.status == TicketStatus.CLOSED and ticket.rating is None


def _apply(bot: Bot, session: Session, ticket: Ticket, person: Person, awaiting: str, reading: Reading, said: str,
           now: datetime) -> None:
    actor = Actor.of(person)
    if reading.what == "yes":
        close(session, ticket, CloseReason.CONFIRMED, actor, now)
        state.save(session, person.id or 0, ticket.id, RATE, [], now)
        service.send_to_reporter(session, ticket, f"好的，工单 #{ticket.id} 已确认解决并关闭。\n\n{RATE_QUESTION}", now)
    elif reading.what == "no":
        reopen(session, ticket, actor, now, note=said)
        state.clear(session, person.id or 0, now)
        service.send_to_reporter(session, ticket, f"收到，工单 #{ticket.id} 已重新打开，工程师会继续处理。", now)
        _tell_reopened(bot, session, ticket, person, said, now)
    elif reading.what == "score":
        rate(session, ticket, reading.score, reading.comment, actor, now)
        state.clear(session, person.id or 0, now)
        low = reading.score <= LOW_RATING
        service.send_to_reporter(session, ticket, "感谢您的评价，服务经理会尽快联系您了解情况。" if low
                                 else "感谢您的评价！", now)
        if low:
            _ask_for_callback(bot, session, ticket, person, reading, now)
    else:  # thanks instead of a score: nobody is pressed for one
        state.clear(session, person.id or 0, now)
        service.send_to_reporter(session, ticket, "不客气，祝工作顺利！", now)


def _tell_reopened(bot: Bot, session: Session, ticket: Ticket, reporter: Person, said: str, now: datetime) -> None:
    """The engineers' group and the assignee hear of it, with the resolution deadline that still runs."""
    text = f"【工单 #{ticket.id} 重新打开】{reporter.department} {reporter.name} 反馈问题未解决：{texts.clip(said)}"
    clock = session.exec(select(TicketClock).where(TicketClock.ticket_id == ticket.id,
                                                   TicketClock.name == "resolution")).first()
    if clock is not None and clock.state == "running" and clock.due_at is not None:
        hospital = session.get(Hospital, ticket.hospital_id)
        tz = hospital.timezone if hospital else "Asia/Shanghai"
        text += f"\n解决时限继续计时：{texts.when(clock.due_at, now, tz)}（{texts.left(clock.due_at, now)}）"
    bot._notify_engineers(session, ticket, text, now)
    assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None and assignee.active:
        bot._tell(session, assignee, text, now)


def _ask_for_callback(bot: Bot, session: Session, ticket: Ticket, reporter: Person, reading: Reading,
                      now: datetime) -> None:
    """A low score: the service managers call the reporter back (the engineers' group when there are none)."""
    hospital = session.get(Hospital, ticket.hospital_id)
    text = (f"【满意度回访】工单 #{ticket.id}（{hospital.name if hospital else ''} {reporter.department} {reporter.name}）"
            f"评分 {reading.score} 分" + (f"：{texts.clip(reading.comment)}" if reading.comment else "")
            + "。请安排回访。")
    chosen = reminders.managers(session)
    for manager in chosen:
        bot._tell(session, manager, text, now)
    if not chosen:
        bot._notify_engineers(session, ticket, text, now)
