"""The running parts wired together: the inbound processor and the outbox
deliverer, each a plain function for one unit of work (what tests call with a
pinned clock) plus an asyncio loop that runs it in the web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlmodel import Session

from bot import Bot
from intake import InboundMessage, journal, webchat
from intake.aibot import AckError, AibotConnection, NotConnected, SendOutcomeUnknown
from intake.wecom import WeComClient, WeComError
from tickets import Database, outbox, service, timers
from tickets.models import Outbox, TimerStatus

if TYPE_CHECKING:
    from intake.email.poller import MailboxPoller

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
POLL_S = 1.0
# Journal entries per transaction: long enough to spare a commit per message, short
# enough that SQLite's write lock is never held for long (a web request waits on it).
INBOUND_BATCH = 20
# Timers per transaction: a pass of due reminders, merged per recipient into one message each.
TIMER_BATCH = 500


class DeliveryFailed(Exception):
    """An attempt failed. ``permanent``: no retry will help; ``uncertain``: it may have arrived anyway."""

    def __init__(self, reason: str, *, permanent: bool = False, uncertain: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.uncertain = uncertain


class RemoteChannel(Protocol):
    """A channel reached over the network: called outside any transaction."""

    def send(self, row: Outbox) -> str | None:
        """Deliver one outbox row; ``row.maybe_delivered``: an earlier attempt may have arrived."""


class WeComChannel:
    """Members by userid (message/send), the engineers' group by ``chat:<chatid>`` (appchat/send)."""

    def __init__(self, client: WeComClient) -> None:
        self.client = client

    def send(self, row: Outbox) -> str | None:
        recipient, text, possible_duplicate = row.recipient, row.text, row.maybe_delivered
        payload = row.payload or {}
        try:
            if "card" in payload:  # a button card, one-to-one to the on-duty engineers ("u1|u2")
                return str(self.client.send_template_card(recipient, payload["card"]).get("msgid") or "") or None
            if "card_update" in payload:  # someone claimed: replace the buttons on every copy
                update = payload["card_update"]
                self.client.update_template_card(list(update["userids"]), str(update["response_code"]),
                                                 str(update["replace_name"]))
                return None
            if recipient.startswith("chat:"):
                # appchat/send has no duplicate check: a group notice may repeat after a crash.
                self.client.appchat_send_text(recipient.removeprefix("chat:"), text)
                return None
            data = self.client.send_text(recipient, text, possible_duplicate=possible_duplicate)
            return str(data.get("msgid") or "") or None
        except WeComError as exc:  # WeCom answered: it did not take the message
            raise DeliveryFailed(str(exc), permanent=exc.permanent) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached WeCom
            raise DeliveryFailed(f"wecom unreachable: {exc!r}") from exc
        except httpx.HTTPError as exc:  # sent, but no answer we can trust
            raise DeliveryFailed(f"wecom outcome unknown: {exc!r}", uncertain=True) from exc


class AibotChannel:
    """The AI bot: over its long connection, groups by ``chat:<chatid>`` (cards or markdown) and
    members by userid; in callback mode, an answer to a message through its ``response_url``."""

    def __init__(self, connection: AibotConnection | None, http: httpx.Client | None = None) -> None:
        self.connection = connection
        self.http = http or httpx.Client(timeout=10.0)

    def send(self, row: Outbox) -> str | None:
        if row.recipient.startswith(("https://", "http://")):
            return self._respond(row)
        if self.connection is None:
            raise DeliveryFailed("aibot: no long connection configured; only answers to messages can be sent",
                                 permanent=True)
        chatid = row.recipient.removeprefix("chat:")
        card = (row.payload or {}).get("card")
        try:
            if card is not None:
                self.connection.send_card_sync(chatid, card)
            else:
                self.connection.send_markdown_sync(chatid, row.text)
        except NotConnected as exc:  # nothing went out: retry once the connection is back
            raise DeliveryFailed(str(exc)) from exc
        except SendOutcomeUnknown as exc:
            raise DeliveryFailed(str(exc), uncertain=True) from exc
        except AckError as exc:  # WeCom refused it; its codes on this channel are not documented
            raise DeliveryFailed(str(exc)) from exc
        return None

    def _respond(self, row: Outbox) -> str | None:
        """POST to a response_url: usable once, for an hour (DOC 101138), so a failure is final."""
        body = {"msgtype": "markdown", "markdown": {"content": row.text}}
        try:
            data = self.http.post(row.recipient, json=body).json()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise DeliveryFailed(f"aibot response_url unreachable: {exc!r}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise DeliveryFailed(f"aibot response_url outcome unknown: {exc!r}", uncertain=True) from exc
        if data.get("errcode", 0) != 0:
            raise DeliveryFailed(f"aibot response_url refused: {data}", permanent=True)
        return None


@dataclass
class Runtime:
    db: Database
    bot: Bot
    clock: Clock
    remote: dict[str, RemoteChannel] = field(default_factory=dict)
    inbound_wake: asyncio.Event = field(default_factory=asyncio.Event)
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    timer_wake: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None
    pollers: list[MailboxPoller] = field(default_factory=list)
    aibot: AibotConnection | None = None
    # The hotline drop folder's polling loop (admin.hotline), when HELPDESK_HOTLINE_DROP_DIR is set.
    hotline_drop: Callable[[], Coroutine[Any, Any, None]] | None = None

    # -- intake -----------------------------------------------------------------------

    def accept(self, msg: InboundMessage, also: Callable[[Session], None] | None = None) -> bool:
        """Store an inbound message durably (the channel may then be acknowledged).

        ``also`` runs in the same transaction when the message is new (the web
        chat shows the person their own line that way, before any answer).
        """
        with self.db.session() as session:
            is_new = journal.record(session, msg)
            if is_new and also is not None:
                also(session)
        if is_new:
            self._wake(self.inbound_wake)
        return is_new

    def accept_aibot(self, msg: InboundMessage) -> bool:
        """The AI bot's ``accept``: a card click is stored by :meth:`card_click` instead."""
        if msg.msg_type == "card_event":
            return True
        return self.accept(msg)

    def card_click(self, msg: InboundMessage) -> dict[str, Any] | None:
        """Handle a card button tap at once; returns the card that replaces the tapped one.

        WeCom waits at most 5 s for the replacement and never sends the click again,
        so it is not left to the inbound worker: the click is journaled (as handled)
        and acted on in one transaction, and a redelivered click changes nothing.
        """
        now = self.clock()
        with self.db.session() as session:
            journal.record(session, msg, handled_at=now)
            card = self.bot.card_click(session, msg, now)
        self._wake(self.outbox_wake)
        return card

    def handle_now(self, msg: InboundMessage, also: Callable[[Session], None] | None = None) -> bool:
        """Journal ``msg`` and handle it in the same transaction; False if it was taken before.

        For a person waiting on the answer (the phone form opens the ticket it then shows),
        not for channels: what fails here fails the request and nothing is stored.
        """
        now = self.clock()
        with self.db.session() as session:
            if not journal.record(session, msg, handled_at=now):
                return False
            self.bot.handle(session, msg, now)
            if also is not None:
                also(session)
        self._wake(self.outbox_wake)
        return True

    def process_next(self, batch: int = INBOUND_BATCH) -> bool:
        """Process the next journal entries (up to ``batch``); False when none is waiting.

        One transaction holds the batch (one commit, one fsync, instead of one per
        message), handled all together first (:meth:`Bot.handle_batch`: a batch's new
        mail tickets are stored with one INSERT per table). If anything in it fails, that
        transaction is rolled back and the batch is handled again one entry at a time,
        each in its own savepoint, so an entry that fails is rolled back alone, its
        attempt counted, and the others still land.
        """
        try:
            with self.db.session() as session:
                records = journal.claim(session, batch)
                now = self.clock()
                self.bot.handle_batch(session, [record.to_message() for record in records], now)
                for record in records:
                    journal.mark_done(record, now)
        except Exception:
            log.warning("inbound: a batch failed as a whole; handling its entries one by one", exc_info=True)
            with self.db.session() as session:
                records = journal.claim(session, batch)
                for record in records:
                    self._process(session, record)
        if not records:
            return False
        self._wake(self.outbox_wake)
        return True

    def _process(self, session: Session, record: journal.InboundRecord) -> None:
        record_id = record.id or 0
        try:
            with session.begin_nested():
                self.bot.handle(session, record.to_message(), self.clock())
                journal.mark_done(record, self.clock())
        except Exception as exc:
            log.exception("inbound %s failed", record_id)
            journal.mark_attempt_failed(session, record_id, repr(exc), self.clock())

    def drain_inbound(self, limit: int = 10_000) -> int:
        n = 0
        while n < limit and self.process_next():
            n += 1
        return n

    # -- timers -----------------------------------------------------------------------

    def fire_due_timers(self, limit: int = TIMER_BATCH) -> int:
        """Fire what is due now in one transaction (outbox rows + timers marked); how many were due."""
        now = self.clock()
        with self.db.session() as session:
            due = timers.claim_due(session, now, limit)
            stale = {id(t) for t in self.bot.remind(session, due, now)}
            for timer in due:
                timers.mark(timer, TimerStatus.CANCELLED if id(timer) in stale else TimerStatus.FIRED, now)
        if due:
            self._wake(self.outbox_wake)
        return len(due)

    async def run_timers(self) -> None:
        await self._run(lambda: self.fire_due_timers() > 0, self.timer_wake, "timers")

    # -- outbox -----------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Deliver what is due now; returns how many rows were attempted."""
        with self.db.session() as session:
            rows = outbox.claim_due(session, self.clock())
        for row in rows:
            self._deliver(row)
        return len(rows)

    def drain_outbox(self, limit: int = 1000) -> int:
        total = 0
        while total < limit:
            n = self.deliver_due()
            if n == 0:
                return total
            total += n
        return total

    def _deliver(self, row: Outbox) -> None:
        if row.channel == webchat.CHANNEL:
            with self.db.session() as session:
                fresh = session.get(Outbox, row.id)
                assert fresh is not None
                webchat.deliver(session, fresh.recipient, fresh.text, self.clock())
                self._sent(session, fresh, None)
            return
        channel = self.remote.get(row.channel)
        try:
            if channel is None:
                raise DeliveryFailed(f"channel {row.channel} is off (not configured)")
            external_id = channel.send(row)
        except DeliveryFailed as exc:
            log.warning("outbox %s to %s:%s failed (attempt %s): %s", row.id, row.channel, row.recipient,
                        row.attempts + 1, exc)
            with self.db.session() as session:
                fresh = session.get(Outbox, row.id)
                assert fresh is not None
                outbox.mark_failed(fresh, self.clock(), str(exc), permanent=exc.permanent, uncertain=exc.uncertain)
                session.add(fresh)
            return
        with self.db.session() as session:
            fresh = session.get(Outbox, row.id)
            assert fresh is not None
            self._sent(session, fresh, external_id)

    def _sent(self, session: Session, row: Outbox, external_id: str | None) -> None:
        now = self.clock()
        outbox.mark_sent(row, now, external_id)
        session.add(row)
        if row.message_id is not None:
            service.record_delivery(session, row.message_id, now)

    # -- loops ------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind the wake-up events to the loop the workers run on (called from inside it)."""
        self.loop = loop
        self.inbound_wake, self.outbox_wake = asyncio.Event(), asyncio.Event()

    def wake_inbound(self) -> None:
        """Called by intake (e.g. a mail poller's thread) when it journaled something new."""
        self._wake(self.inbound_wake)

    def jobs(self) -> list[Coroutine[Any, Any, None]]:
        """Everything that runs in the background: inbound, outbox, timers, mail pollers, the AI bot."""
        jobs = [self.run_inbound(), self.run_outbox(), self.run_timers(), *(p.run() for p in self.pollers)]
        if self.aibot is not None:
            jobs.append(self.aibot.run(asyncio.Event()))  # stops when the job is cancelled
        if self.hotline_drop is not None:
            jobs.append(self.hotline_drop())
        return jobs

    def _wake(self, event: asyncio.Event) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(event.set)

    async def run_inbound(self) -> None:
        await asyncio.to_thread(self.warm_up)
        await self._run(self.process_next, self.inbound_wake, "inbound")

    def warm_up(self) -> None:
        """Load the sentence encoder and build the knowledge index before the first message needs them.

        Done inside a message's transaction, the first load (seconds) would hold
        SQLite's write lock and make the WeCom callback wait.
        """
        if self.bot.config.kb is None:
            return
        try:
            from knowledge import warm_up

            with self.db.session() as session:
                warm_up(session)
        except Exception:
            log.exception("knowledge base warm-up failed; the first question will load it")

    async def run_outbox(self) -> None:
        await self._run(lambda: self.deliver_due() > 0, self.outbox_wake, "outbox")

    async def _run(self, step: Callable[[], bool], wake: asyncio.Event, name: str) -> None:
        while True:
            try:
                did = await asyncio.to_thread(step)
            except Exception:
                log.exception("%s worker step failed; retrying", name)
                did = False
            if did:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=POLL_S)
            wake.clear()
