"""The intranet web chat channel.

The browser posts a line with a client-generated id (so a retried POST is one
message), and polls for new lines. Outgoing lines are "delivered" by writing
them to the transcript the browser reads; the engineers' view also shows the
lines addressed to ``ENGINEERS`` (the web chat's twin of the WeCom group).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel, or_, select

from intake.message import InboundMessage
from tickets.db import UTCDateTime

CHANNEL = "webchat"
ENGINEERS = "engineers"
MAX_TEXT = 4000


class WebChatLine(SQLModel, table=True):
    __tablename__ = "webchat_line"
    __table_args__ = (Index("ix_webchat_line_audience", "audience", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    # A person id as text, or ENGINEERS for the engineers' group view.
    audience: str = Field(max_length=64)
    direction: str = Field(max_length=8)  # "in" typed by the person, "out" shown to them
    text: str
    at: datetime = Field(sa_type=UTCDateTime)


def inbound(person_id: int, text: str, client_id: str, now: datetime, sender_name: str = "") -> InboundMessage:
    """The normalised message for a line a person typed in the browser."""
    return InboundMessage(
        channel=CHANNEL, external_id=f"{person_id}:{client_id}", sender=str(person_id), sender_name=sender_name,
        channel_ts=now, received_at=now, text=text[:MAX_TEXT],
    )


def echo(session: Session, person_id: int, text: str, now: datetime) -> WebChatLine:
    """Show the person their own line in their transcript."""
    line = WebChatLine(audience=str(person_id), direction="in", text=text[:MAX_TEXT], at=now)
    session.add(line)
    return line


def deliver(session: Session, recipient: str, text: str, now: datetime) -> WebChatLine:
    line = WebChatLine(audience=recipient, direction="out", text=text, at=now)
    session.add(line)
    session.flush()
    return line


def lines_for(session: Session, person_id: int, *, after: int = 0, with_engineers: bool = False,
              limit: int = 200) -> list[WebChatLine]:
    audiences = [str(person_id)] + ([ENGINEERS] if with_engineers else [])
    stmt = (
        select(WebChatLine)
        .where(or_(*[WebChatLine.audience == a for a in audiences]), WebChatLine.id > after)
        .order_by(WebChatLine.id)
        .limit(limit)
    )
    return list(session.exec(stmt).all())
