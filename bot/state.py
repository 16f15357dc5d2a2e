"""What the bot is waiting for from each reporter (its only table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel

from tickets.db import UTCDateTime

ASK_SYSTEM = "system"
ASK_SEVERITY = "severity"


class Conversation(SQLModel, table=True):
    __tablename__ = "bot_conversation"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    awaiting: str = Field(default="", max_length=16)  # ASK_SYSTEM, ASK_SEVERITY or ""
    # The numbered options last offered: system ids or severity codes, in order.
    options: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)


def load(session: Session, person_id: int) -> Conversation | None:
    return session.get(Conversation, person_id)


def save(session: Session, person_id: int, ticket_id: int | None, awaiting: str, options: list[Any],
         now: datetime) -> None:
    conv = session.get(Conversation, person_id) or Conversation(person_id=person_id, updated_at=now)
    conv.ticket_id, conv.awaiting, conv.options, conv.updated_at = ticket_id, awaiting, options, now
    session.add(conv)


def clear(session: Session, person_id: int, now: datetime) -> None:
    save(session, person_id, None, "", [], now)
