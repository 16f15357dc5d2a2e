"""Small helpers for talking to the product as people do, through its own channels."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, select

from intake import webchat
from tests.conftest import Env
from tickets.models import Outbox, Person, Ticket


def person(env: Env, wecom_userid: str) -> Person:
    with env.db.session() as session:
        p = session.exec(select(Person).where(Person.wecom_userid == wecom_userid)).one()
        return p


def chat(env: Env, who: str, text: str, *, at: datetime | None = None) -> None:
    """``who`` types ``text`` in the web chat; the bot handles it and the outbox is delivered."""
    p = person(env, who)
    now = at or env.clock()
    env.runtime.accept(webchat.inbound(p.id or 0, text, uuid.uuid4().hex, now, p.name))
    env.runtime.drain_inbound()
    env.runtime.drain_outbox()


def transcript(env: Env, who: str) -> list[str]:
    """What ``who`` has been shown in the web chat (their own lines excluded)."""
    p = person(env, who)
    with env.db.session() as session:
        return [line.text for line in webchat.lines_for(session, p.id or 0) if line.direction == "out"]


def group_feed(env: Env) -> list[str]:
    with env.db.session() as session:
        rows = session.exec(select(webchat.WebChatLine).where(webchat.WebChatLine.audience == webchat.ENGINEERS)
                            .order_by(col(webchat.WebChatLine.id)))
        return [r.text for r in rows]


def tickets(env: Env) -> list[Ticket]:
    with env.db.session() as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.id))).all())


def outbox_rows(env: Env) -> list[Outbox]:
    with env.db.session() as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())
