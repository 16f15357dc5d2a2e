"""Small helpers for talking to the product as people do, through its own channels."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

from sqlmodel import col, select

from admin.app import build_runtime
from intake import webchat
from tests.conftest import Env
from tickets import timers
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


def fire_after_a_crash(env: Env, now: datetime) -> tuple[int, list[BaseException]]:
    """A worker claims 10 due timers and dies before committing; then three workers (threads, own
    connections) fire everything due, 7 per pass. Returns how many the three fired, and the errors
    they raised (a deadlock would otherwise be retried by the others and go unseen)."""
    doomed = build_runtime(env.settings, clock=lambda: now)
    try:
        with doomed.db.session() as session:
            assert len(timers.claim_due(session, now, limit=10)) == 10
            raise RuntimeError("killed")  # the connection closes: a rollback
    except RuntimeError:
        pass
    finally:
        doomed.db.dispose()
    workers = [build_runtime(env.settings, clock=lambda: now) for _ in range(3)]
    fired = [0, 0, 0]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            while (n := workers[i].fire_due_timers(limit=7)) > 0:
                fired[i] += n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for w in workers:
        w.db.dispose()
    return sum(fired), errors
