"""Reading one mailbox into the journal, exactly once, for as long as the process runs.

One pass (:meth:`MailboxPoller.poll_once`, what ``helpdesk mail poll --once`` runs):
open the folder, compare UIDVALIDITY with the stored one (a change resets the cursor and
the rescan is deduplicated by Message-ID), list the UIDs past the cursor, fetch them in
batches of 20 and write each batch in one transaction (ledger rows + journal entries +
cursor, :func:`intake.email.store.ingest_batch`) while the server reads out the next
batch. A mail our code fails on is kept raw as an error item and the pass goes on: one
bad mail never stops a mailbox.

:meth:`MailboxPoller.run` repeats passes, waiting with IDLE where the server offers it
(new mail is announced at once) and polling otherwise, and reconnects with exponential
backoff after any failure. Database work runs in a thread, so the web process's event
loop is never blocked by it.

One poller per mailbox: on PostgreSQL a session-level advisory lock named after the
mailbox is held while reading it, so any number of ``helpdesk worker`` processes can
run and exactly one of them reads each mailbox; the others wait their turn. (Even
without the lock no mail would be doubled: the ledger's unique key decides.) SQLite
deployments are one process, where a process-local lock does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from intake.email import store
from intake.email.imap import Fetched, ImapConfig, ImapConnection, ImapError
from intake.email.store import FetchedMail, IntakeRules
from tickets.db import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BATCH = 20  # mails per FETCH: bounded memory even when each carries a 20 MB attachment
BACKOFF_START_S = 2.0
BACKOFF_CAP_S = 300.0

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@dataclass
class PassResult:
    mailbox: str
    fetched: int = 0
    journaled: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rescanned: bool = False
    skipped_locked: bool = False  # another process holds this mailbox


class MailboxPoller:
    def __init__(self, db: Database, config: ImapConfig, rules: IntakeRules, clock: Clock, *,
                 on_new: Callable[[], None] = lambda: None, poll_s: float = 60.0, idle_s: float = 300.0) -> None:
        self.db = db
        self.config = config
        self.rules = rules
        self.clock = clock
        self.on_new = on_new
        self.poll_s = poll_s
        self.idle_s = idle_s
        self._connected = False  # the current run() attempt got a connection

    # -- one pass ---------------------------------------------------------------------------

    async def poll_once(self) -> PassResult:
        """Connect, read everything new, disconnect."""
        with mailbox_lock(self.db, self.config.name) as held:
            if not held:
                log.info("mail %s: another process is reading this mailbox", self.config.name)
                return PassResult(self.config.name, skipped_locked=True)
            conn = await ImapConnection.open(self.config)
            try:
                return await self._scan(conn)
            finally:
                await conn.close()

    async def _scan(self, conn: ImapConnection) -> PassResult:
        result = PassResult(self.config.name)
        last_uid, result.rescanned = await asyncio.to_thread(self._cursor, conn.uidvalidity)
        uids = await conn.uids_after(last_uid)
        # every fetched mail's transaction moved the cursor (an error item too), so it now stands here:
        taken = max([last_uid, *uids])
        batches = [uids[start:start + BATCH] for start in range(0, len(uids), BATCH)]
        fetching = asyncio.ensure_future(conn.fetch(batches[0])) if batches else None
        try:
            for n in range(len(batches)):
                assert fetching is not None
                mails = await fetching
                # the server reads out the next batch while this one is written to the database
                fetching = asyncio.ensure_future(conn.fetch(batches[n + 1])) if n + 1 < len(batches) else None
                await self._take(conn, mails, result)
        finally:
            if fetching is not None:
                fetching.cancel()
        if self.config.processed_folder:
            await conn.move(await conn.uids_upto(taken))
        await asyncio.to_thread(self._mark_poll, "")
        return result

    def _cursor(self, uidvalidity: int) -> tuple[int, bool]:
        with self.db.session() as session:
            state = store.cursor(session, self.config.name)
            if state.uidvalidity == uidvalidity:
                return state.last_uid, False
            rescan = state.uidvalidity is not None
            if rescan:
                log.warning("mail %s: UIDVALIDITY changed %s -> %s; rescanning (deduplicated by Message-ID)",
                            self.config.name, state.uidvalidity, uidvalidity)
            store.reset(session, self.config.name, uidvalidity)
            return 0, rescan

    async def _take(self, conn: ImapConnection, mails: list[Fetched], result: PassResult) -> None:
        fetched = [FetchedMail(self.config.name, conn.uidvalidity, mail.uid, mail.raw, mail.internaldate,
                               self.clock(), hospital=self.config.hospital) for mail in mails]
        outcomes = await asyncio.to_thread(self._store, fetched)
        for outcome in outcomes:
            result.fetched += 1
            result.statuses[outcome.status] = result.statuses.get(outcome.status, 0) + 1
            result.journaled += outcome.journaled
        if any(outcome.journaled for outcome in outcomes):
            self.on_new()

    def _store(self, batch: list[FetchedMail]) -> list[store.Ingested]:
        """One transaction for the batch (one commit instead of one per mail).

        All together first; if anything fails, again with a savepoint per mail, so the
        mail our code fails on is kept as an error item and the others land.
        """
        try:
            with self.db.session() as session:
                return store.ingest_batch(session, batch, self.rules, isolate=False)
        except Exception:
            log.warning("mail %s: a batch failed as a whole; taking its mails one by one", self.config.name,
                        exc_info=True)
        with self.db.session() as session:
            return store.ingest_batch(session, batch, self.rules)

    def _mark_poll(self, error: str) -> None:
        with self.db.session() as session:
            state = store.cursor(session, self.config.name)
            state.last_poll_at = self.clock()
            state.last_error = error[:1000]
            session.add(state)

    # -- for as long as the process runs -------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        backoff = BACKOFF_START_S
        while not stop.is_set():
            self._connected = False
            try:
                with mailbox_lock(self.db, self.config.name) as held:
                    if held:
                        await self._session(stop)
                if not held:
                    await _sleep(stop, self.poll_s)
                continue
            except Exception as exc:  # the server's fault or ours: log it, keep the mailbox alive
                if isinstance(exc, TimeoutError | ImapError | OSError):
                    log.warning("mail %s: %s", self.config.name, exc)
                else:
                    log.exception("mail %s: poller failed", self.config.name)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._mark_poll, repr(exc))
            if self._connected:  # it worked for a while: a new outage starts the backoff afresh
                backoff = BACKOFF_START_S
            log.info("mail %s: reconnecting in %.0f s", self.config.name, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, BACKOFF_CAP_S)

    async def _session(self, stop: asyncio.Event) -> None:
        """One connection: scan, then wait (IDLE or a pause), scan again, until stopped or broken."""
        conn = await ImapConnection.open(self.config)
        self._connected = True
        try:
            while not stop.is_set():
                await self._scan(conn)
                if conn.can_idle:
                    await conn.idle(min(self.idle_s, 29 * 60), stop)  # RFC 2177: re-issue IDLE within 29 min
                else:
                    await _sleep(stop, self.poll_s)
        finally:
            await conn.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def lock_key(mailbox: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, named after the mailbox."""
    digest = hashlib.sha256(f"helpdesk-mailbox:{mailbox}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def mailbox_lock(db: Database, mailbox: str) -> Iterator[bool]:
    """Hold the right to read ``mailbox``; yields False when another holder has it."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(mailbox)}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(mailbox)})
                    conn.commit()
        return
    with _local_guard:
        lock = _local_locks.setdefault(mailbox, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()
