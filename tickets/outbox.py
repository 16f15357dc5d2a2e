"""The durable outbox: what must be sent, written in the same transaction as the
change that caused it, then delivered by a worker with bounded retries.

Delivery uses a lease instead of holding a row lock during the network call
(an SQLite write lock held for a slow WeCom call would stall every callback):
claiming a row pushes its ``next_attempt_at`` a lease ahead, the call happens
outside any transaction, and the result is written in a second, short one. A
process that dies mid-call leaves the row due again when the lease ends.

Messages to one recipient leave in the order they were written: a row is not
claimed while an older row to the same recipient is still pending.

Exactly once: a row whose earlier attempt may have arrived (the process died
mid-call, or the call timed out after sending) is flagged ``maybe_delivered``
and the channel is asked to drop it if it is a duplicate (WeCom's duplicate
check). First attempts never ask, so a person who is legitimately sent the
same words twice receives them twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from tickets import deferred
from tickets.db import skip_locked
from tickets.models import Outbox, OutboxStatus

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 20  # with the backoff below: about two and a half hours of outage before parking
BACKOFF_BASE_S = 5
BACKOFF_CAP_S = 600


def enqueue(session: Session, *, channel: str, recipient: str, text: str, now: datetime,
            ticket_id: int | None = None, message_id: int | deferred.IdOf | None = None,
            payload: dict[str, Any] | None = None) -> None:
    """Queue a message in the caller's transaction; rows to one recipient leave in this order.

    Written through :mod:`tickets.deferred` (a new ticket queues two or three at once,
    issue 5), so the row has no id here: nothing in the writing transaction needs one.
    """
    deferred.insert_later(session, _TABLE, {
        "channel": channel, "recipient": recipient, "text": text, "ticket_id": ticket_id, "message_id": message_id,
        "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now, "last_error": "",
        "external_id": None, "created_at": now, "sent_at": None, "in_flight": False, "maybe_delivered": False,
        "payload": payload})


_TABLE = Outbox.__table__  # type: ignore[attr-defined]


def claim_due(session: Session, now: datetime, limit: int = 20) -> list[Outbox]:
    """Lease up to ``limit`` due rows, at most one per recipient, oldest first."""
    older = aliased(Outbox)
    has_older = (
        select(older.id)
        .where(older.channel == Outbox.channel, older.recipient == Outbox.recipient,
               older.status == OutboxStatus.PENDING, older.id < Outbox.id)
        .exists()
    )
    stmt = (
        select(Outbox)
        .where(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now, ~has_older)
        .order_by(Outbox.id)
        .limit(limit)
        .with_for_update(**skip_locked(session))
    )
    rows = list(session.exec(stmt).all())
    for row in rows:
        if row.in_flight:  # its last lease ran out with no outcome recorded: that attempt may have arrived
            row.maybe_delivered = True
        row.in_flight = True
        row.next_attempt_at = now + LEASE
        session.add(row)
    return rows


def mark_sent(row: Outbox, now: datetime, external_id: str | None = None) -> None:
    row.status = OutboxStatus.SENT
    row.sent_at = now
    row.external_id = external_id
    row.last_error = ""
    row.in_flight = False


def mark_failed(row: Outbox, now: datetime, error: str, *, permanent: bool = False, uncertain: bool = False) -> None:
    """Schedule a retry with exponential backoff, or park the row as dead.

    ``uncertain``: the attempt may have reached the channel (a timeout after
    the request was sent), so the retry must be sent as a possible duplicate.
    """
    row.attempts += 1
    row.last_error = error[:1000]
    row.in_flight = False
    row.maybe_delivered = row.maybe_delivered or uncertain
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.DEAD
        return
    delay = min(BACKOFF_BASE_S * 2 ** (row.attempts - 1), BACKOFF_CAP_S)
    row.next_attempt_at = now + timedelta(seconds=delay)


def requeue(session: Session, row_id: int, now: datetime) -> bool:
    """Operator action: give a dead row a fresh retry budget."""
    row = session.get(Outbox, row_id)
    if row is None or row.status != OutboxStatus.DEAD:
        return False
    row.status, row.attempts, row.next_attempt_at = OutboxStatus.PENDING, 0, now
    session.add(row)
    return True


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all()
    return {status: n for status, n in rows}
