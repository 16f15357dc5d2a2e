"""The knowledge base's part of a reporter's conversation, before any ticket exists.

A first message that is not an outage is tried against the knowledge base:
**answer** shows one article and asks 解决了吗 (1 已解决, 2 转人工); **suggest**
lists up to three (回复 1/2/3 查看，回复 0 转人工); **handoff** opens the ticket
at once. While the knowledge base is trying, the reporter's messages are kept,
so a hand-over opens the ticket with all of them — and with the first message's
own time as the report time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import state
from knowledge import Article, Thresholds, ask, record_feedback
from tickets.models import Person
from tickets.service import Report

# A reporter who comes back later with a new message starts afresh.
STALE_AFTER = timedelta(minutes=30)
_SOLVED = re.compile(r"^(1|好了|好的|解决了|已解决|可以了|谢谢|ok|OK|行了)[!！。.~～]*$")
_PERSON = re.compile(r"^(2|0|转人工|人工|没解决|未解决|不行|还是不行|找工程师)[!！。.~～]*$")


@dataclass(frozen=True)
class KbConfig:
    thresholds: Thresholds


@dataclass(frozen=True)
class KbStep:
    """What the bot does next: say ``text``; or hand over (open the ticket) with ``reports``."""

    text: str = ""
    handoff: bool = False
    reports: tuple[Report, ...] = ()
    failed_article: int | None = None  # the article that did not help, recorded on the ticket


def pending_of(conv: state.Conversation | None, now: datetime) -> list[Any] | None:
    """The kept messages when the reporter is answering the knowledge base, else None."""
    if conv is None or conv.awaiting not in (state.KB_CHOICE, state.KB_FEEDBACK):
        return None
    if now - conv.updated_at > STALE_AFTER:
        return None
    return list(conv.pending)


def first_message(session: Session, config: KbConfig, person: Person, report: Report, now: datetime) -> KbStep:
    result = ask(session, report.text, hospital_id=person.hospital_id, thresholds=config.thresholds)
    if result.decision == "handoff":
        return KbStep(handoff=True, reports=(report,))
    pending = [_keep(report)]
    if result.decision == "answer":
        article = session.get(Article, result.hits[0].entry.article_id)
        assert article is not None
        return _show(session, person, article, pending, now, report.text)
    ids = [h.entry.article_id for h in result.hits]
    state.save(session, person.id or 0, None, state.KB_CHOICE, ids, now, pending=pending)
    lines = "\n".join(f"{i}. {h.entry.question}" for i, h in enumerate(result.hits, start=1))
    return KbStep(text=f"您可能想问：\n{lines}\n回复 {'/'.join(str(i) for i in range(1, len(ids) + 1))} 查看，"
                       "回复 0 转人工。")


def reply(session: Session, person: Person, conv: state.Conversation, report: Report, pending: list[Any],
          now: datetime) -> KbStep:
    text = report.text.strip()
    if conv.awaiting == state.KB_CHOICE:
        choice = _number(text)
        if choice is not None and 1 <= choice <= len(conv.options):
            article = session.get(Article, int(conv.options[choice - 1]))
            if article is not None:
                return _show(session, person, article, pending, now, _first_text(pending))
        if choice == 0 or _PERSON.match(text):
            return _handoff(session, person, pending, None, now)
        # Anything else is more about the problem: a person should read it.
        return _handoff(session, person, pending + [_keep(report)], None, now)
    article_id = int(conv.options[0]) if conv.options else None
    if _SOLVED.match(text):
        if article_id is not None:
            record_feedback(session, article_id, "helped", now, person_id=person.id, query=_first_text(pending))
        state.clear(session, person.id or 0, now)
        return KbStep(text="好的，很高兴帮到您。还有问题随时发消息给我。")
    extra = [] if _PERSON.match(text) else [_keep(report)]
    return _handoff(session, person, pending + extra, article_id, now)


def _show(session: Session, person: Person, article: Article, pending: list[Any], now: datetime,
          query: str) -> KbStep:
    record_feedback(session, article.id or 0, "shown", now, person_id=person.id, query=query)
    state.save(session, person.id or 0, None, state.KB_FEEDBACK, [article.id], now, pending=pending)
    return KbStep(text=f"【{article.question}】\n{article.answer}\n\n解决了吗？回复 1 已解决，2 转人工。")


def _handoff(session: Session, person: Person, pending: list[Any], article_id: int | None, now: datetime) -> KbStep:
    state.clear(session, person.id or 0, now)
    return KbStep(handoff=True, reports=tuple(_report(p) for p in pending), failed_article=article_id)


def _keep(report: Report) -> dict[str, Any]:
    return {"channel": report.channel, "external_id": report.external_id, "text": report.text,
            "channel_ts": report.channel_ts.isoformat(), "received_at": report.received_at.isoformat(),
            "is_written_report": report.is_written_report}


def _report(kept: dict[str, Any]) -> Report:
    return Report(channel=kept["channel"], external_id=kept["external_id"], text=kept["text"],
                  channel_ts=datetime.fromisoformat(kept["channel_ts"]),
                  received_at=datetime.fromisoformat(kept["received_at"]),
                  is_written_report=bool(kept["is_written_report"]))


def _first_text(pending: list[Any]) -> str:
    return str(pending[0]["text"]) if pending else ""


def _number(text: str) -> int | None:
    m = re.fullmatch(r"\D{0,2}?(\d)\D{0,3}", text)
    return int(m.group(1)) if m else None
