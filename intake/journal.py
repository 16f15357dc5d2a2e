"""The durable intake journal: every inbound message is stored here before it is
acknowledged, deduplicated by (channel, external id), then processed.

Nothing is lost: a message that fails processing stays in the journal with its
error and attempt count, visible to operators, and is retried.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, func
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel, select

from intake.message import InboundMessage
from tickets.db import UTCDateTime, insert_ignoring_conflict, skip_locked

PENDING, DONE, FAILED = "pending", "done", "failed"
MAX_ATTEMPTS = 5


class InboundRecord(SQLModel, table=True):
    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbound_channel_external"),
        Index("ix_inbound_pending", "status", "id"),
        Index("ix_inbound_sender", "channel", "sender", "status", "id"),  # per-sender order check in claim
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=300)
    sender: str = Field(max_length=300)
    sender_name: str = Field(default="", max_length=200)
    channel_ts: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    msg_type: str = Field(default="text", max_length=32)
    text: str = ""
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    error: str = Field(default="", max_length=2000)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)

    def to_message(self) -> InboundMessage:
        return InboundMessage(
            channel=self.channel, external_id=self.external_id, sender=self.sender,
            sender_name=self.sender_name, channel_ts=self.channel_ts, received_at=self.received_at,
            msg_type=self.msg_type, text=self.text,
            attachments=self.payload.get("attachments", []),
            thread_hints=self.payload.get("thread_hints", {}), raw=self.payload.get("raw", {}),
        )


def record(session: Session, msg: InboundMessage, *, handled_at: datetime | None = None) -> bool:
    """Store ``msg`` unless the channel already delivered it; True if it is new.

    ``handled_at``: the caller handles the message in this same transaction (a card
    click answered within WeCom's 5 s), so it is stored as done, never processed again.
    """
    status = DONE if handled_at is not None else PENDING
    return insert_ignoring_conflict(
        session, InboundRecord,
        {
            "channel": msg.channel, "external_id": msg.external_id, "sender": msg.sender,
            "sender_name": msg.sender_name, "channel_ts": msg.channel_ts, "received_at": msg.received_at,
            "msg_type": msg.msg_type, "text": msg.text, "status": status, "attempts": 0, "error": "",
            "processed_at": handled_at,
            "payload": {"attachments": msg.attachments, "thread_hints": msg.thread_hints, "raw": msg.raw},
        },
        conflict=["channel", "external_id"],
    )


def claim(session: Session, limit: int = 1) -> list[InboundRecord]:
    """Lock up to ``limit`` oldest pending messages whose senders have no older pending message.

    Per-sender order matters (a reporter's "2" answers the bot's last question),
    so a sender's messages are processed one after another even when several
    workers share the journal; other senders' messages go on in parallel. A
    batch never holds two messages of one sender: the second still has an older
    pending one when the batch is chosen.
    """
    older = aliased(InboundRecord)
    has_older = (
        select(older.id)
        .where(older.channel == InboundRecord.channel, older.sender == InboundRecord.sender,
               older.status == PENDING, older.id < InboundRecord.id)
        .exists()
    )
    stmt = (
        select(InboundRecord)
        .where(InboundRecord.status == PENDING, ~has_older)
        .order_by(InboundRecord.id)
        .limit(limit)
        .with_for_update(**skip_locked(session))
    )
    return list(session.exec(stmt).all())


def mark_done(record_: InboundRecord, now: datetime) -> None:
    record_.status = DONE
    record_.processed_at = now
    record_.error = ""


def mark_attempt_failed(session: Session, record_id: int, error: str, now: datetime) -> None:
    """Count a failed attempt; after MAX_ATTEMPTS the message is parked as failed for an operator."""
    rec = session.get(InboundRecord, record_id)
    if rec is None:
        return
    rec.attempts += 1
    rec.error = error[:2000]
    if rec.attempts >= MAX_ATTEMPTS:
        rec.status = FAILED
        rec.processed_at = now
    session.add(rec)


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.exec(select(InboundRecord.status, func.count()).group_by(InboundRecord.status)).all()
    return {status: n for status, n in rows}


def retry_failed(session: Session) -> int:
    """Put failed messages back in the queue (operator action after a fix)."""
    rows = session.exec(select(InboundRecord).where(InboundRecord.status == FAILED)).all()
    for rec in rows:
        rec.status, rec.attempts = PENDING, 0
        session.add(rec)
    return len(rows)
