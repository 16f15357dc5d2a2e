"""A small IMAP client over aioimaplib: connect (plain, STARTTLS or IMAPS), look at one
folder, list UIDs past a cursor, fetch raw mail with its INTERNALDATE, wait with IDLE.

Only what intake needs, and nothing that changes the mailbox: mail is fetched with
``BODY.PEEK[]`` (which leaves ``\\Seen`` alone) from a folder opened with EXAMINE
(read-only), unless a "processed" folder is configured, in which case the folder is
SELECTed and taken mail is MOVEd there after its transaction committed.

aioimaplib 2.0.3 has no STARTTLS; :func:`_starttls` upgrades the connection with
asyncio's ``loop.start_tls`` after the server's OK, as RFC 3501 6.2.1 describes, and
asks for the capabilities again (they may differ once encrypted).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import aioimaplib
from aioimaplib import Command

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "ssl"]
_DEFAULT_PORT = {"none": 143, "starttls": 143, "ssl": 993}


class ImapError(Exception):
    """The server refused something or the connection failed; the poller backs off and retries."""


@dataclass(frozen=True)
class ImapConfig:
    """One mailbox to read. ``name`` identifies its cursor; keep it stable."""

    name: str
    host: str
    user: str
    password: str = field(default="", repr=False)
    port: int | None = None
    tls: TlsMode = "ssl"
    folder: str = "INBOX"
    processed_folder: str = ""  # move taken mail here; empty: leave the mailbox untouched
    hospital: str = ""  # hospital key for senders whose domain is not known
    ca_file: str = ""  # trust this CA (a hospital's own), in addition to the system's
    timeout: float = 60.0

    @property
    def imap_port(self) -> int:
        return self.port or _DEFAULT_PORT[self.tls]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)


@dataclass(frozen=True)
class Fetched:
    uid: int
    internaldate: datetime | None
    raw: bytes


_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_HEAD = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def parse_internaldate(value: str) -> datetime | None:
    """``20-Nov-2026 09:30:14 +0800`` (day may be space-padded) as an aware datetime."""
    try:
        return datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def parse_fetch(lines: list[bytes | bytearray]) -> list[Fetched]:
    """Split a UID FETCH (UID INTERNALDATE BODY.PEEK[]) response into mails.

    aioimaplib hands the response as lines, each literal as one ``bytearray`` after the
    line announcing it; the UID may come before or after the literal.
    """
    out: list[Fetched] = []
    current: dict[str, object] | None = None

    def close() -> None:
        if current is not None and current.get("uid") is not None and current.get("raw") is not None:
            out.append(Fetched(int(current["uid"]), current.get("date"), bytes(current["raw"])))  # type: ignore[arg-type, call-overload]

    for line in lines:
        if isinstance(line, bytearray):
            if current is not None:
                current["raw"] = line
            continue
        if _FETCH_HEAD.match(line):
            close()
            current = {}
        if current is None:
            continue
        if (uid := _UID.search(line)) is not None:
            current["uid"] = int(uid.group(1))
        if (date := _INTERNALDATE.search(line)) is not None:
            current["date"] = parse_internaldate(date.group(1).decode("ascii", "replace"))
    close()
    return out


class ImapConnection:
    """One logged-in connection with one folder open."""

    def __init__(self, config: ImapConfig, client: aioimaplib.IMAP4) -> None:
        self.config = config
        self.client = client
        self.uidvalidity = 0
        self.writable = bool(config.processed_folder)

    @classmethod
    async def open(cls, config: ImapConfig) -> ImapConnection:
        if config.tls == "ssl":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                host=config.host, port=config.imap_port, timeout=config.timeout, ssl_context=config.ssl_context())
        else:
            client = aioimaplib.IMAP4(host=config.host, port=config.imap_port, timeout=config.timeout)
        conn = cls(config, client)
        try:
            await client.wait_hello_from_server()
            if config.tls == "starttls":
                await _starttls(client, config)
            _ok(await client.login(config.user, config.password), "LOGIN")
            await conn._open_folder()
        except (TimeoutError, OSError, aioimaplib.AioImapException, ImapError) as exc:
            await conn.close()
            if isinstance(exc, ImapError):
                raise
            raise ImapError(f"{config.name}: {exc!r}") from exc
        return conn

    async def _open_folder(self) -> None:
        folder = _quote(self.config.folder)
        if self.writable:
            response = await self.client.select(folder)
        else:
            response = await self.client.examine(folder)
        _ok(response, f"open {self.config.folder}")
        if not self.writable:  # aioimaplib runs EXAMINE as a plain command and misses the state change
            self.client.protocol.state = aioimaplib.SELECTED
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (found := _UIDVALIDITY.search(bytes(line))):
                self.uidvalidity = int(found.group(1))
        if not self.uidvalidity:
            raise ImapError(f"{self.config.name}: the server sent no UIDVALIDITY")

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid``, ascending. ``N:*`` always matches the last mail even when
        it is below N (RFC 3501 6.4.8), hence the filter."""
        response = await self.client.uid_search(f"UID {last_uid + 1}:*", charset=None)
        return [uid for uid in _search_uids(response) if uid > last_uid]

    async def uids_upto(self, last_uid: int) -> list[int]:
        if last_uid <= 0:
            return []
        response = await self.client.uid_search(f"UID 1:{last_uid}", charset=None)
        return [uid for uid in _search_uids(response) if uid <= last_uid]

    async def fetch(self, uids: list[int]) -> list[Fetched]:
        if not uids:
            return []
        response = await self.client.uid("fetch", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
        _ok(response, "UID FETCH")
        got = parse_fetch(list(response.lines))
        return sorted((f for f in got if f.uid in set(uids)), key=lambda f: f.uid)

    async def move(self, uids: list[int]) -> None:
        """Move taken mail to the processed folder (MOVE, else COPY + \\Deleted + UID EXPUNGE)."""
        if not uids or not self.config.processed_folder:
            return
        uid_set = ",".join(map(str, uids))
        target = _quote(self.config.processed_folder)
        if self.client.has_capability("MOVE"):
            _ok(await self.client.uid("move", uid_set, target), "UID MOVE")
            return
        _ok(await self.client.uid("copy", uid_set, target), "UID COPY")
        _ok(await self.client.uid("store", uid_set, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        _ok(await self.client.uid("expunge", uid_set), "UID EXPUNGE")

    @property
    def can_idle(self) -> bool:
        return self.client.has_capability("IDLE")

    async def idle(self, timeout: float, stop: asyncio.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the server to announce new mail; True if it did.

        Returns early (False) when ``stop`` is set, so a shutdown never waits for the IDLE renewal.
        """
        idle = await self.client.idle_start(timeout=timeout)
        stopping = asyncio.ensure_future((stop or asyncio.Event()).wait())
        news = False
        try:
            while self.client.has_pending_idle():
                push = asyncio.ensure_future(self.client.wait_server_push(timeout=timeout + 5))
                done, _ = await asyncio.wait({push, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    push.cancel()
                    break
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in bytes(p) for p in (lines if isinstance(lines, list) else [lines])
                       if isinstance(p, bytes | bytearray)):
                    news = True
                    break
        finally:
            stopping.cancel()
            if self.client.has_pending_idle():
                self.client.idle_done()
            await asyncio.wait_for(idle, timeout=self.config.timeout)
        return news

    async def close(self) -> None:
        try:
            if self.client.protocol is not None and self.client.get_state() in ("AUTH", "SELECTED", "NONAUTH"):
                await asyncio.wait_for(self.client.logout(), timeout=5)
        except Exception:  # a dead connection: nothing to say goodbye to
            log.debug("imap %s: logout failed", self.config.name, exc_info=True)
        transport = getattr(self.client.protocol, "transport", None)
        if transport is not None:
            transport.close()


async def _starttls(client: aioimaplib.IMAP4, config: ImapConfig) -> None:
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise ImapError(f"{config.name}: the server does not offer STARTTLS")
    response = await asyncio.wait_for(
        protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), config.timeout)
    _ok(response, "STARTTLS")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(protocol.transport, protocol, config.ssl_context(),
                                     server_hostname=config.host)
    protocol.transport = transport
    protocol.capabilities = set()
    await asyncio.wait_for(protocol.capability(), config.timeout)


_NUMBERS = re.compile(rb"(?:SEARCH)?[\d ]*")


def _search_uids(response: aioimaplib.Response) -> list[int]:
    """The numbers of a SEARCH answer (aioimaplib strips the leading "* SEARCH")."""
    _ok(response, "UID SEARCH")
    found: set[int] = set()
    for line in response.lines[:-1]:  # the last line is the tagged status text
        text = bytes(line) if isinstance(line, bytes | bytearray) else b""
        if _NUMBERS.fullmatch(text.strip()):
            found.update(int(n) for n in text.split() if n.isdigit())
    return sorted(found)


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        detail = b" ".join(bytes(x) for x in response.lines if isinstance(x, bytes | bytearray))[:300]
        raise ImapError(f"{what} refused: {response.result} {detail.decode('utf-8', 'replace')}")


def _quote(folder: str) -> str:
    """A mailbox name as an IMAP quoted string (non-ASCII names need modified UTF-7; ours are ASCII)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
