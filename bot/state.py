"""What the bot is waiting for from each reporter (its only table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Field, Session, SQLModel, col, select

from tickets.db import UTCDateTime
from tickets.models import empty_list

ASK_SYSTEM = "system"
ASK_SEVERITY = "severity"
KB_CHOICE = "kb_choice"  # suggested articles shown: 1/2/3 to read one, 0 for a person
KB_FEEDBACK = "kb_feedback"  # an article shown: 1 solved, 2 for a person


class Conversation(SQLModel, table=True):
    __tablename__ = "bot_conversation"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    awaiting: str = Field(default="", max_length=16)  # ASK_SYSTEM, ASK_SEVERITY or ""
    # The numbered options last offered: system ids or severity codes, in order.
    options: list[Any] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    # While the knowledge base is trying: the reporter's messages so far, so that a
    # hand-over opens the ticket with them and with the first message's own time.
    pending: list[Any] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    updated_at: datetime = Field(sa_type=UTCDateTime)


def load(session: Session, person_id: int) -> Conversation | None:
    return session.get(Conversation, person_id)


def save(session: Session, person_id: int, ticket_id: int | None, awaiting: str, options: list[Any],
         now: datetime, *, pending: list[Any] | None = None) -> None:
    conv = _in_session(session, person_id) or Conversation(person_id=person_id, updated_at=now)
    _absent(session).discard(person_id)  # it exists now (a rollback of this save makes the lookup read again)
    conv.ticket_id, conv.awaiting, conv.options, conv.updated_at = ticket_id, awaiting, options, now
    conv.pending = pending or []
    session.add(conv)


def _in_session(session: Session, person_id: int) -> Conversation | None:
    """The person's row: one added in this session and not flushed yet, else the stored one.

    Looking at the pending rows first lets the lookup skip the autoflush (one flush fewer
    per new ticket on issue 5's intake path) without missing a row saved moments ago.
    """
    for obj in session.new:
        if isinstance(obj, Conversation) and obj.person_id == person_id:
            return obj
    if person_id in _absent(session):
        return None
    with session.no_autoflush:
        return session.get(Conversation, person_id)


def preload(session: Session, person_ids: set[int]) -> None:
    """Read these people's rows at once, and remember who has none for this transaction.

    The inbound worker's batch of new mail tickets asks each reporter a question, which
    saves a row; for twenty reporters that was twenty lookups, mostly of rows that do not
    exist (a new person has none). The rows are written only by :func:`save`, which keeps
    the set true, and the set ends with the transaction.
    """
    stmt = select(Conversation).where(col(Conversation.person_id).in_(person_ids))
    found = {conv.person_id for conv in session.exec(stmt)}
    _absent(session).update(person_ids - found)


def _absent(session: Session) -> set[int]:
    absent: set[int] = session.info.setdefault(_ABSENT, set())
    return absent


_ABSENT = "bot.state.absent"


@event.listens_for(Session, "after_transaction_end")
def _forget_absent(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ABSENT, None)


def clear(session: Session, person_id: int, now: datetime) -> None:
    save(session, person_id, None, "", [], now)
