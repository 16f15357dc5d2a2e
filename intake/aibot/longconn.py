"""The AI bot's long connection (长连接, DOC 101463): one outbound WSS per bot.

Why: it needs no public callback URL and no message crypto, only outbound
WSS from the hospital intranet. The wire protocol, as implemented by the
official SDK ``wecom-aibot-python-sdk`` 1.0.2 (``aibot/ws.py``, ``aibot/client.py``,
``aibot/types.py``):

* every frame is JSON ``{"cmd", "headers": {"req_id"}, "body"}``;
* after connecting we send ``{"cmd": "aibot_subscribe", "headers": {"req_id"},
  "body": {"bot_id", "secret"}}``; WeCom answers a frame without ``cmd`` that
  echoes the req_id, with ``errcode`` (0 = subscribed) and ``errmsg``;
* heartbeat ``{"cmd": "ping", "headers": {"req_id"}}`` every 30 s, acked the same way;
  two pings without an ack mean the connection is dead;
* WeCom pushes ``aibot_msg_callback`` and ``aibot_event_callback`` frames whose
  ``body`` is the callback JSON of DOC 100719/101027 (see :mod:`intake.aibot.parse`);
  an event ``disconnected_event`` means a newer connection for this bot took over;
* we send ``aibot_send_msg`` (body ``{"chatid", "msgtype": "markdown"|"template_card", ...}``)
  and ``aibot_respond_update_msg`` (headers.req_id = *the event's* req_id, body
  ``{"response_type": "update_template_card", "template_card"}``, within 5 s of the
  click); each is acked by a frame with the same req_id and an ``errcode``.
  The SDK gives up on an ack after 5 s; then nobody knows whether WeCom delivered it.

``chat_type`` (1 single, 2 group) in ``aibot_send_msg`` is not sent by the
official SDK; several third-party clients send it (without it WeCom is said to
resolve the chatid as a group first) **[uncertain]**, so it is optional here.

A WeCom callback on this channel is never redelivered: what arrives is handed
to ``accept`` (the durability point; dedupe on ``msgid`` is its job) in a
thread, retried briefly if the store fails, and otherwise kept in the log.

Only one connection per bot may exist: a second one kicks the first, so a
kicked connection does not reset its backoff (two processes configured with
the same bot would otherwise take the connection from each other every second).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from intake.aibot.cards import card_update_reply
from intake.aibot.parse import MalformedCallback, parse_payload
from intake.message import InboundMessage

__all__ = [
    "DEFAULT_URL", "AckError", "AckTimeout", "AibotConnection", "AibotError", "NotConnected",
    "SendOutcomeUnknown", "SubscribeRejected", "new_req_id", "next_backoff",
]

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://openws.work.weixin.qq.com"

CMD_SUBSCRIBE = "aibot_subscribe"
CMD_PING = "ping"
CMD_SEND = "aibot_send_msg"
CMD_UPDATE = "aibot_respond_update_msg"
CMD_MSG_CALLBACK = "aibot_msg_callback"
CMD_EVENT_CALLBACK = "aibot_event_callback"
EVENT_DISCONNECTED = "disconnected_event"

Accept = Callable[[InboundMessage], bool]
OnCardEvent = Callable[[InboundMessage], dict[str, Any] | None]
Frame = dict[str, Any]


class AibotError(Exception):
    """Base of the long connection's errors."""


class NotConnected(AibotError):
    """Not subscribed right now: nothing was sent, so sending again later is safe."""


class SendOutcomeUnknown(AibotError):
    """The frame left but no ack came: WeCom may or may not have delivered the message."""


class AckTimeout(SendOutcomeUnknown):
    """No ack within the timeout (5 s, as in the official SDK)."""


class AckError(AibotError):
    """WeCom answered with a non-zero errcode: it refused the request."""

    def __init__(self, cmd: str, errcode: object, errmsg: object) -> None:
        super().__init__(f"{cmd} refused: errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class SubscribeRejected(AibotError):
    """aibot_subscribe was refused (wrong bot_id or secret?)."""


class _HeartbeatLost(ConnectionError):
    pass


class _Outcome(Enum):
    WORKED = "worked"  # subscribed: the next backoff starts again from the beginning
    KICKED = "kicked"  # a newer connection took over: keep backing off
    FAILED = "failed"


def new_req_id(prefix: str) -> str:
    """``{prefix}_{ms}_{random}``, the official SDK's layout; unique enough to match acks."""
    return f"{prefix}_{int(time.time() * 1000)}_{secrets.token_hex(4)}"


def next_backoff(delay_s: float, max_s: float) -> float:
    """Exponential backoff: double, capped."""
    return min(delay_s * 2, max_s)


# Bots with a running connection in this process: a second one would kick the first.
_running_bots: set[str] = set()


class AibotConnection:
    """One bot's long connection: receive into ``accept``, send cards and markdown.

    ``run(stop)`` keeps the connection up until ``stop`` is set. The ``async``
    senders run on that loop; the ``*_sync`` ones may be called from any other
    thread (the outbox workers). Senders raise :class:`NotConnected` (nothing
    sent), :class:`AckError` (refused) or :class:`SendOutcomeUnknown` /
    :class:`AckTimeout` (maybe delivered).
    """

    def __init__(self, url: str, bot_id: str, secret: str, accept: Accept, clock: Callable[[], datetime], *,
                 on_card_event: OnCardEvent | None = None, bot_name: str | None = None,
                 heartbeat_s: float = 30.0, ack_timeout_s: float = 5.0, subscribe_timeout_s: float = 10.0,
                 open_timeout_s: float = 10.0, backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0,
                 missed_pongs_limit: int = 2, card_reply_budget_s: float = 4.0,
                 accept_attempts: int = 3, accept_retry_s: float = 0.5, drain_timeout_s: float = 10.0,
                 proxy: str | bool | None = True) -> None:
        self.url = url
        self.bot_id = bot_id
        self._secret = secret
        self._accept = accept
        self._clock = clock
        self._on_card_event = on_card_event
        self._bot_name = bot_name
        self._heartbeat_s = heartbeat_s
        self._ack_timeout_s = ack_timeout_s
        self._subscribe_timeout_s = subscribe_timeout_s
        self._open_timeout_s = open_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._missed_pongs_limit = missed_pongs_limit
        self._card_reply_budget_s = card_reply_budget_s
        self._accept_attempts = max(1, accept_attempts)
        self._accept_retry_s = accept_retry_s
        self._drain_timeout_s = drain_timeout_s
        self._proxy = proxy

        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ClientConnection | None = None
        self._subscribed = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._pings: set[str] = set()
        self._missed_pongs = 0
        self._inbound: asyncio.Queue[Frame] | None = None
        #: The waits before the latest reconnects, newest last (for operators and tests).
        self.reconnect_delays: deque[float] = deque(maxlen=50)
        #: How many times a subscription was acknowledged.
        self.subscriptions = 0

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Subscribed right now (sending can work)."""
        return self._subscribed.is_set()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until subscribed; ``TimeoutError`` otherwise."""
        async with asyncio.timeout(timeout):
            await self._subscribed.wait()

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, subscribe and serve until ``stop`` is set, reconnecting with backoff."""
        if self.bot_id in _running_bots:
            raise RuntimeError(f"aibot {self.bot_id}: a connection is already running in this process")
        _running_bots.add(self.bot_id)
        self._loop = asyncio.get_running_loop()
        self._inbound = asyncio.Queue()
        worker = asyncio.create_task(self._deliver_inbound(self._inbound), name=f"aibot-inbound-{self.bot_id}")
        delay = self._backoff_initial_s
        try:
            while not stop.is_set():
                outcome = await self._connect_once(stop)
                if stop.is_set():
                    break
                if outcome is _Outcome.WORKED:
                    delay = self._backoff_initial_s
                self.reconnect_delays.append(delay)
                log.info("aibot %s: reconnecting in %.2fs", self.bot_id, delay)
                if await _wait(stop, delay):
                    break
                delay = next_backoff(delay, self._backoff_max_s)
        finally:
            _running_bots.discard(self.bot_id)
            await self._drain(worker)
            self._loop = None

    async def _connect_once(self, stop: asyncio.Event) -> _Outcome:
        subscribed = False
        try:
            async with connect(self.url, ping_interval=None, ping_timeout=None, close_timeout=2,
                               open_timeout=self._open_timeout_s, proxy=self._proxy) as ws:
                await self._subscribe(ws)
                subscribed = True
                self.subscriptions += 1
                self._ws = ws
                self._missed_pongs = 0
                self._pings.clear()
                self._subscribed.set()
                log.info("aibot %s: subscribed on %s", self.bot_id, self.url)
                kicked = await self._serve(ws, stop)
                return _Outcome.KICKED if kicked else _Outcome.WORKED
        except SubscribeRejected as exc:
            log.error("aibot %s: subscription refused, check bot_id and secret: %s", self.bot_id, exc)
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.warning("aibot %s: connection %s: %r", self.bot_id, "lost" if subscribed else "failed", exc)
        except Exception:
            log.exception("aibot %s: unexpected error on the connection", self.bot_id)
        finally:
            self._subscribed.clear()
            self._ws = None
            self._fail_pending()
        return _Outcome.WORKED if subscribed else _Outcome.FAILED

    async def _subscribe(self, ws: ClientConnection) -> None:
        req_id = new_req_id(CMD_SUBSCRIBE)
        await ws.send(_encode({"cmd": CMD_SUBSCRIBE, "headers": {"req_id": req_id},
                               "body": {"bot_id": self.bot_id, "secret": self._secret}}))
        async with asyncio.timeout(self._subscribe_timeout_s):
            while True:
                frame = _decode(await ws.recv())
                if frame is not None and _req_id(frame) == req_id:
                    break
                log.debug("aibot %s: frame before the subscription ack ignored", self.bot_id)
        if frame.get("errcode") != 0:
            raise SubscribeRejected(f"errcode={frame.get('errcode')} errmsg={frame.get('errmsg')}")

    async def _serve(self, ws: ClientConnection, stop: asyncio.Event) -> bool:
        """Read and heartbeat until the connection ends or ``stop``; True if WeCom kicked us."""
        reader = asyncio.create_task(self._read(ws))
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        stopper = asyncio.create_task(stop.wait())
        tasks = {reader, heartbeat, stopper}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if reader in done:
            return reader.result()  # raises what ended the connection
        if heartbeat in done:
            heartbeat.result()
        return False

    async def _read(self, ws: ClientConnection) -> bool:
        async for raw in ws:
            frame = _decode(raw)
            if frame is None:
                log.warning("aibot %s: frame that is not a JSON object ignored: %r", self.bot_id, raw[:200])
                continue
            cmd = frame.get("cmd")
            if cmd in (CMD_MSG_CALLBACK, CMD_EVENT_CALLBACK):
                if _eventtype(frame) == EVENT_DISCONNECTED:
                    log.error("aibot %s: disconnected_event: another connection for this bot took over",
                              self.bot_id)
                    return True
                assert self._inbound is not None
                self._inbound.put_nowait(frame)
                continue
            req_id = _req_id(frame)
            future = self._pending.get(req_id)
            if future is not None:
                if not future.done():
                    future.set_result(frame)
            elif req_id in self._pings:
                self._pings.discard(req_id)
                if frame.get("errcode") == 0:
                    self._missed_pongs = 0
                else:
                    log.warning("aibot %s: ping refused: errcode=%s errmsg=%s", self.bot_id,
                                frame.get("errcode"), frame.get("errmsg"))
            else:
                log.debug("aibot %s: unmatched frame %s req_id=%s", self.bot_id, cmd, req_id)
        log.warning("aibot %s: connection closed by the server", self.bot_id)
        return False

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self._missed_pongs >= self._missed_pongs_limit:
                raise _HeartbeatLost(f"{self._missed_pongs} pings without an ack")
            self._missed_pongs += 1
            req_id = new_req_id(CMD_PING)
            self._pings.add(req_id)
            await ws.send(_encode({"cmd": CMD_PING, "headers": {"req_id": req_id}}))

    # ------------------------------------------------------------------ inbound

    async def _deliver_inbound(self, queue: asyncio.Queue[Frame]) -> None:
        """One at a time, in arrival order, so the reader keeps reading acks meanwhile."""
        while True:
            frame = await queue.get()
            try:
                await self._handle_callback(frame)
            except Exception:
                log.exception("aibot %s: callback frame not handled: %r", self.bot_id, _encode(frame)[:2000])
            finally:
                queue.task_done()

    async def _handle_callback(self, frame: Frame) -> None:
        body = frame.get("body")
        req_id = _req_id(frame)
        try:
            if not isinstance(body, dict):
                raise MalformedCallback("frame without a body object")
            msg = parse_payload(body, self._clock(), req_id=req_id, bot_name=self._bot_name)
        except MalformedCallback as exc:
            log.error("aibot %s: unreadable frame kept in log only: %s; frame=%r", self.bot_id, exc,
                      _encode(frame)[:2000])
            return
        if msg is None:
            return
        if not await self._store(msg, frame):
            log.info("aibot %s: duplicate %s ignored", self.bot_id, msg.external_id)
        if msg.msg_type == "card_event" and self._on_card_event is not None:
            await self._answer_card_event(msg, req_id)

    async def _store(self, msg: InboundMessage, frame: Frame) -> bool:
        for attempt in range(1, self._accept_attempts + 1):
            try:
                return await asyncio.to_thread(self._accept, msg)
            except Exception:
                if attempt == self._accept_attempts:
                    log.exception("aibot %s: could not store %s after %d attempts; kept in log only: %r",
                                  self.bot_id, msg.external_id, attempt, _encode(frame)[:4000])
                    return False
                log.warning("aibot %s: storing %s failed (attempt %d), retrying", self.bot_id,
                            msg.external_id, attempt, exc_info=True)
                await asyncio.sleep(self._accept_retry_s * attempt)
        return False

    async def _answer_card_event(self, msg: InboundMessage, req_id: str) -> None:
        assert self._on_card_event is not None
        try:
            async with asyncio.timeout(self._card_reply_budget_s):
                card = await asyncio.to_thread(self._on_card_event, msg)
                if card is None:
                    return
                await self.update_card(req_id, card, task_id=str(msg.thread_hints.get("task_id", "")))
        except TimeoutError:
            log.warning("aibot %s: card update for %s not acked within %.1fs (WeCom allows 5s)",
                        self.bot_id, msg.external_id, self._card_reply_budget_s)
        except AibotError as exc:
            log.warning("aibot %s: card update for %s failed: %s", self.bot_id, msg.external_id, exc)

    async def _drain(self, worker: asyncio.Task[None]) -> None:
        """On stop, what was received still reaches ``accept``: nobody would send it again."""
        assert self._inbound is not None
        try:
            await asyncio.wait_for(self._inbound.join(), self._drain_timeout_s)
        except TimeoutError:
            log.error("aibot %s: stopped with %d received frames not stored", self.bot_id, self._inbound.qsize())
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)

    # ------------------------------------------------------------------ sending (on the loop)

    async def send_markdown(self, chatid: str, text: str, *, chat_type: int | None = None) -> Frame:
        """Push markdown to a chat (``chatid``: a group's chatid, or a userid for a 1:1 chat)."""
        return await self._request(CMD_SEND, _send_body(chatid, chat_type, "markdown", {"content": text}))

    async def send_card(self, chatid: str, card: dict[str, Any], *, chat_type: int | None = None) -> Frame:
        """Push a template_card (see :mod:`intake.aibot.cards`) to a chat."""
        return await self._request(CMD_SEND, _send_body(chatid, chat_type, "template_card", card))

    async def update_card(self, req_id_of_event: str, card: dict[str, Any], *, task_id: str = "",
                          userids: list[str] | None = None) -> Frame:
        """Replace a clicked card (within 5 s of the template_card_event whose req_id is given)."""
        return await self._request(CMD_UPDATE, card_update_reply(card, task_id, userids), req_id=req_id_of_event)

    async def _request(self, cmd: str, body: dict[str, Any], req_id: str | None = None) -> Frame:
        ws = self._ws
        if ws is None or not self._subscribed.is_set():
            raise NotConnected(f"aibot {self.bot_id}: not connected; {cmd} not sent")
        req_id = req_id or new_req_id(cmd)
        if req_id in self._pending:
            raise ValueError(f"a {cmd} with req_id {req_id} is already waiting for its ack")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        try:
            try:
                await ws.send(_encode({"cmd": cmd, "headers": {"req_id": req_id}, "body": body}))
            except ConnectionClosed as exc:
                raise NotConnected(f"aibot {self.bot_id}: connection closed; {cmd} not sent") from exc
            try:
                async with asyncio.timeout(self._ack_timeout_s):
                    ack = await future
            except TimeoutError:
                raise AckTimeout(f"aibot {self.bot_id}: no ack for {cmd} {req_id} within "
                                 f"{self._ack_timeout_s:g}s; delivery outcome unknown") from None
        finally:
            self._pending.pop(req_id, None)
        if ack.get("errcode") != 0:
            raise AckError(cmd, ack.get("errcode"), ack.get("errmsg"))
        return ack

    def _fail_pending(self) -> None:
        for req_id, future in list(self._pending.items()):
            if not future.done():
                future.set_exception(SendOutcomeUnknown(
                    f"aibot {self.bot_id}: connection lost before the ack for {req_id}; delivery outcome unknown"))
        self._pending.clear()

    # ------------------------------------------------------------------ sending (from other threads)

    def send_markdown_sync(self, chatid: str, text: str, *, chat_type: int | None = None) -> Frame:
        """:meth:`send_markdown` from a worker thread; blocks until the ack or an error."""
        return self._call_sync(self.send_markdown(chatid, text, chat_type=chat_type))

    def send_card_sync(self, chatid: str, card: dict[str, Any], *, chat_type: int | None = None) -> Frame:
        """:meth:`send_card` from a worker thread; blocks until the ack or an error."""
        return self._call_sync(self.send_card(chatid, card, chat_type=chat_type))

    def update_card_sync(self, req_id_of_event: str, card: dict[str, Any], *, task_id: str = "",
                         userids: list[str] | None = None) -> Frame:
        """:meth:`update_card` from a worker thread."""
        return self._call_sync(self.update_card(req_id_of_event, card, task_id=task_id, userids=userids))

    def _call_sync(self, coro: Any) -> Frame:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise NotConnected(f"aibot {self.bot_id}: the connection is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("the *_sync senders block; on the connection's loop await the async ones")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout=self._ack_timeout_s + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise SendOutcomeUnknown(f"aibot {self.bot_id}: the connection's loop did not answer; "
                                     "delivery outcome unknown") from None


# ---------------------------------------------------------------------------- helpers


def _send_body(chatid: str, chat_type: int | None, msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"chatid": chatid}
    if chat_type is not None:
        body["chat_type"] = chat_type
    body["msgtype"] = msgtype
    body[msgtype] = content
    return body


def _encode(frame: Frame) -> str:
    return json.dumps(frame, ensure_ascii=False)


def _decode(raw: str | bytes) -> Frame | None:
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return frame if isinstance(frame, dict) else None


def _req_id(frame: Frame) -> str:
    headers = frame.get("headers")
    return str(headers.get("req_id") or "") if isinstance(headers, dict) else ""


def _eventtype(frame: Frame) -> str:
    body = frame.get("body")
    event = body.get("event") if isinstance(body, dict) else None
    return str(event.get("eventtype") or "") if isinstance(event, dict) else ""


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True if it was."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True
