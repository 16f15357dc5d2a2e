"""Fake WeCom for the AI bot (智能机器人), in both of its modes.

``AibotCallbackDriver`` plays WeCom calling OUR callback URL (DOC 100719,
101027, 101031, 101033; /work/shared/reference/wecom.md sections 3.1 and 5B):
JSON ``{"encrypt": ..}`` bodies signed and encrypted with the independent
crypto in :mod:`tests.fakes.wecom_crypto` and receive id ``""``, so it checks
the product's own implementation rather than agreeing with it by construction.
It can decrypt and verify the encrypted passive replies
``{"encrypt","msgsignature","timestamp","nonce"}``.

``FakeAibotServer`` plays ``wss://openws.work.weixin.qq.com`` (DOC 101463, and
the frames of the official SDK ``wecom-aibot-python-sdk`` 1.0.2, ``aibot/ws.py``):
it checks ``aibot_subscribe``'s bot_id and secret, acks ``ping``, pushes
``aibot_msg_callback`` / ``aibot_event_callback`` frames on demand, validates
and acks ``aibot_send_msg`` / ``aibot_respond_update_msg`` by req_id, records
every frame, and can drop the connection or kick it with ``disconnected_event``.
It runs on the caller's event loop (``async with FakeAibotServer(...)``).

Error codes WeCom uses on this channel are not documented; the ones here
(:data:`AUTH_ERRCODE`, :data:`INVALID_ERRCODE`) are stand-ins **[uncertain]**.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes import wecom_crypto
from tests.fakes.wecom_driver import SignedRequest, redeliver

__all__ = [
    "AUTH_ERRCODE", "INVALID_ERRCODE", "AibotCallbackDriver", "FakeAibotServer", "Received", "SignedRequest",
]

#: WeCom waits this long for our answer, then redelivers (messages) or drops (card events).
WECOM_TIMEOUT_S = 5.0
WECOM_ATTEMPTS = 3
#: Stand-in errcodes: a refused subscription, and an invalid request.
AUTH_ERRCODE = 40001
INVALID_ERRCODE = 40058
#: aibot_respond_update_msg must follow the click within this many seconds (SDK docstring).
UPDATE_WINDOW_S = 5.0

_TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")

Delivery = httpx.Response | Exception


def _msgid() -> str:
    """WeCom's msgids look like base64 of a protobuf: "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="."""
    return "CAIQ" + base64.b64encode(os.urandom(18)).decode("ascii")


def _response_url(base: str = "https://qyapi.weixin.qq.com") -> str:
    return base.rstrip("/") + "/cgi-bin/aibot/response?response_code=" + secrets.token_hex(16)


# ============================================================================ callback mode


class AibotCallbackDriver:
    """Acts as WeCom: handshakes, signs, encrypts and (re)delivers AI bot callbacks."""

    def __init__(self, base_url: str, path: str = "/wecom/aibot", *, token: str, aes_key: str,
                 receive_id: str = "", aibotid: str = "AIBOTID01",
                 response_base: str = "https://qyapi.weixin.qq.com") -> None:
        self.base_url = base_url.rstrip("/")
        self.response_base = response_base  # where response_url points: a FakeWeCom in product tests
        self.path = path
        self.token = token
        self.aes_key = aes_key
        self.receive_id = receive_id
        self.aibotid = aibotid

    @property
    def url(self) -> str:
        return self.base_url + self.path

    # ------------------------------------------------------------------ signing

    def _signed_params(self, encrypted: str, *, tamper_signature: bool) -> dict[str, str]:
        return wecom_crypto.signed_params(self.token, encrypted, tamper_signature=tamper_signature)

    def echostr_params(self, *, tamper_signature: bool = False) -> tuple[dict[str, str], str]:
        """Query of the GET URL verification, and the plaintext our server must echo."""
        expected = str(secrets.randbits(60))
        echostr = wecom_crypto.encrypt(self.aes_key, expected, self.receive_id)
        params = self._signed_params(echostr, tamper_signature=tamper_signature)
        params["echostr"] = echostr
        return params, expected

    def sign_json(self, payload: dict[str, Any] | str, *, tamper_signature: bool = False,
                  receive_id_override: str | None = None) -> SignedRequest:
        """Encrypt and sign a plaintext payload as WeCom would, without sending it."""
        plain = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        receive_id = self.receive_id if receive_id_override is None else receive_id_override
        encrypted = wecom_crypto.encrypt(self.aes_key, plain, receive_id)
        params = self._signed_params(encrypted, tamper_signature=tamper_signature)
        return SignedRequest(params=params, body=json.dumps({"encrypt": encrypted}), encrypted=encrypted)

    def decrypt_reply(self, response: httpx.Response) -> dict[str, Any]:
        """Verify and decrypt an encrypted passive reply; ``ValueError`` where WeCom would discard it."""
        envelope = response.json()
        if set(envelope) != {"encrypt", "msgsignature", "timestamp", "nonce"}:
            raise ValueError(f"passive reply has keys {sorted(envelope)}")
        request_nonce = response.request.url.params.get("nonce")
        if str(envelope["nonce"]) != request_nonce:
            raise ValueError("passive reply does not reuse the callback's nonce")
        expected = wecom_crypto.signature(self.token, str(envelope["timestamp"]), str(envelope["nonce"]),
                                          envelope["encrypt"])
        if envelope["msgsignature"] != expected:
            raise ValueError("passive reply has a bad msgsignature")
        msg, receive_id = wecom_crypto.decrypt(self.aes_key, envelope["encrypt"])
        if receive_id != self.receive_id:
            raise ValueError(f"passive reply is for receive id {receive_id!r}")
        reply: dict[str, Any] = json.loads(msg)
        return reply

    # ------------------------------------------------------------------ payloads (DOC 100719, 101027)

    def _common(self, userid: str, msgtype: str, chatid: str | None, msgid: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"msgid": msgid or _msgid(), "aibotid": self.aibotid}
        if chatid:
            data["chatid"] = chatid
        data["chattype"] = "group" if chatid else "single"
        data["from"] = {"userid": userid}
        data["msgtype"] = msgtype
        return data

    def text(self, userid: str, content: str, *, chatid: str | None = None, msgid: str | None = None,
             quote: dict[str, Any] | None = None) -> dict[str, Any]:
        """A text message; in a group ``content`` should start with "@<bot> " as WeCom sends it."""
        data = self._common(userid, "text", chatid, msgid)
        data["response_url"] = _response_url(self.response_base)
        data["text"] = {"content": content}
        if quote is not None:
            data["quote"] = quote
        return data

    def mixed(self, userid: str, items: list[tuple[str, str]], *, chatid: str | None = None,
              msgid: str | None = None) -> dict[str, Any]:
        """图文混排: ``items`` are ("text", content) or ("image", url)."""
        data = self._common(userid, "mixed", chatid, msgid)
        data["response_url"] = _response_url(self.response_base)
        data["mixed"] = {"msg_item": [
            {"msgtype": "text", "text": {"content": value}} if kind == "text"
            else {"msgtype": "image", "image": {"url": value}}
            for kind, value in items]}
        return data

    def stream_refresh(self, userid: str, stream_id: str, *, chatid: str | None = None) -> dict[str, Any]:
        """WeCom asking for the next chunk of a streamed reply: not a message."""
        data = self._common(userid, "stream", chatid, None)
        data["stream"] = {"id": stream_id}
        return data

    def enter_chat(self, userid: str, *, create_time: int | None = None, msgid: str | None = None,
                   ) -> dict[str, Any]:
        """The member opened the 1:1 chat with the bot for the first time today."""
        data = self._common(userid, "event", None, msgid)
        data["create_time"] = int(time.time()) if create_time is None else create_time
        data["event"] = {"eventtype": "enter_chat"}
        return data

    def card_click(self, userid: str, event_key: str, task_id: str, *, chatid: str | None = None,
                   create_time: int | None = None, msgid: str | None = None,
                   card_type: str = "button_interaction") -> dict[str, Any]:
        """A template_card_event: ``userid`` tapped the button ``event_key`` of card ``task_id``."""
        data = self._common(userid, "event", chatid, msgid)
        data["create_time"] = int(time.time()) if create_time is None else create_time
        data["from"]["corpid"] = "wwhospital0001"
        data["response_url"] = _response_url(self.response_base)
        data["event"] = {"eventtype": "template_card_event", "template_card_event": {
            "card_type": card_type, "event_key": event_key, "task_id": task_id}}
        return data

    # ------------------------------------------------------------------ HTTP

    def verify_url(self, *, tamper_signature: bool = False, timeout: float = WECOM_TIMEOUT_S,
                   ) -> tuple[httpx.Response, str]:
        """GET handshake; the caller asserts ``response.text == expected``."""
        params, expected = self.echostr_params(tamper_signature=tamper_signature)
        with httpx.Client(timeout=timeout) as client:
            return client.get(self.url, params=params), expected

    def post(self, payload: dict[str, Any] | str, *, tamper_signature: bool = False,
             receive_id_override: str | None = None, timeout: float = WECOM_TIMEOUT_S) -> httpx.Response:
        """Encrypt, sign and POST one callback (freshly encrypted: only the msgid inside repeats)."""
        request = self.sign_json(payload, tamper_signature=tamper_signature,
                                 receive_id_override=receive_id_override)
        return self.post_raw(request.body.encode("utf-8"), request.params, timeout=timeout)

    def post_raw(self, body: bytes, params: dict[str, str], *, timeout: float = WECOM_TIMEOUT_S,
                 ) -> httpx.Response:
        with httpx.Client(timeout=timeout) as client:
            return client.post(self.url, params=params, content=body,
                               headers={"Content-Type": "application/json"})

    def deliver(self, payload: dict[str, Any], attempts: int = WECOM_ATTEMPTS,
                timeout: float = WECOM_TIMEOUT_S) -> list[Delivery]:
        """Like WeCom: redeliver the same message until HTTP 200 within the timeout."""
        return redeliver(lambda: self.post(payload, timeout=timeout), attempts, timeout)

    def redeliver(self, payload: dict[str, Any], times: int = WECOM_ATTEMPTS) -> list[httpx.Response]:
        """The same msgid ``times`` times even though each was answered (a network duplicate)."""
        return [self.post(payload) for _ in range(times)]


# ============================================================================ long connection


@dataclass
class Received:
    """One frame the fake received, on its ``connection`` (numbered from 1)."""

    connection: int
    frame: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _CardEvent:
    task_id: str
    pushed_at: float


def _ack(req_id: str, errcode: int = 0, errmsg: str = "ok") -> str:
    return json.dumps({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg})


class FakeAibotServer:
    """A loopback stand-in for WeCom's long-connection endpoint, for one bot."""

    def __init__(self, bot_id: str, secret: str, *, auth_errcode: int = AUTH_ERRCODE) -> None:
        self.bot_id = bot_id
        self.secret = secret
        self.auth_errcode = auth_errcode
        #: Switches for fault injection.
        self.ack_pings = True
        self.ack_sends = True
        self.send_errcode = 0
        self.received: list[Received] = []
        #: Bodies of accepted aibot_send_msg / aibot_respond_update_msg frames.
        self.sent: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.connections = 0
        self.subscriptions = 0
        self._server: Server | None = None
        self._current: ServerConnection | None = None
        self._card_events: dict[str, _CardEvent] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeAibotServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None, compression=None)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAibotServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    # ------------------------------------------------------------------ inspection

    def frames(self, cmd: str) -> list[dict[str, Any]]:
        return [r.frame for r in self.received if r.frame.get("cmd") == cmd]

    async def wait_frames(self, cmd: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first ``count`` frames with ``cmd``, once that many have arrived."""
        await self.wait_until(lambda: len(self.frames(cmd)) >= count, timeout)
        return self.frames(cmd)[:count]

    async def wait_until(self, predicate: Any, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"fake aibot server: condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    # ------------------------------------------------------------------ pushing (WeCom -> bot)

    async def push_message(self, body: dict[str, Any], req_id: str | None = None) -> str:
        """An aibot_msg_callback frame; returns its req_id."""
        return await self._push("aibot_msg_callback", body, req_id)

    async def push_event(self, body: dict[str, Any], req_id: str | None = None) -> str:
        """An aibot_event_callback frame; a card click may then be answered with an update."""
        req_id = await self._push("aibot_event_callback", body, req_id)
        event = body.get("event") or {}
        if event.get("eventtype") == "template_card_event":
            task_id = (event.get("template_card_event") or {}).get("task_id", "")
            self._card_events[req_id] = _CardEvent(task_id, time.monotonic())
        return req_id

    async def push_disconnected_event(self) -> str:
        """What WeCom sends the old connection when a newer one subscribes for the same bot."""
        return await self._push("aibot_event_callback", {"msgtype": "event",
                                                         "event": {"eventtype": "disconnected_event"}}, None)

    async def drop(self) -> None:
        """Cut the current connection without a close frame, like a network failure."""
        ws = self._require_current()
        ws.transport.abort()
        await self.wait_until(lambda: self._current is not ws, timeout=2.0)

    async def _push(self, cmd: str, body: dict[str, Any], req_id: str | None) -> str:
        ws = self._require_current()
        req_id = req_id or f"{cmd}_{secrets.token_hex(6)}"
        await ws.send(json.dumps({"cmd": cmd, "headers": {"req_id": req_id}, "body": body}, ensure_ascii=False))
        return req_id

    def _require_current(self) -> ServerConnection:
        if self._current is None:
            raise RuntimeError("no subscribed connection")
        return self._current

    # ------------------------------------------------------------------ serving (bot -> WeCom)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        subscribed = False
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.received.append(Received(number, frame))
                cmd = frame.get("cmd")
                req_id = str((frame.get("headers") or {}).get("req_id") or "")
                body = frame.get("body") or {}
                if cmd == "aibot_subscribe":
                    subscribed = await self._subscribe(ws, req_id, body)
                elif not subscribed:
                    await ws.send(_ack(req_id, self.auth_errcode, "not subscribed"))
                elif cmd == "ping":
                    if self.ack_pings:
                        await ws.send(_ack(req_id))
                elif cmd == "aibot_send_msg":
                    if self.ack_sends:
                        await ws.send(_ack(req_id, *self._check_send(body)))
                elif cmd == "aibot_respond_update_msg":
                    if self.ack_sends:
                        await ws.send(_ack(req_id, *self._check_update(req_id, body)))
                else:
                    await ws.send(_ack(req_id, INVALID_ERRCODE, f"unknown cmd {cmd}"))
        except ConnectionClosed:
            pass
        finally:
            if self._current is ws:
                self._current = None

    async def _subscribe(self, ws: ServerConnection, req_id: str, body: dict[str, Any]) -> bool:
        if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
            await ws.send(_ack(req_id, self.auth_errcode, "invalid bot_id or secret"))
            return False
        previous, self._current = self._current, ws
        self.subscriptions += 1
        await ws.send(_ack(req_id))
        if previous is not None and previous is not ws:  # one connection per bot: the newer one wins
            try:
                await previous.send(json.dumps({"cmd": "aibot_event_callback",
                                                "headers": {"req_id": f"kick_{secrets.token_hex(4)}"},
                                                "body": {"msgtype": "event",
                                                         "event": {"eventtype": "disconnected_event"}}}))
                await previous.close()
            except ConnectionClosed:
                pass
        return True

    def _check_send(self, body: dict[str, Any]) -> tuple[int, str]:
        if self.send_errcode:
            return self.send_errcode, "injected failure"
        if not isinstance(body.get("chatid"), str) or not body["chatid"]:
            return INVALID_ERRCODE, "chatid required"
        msgtype = body.get("msgtype")
        if msgtype == "markdown":
            content = (body.get("markdown") or {}).get("content")
            if not isinstance(content, str) or not content or len(content.encode("utf-8")) > 20480:
                return INVALID_ERRCODE, "markdown.content must be 1-20480 bytes"
        elif msgtype == "template_card":
            problem = _card_problem(body.get("template_card"))
            if problem:
                return INVALID_ERRCODE, problem
        else:
            return INVALID_ERRCODE, f"msgtype {msgtype!r} cannot be pushed"
        self.sent.append(body)
        return 0, "ok"

    def _check_update(self, req_id: str, body: dict[str, Any]) -> tuple[int, str]:
        if self.send_errcode:
            return self.send_errcode, "injected failure"
        event = self._card_events.get(req_id)
        if event is None:
            return INVALID_ERRCODE, "req_id is not a template_card_event"
        if time.monotonic() - event.pushed_at > UPDATE_WINDOW_S:
            return INVALID_ERRCODE, "too late to update the card"
        if body.get("response_type") != "update_template_card":
            return INVALID_ERRCODE, "response_type must be update_template_card"
        card = body.get("template_card")
        problem = _card_problem(card)
        if problem:
            return INVALID_ERRCODE, problem
        if card.get("task_id") != event.task_id:
            return INVALID_ERRCODE, "task_id differs from the clicked card's"
        self.updates.append(body)
        return 0, "ok"


def _card_problem(card: Any) -> str:
    """Why WeCom would refuse this template_card (DOC 101031), or ""."""
    if not isinstance(card, dict) or not card.get("card_type"):
        return "template_card.card_type required"
    if card["card_type"] == "button_interaction":
        if not _TASK_ID.match(str(card.get("task_id", ""))):
            return "task_id must be 1-128 of [0-9A-Za-z_-@]"
        buttons = card.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
            return "button_list must have 1-6 buttons"
        keys = [b.get("key") for b in buttons]
        if not all(keys) or len(set(keys)) != len(keys):
            return "button keys must be present and unique"
        if not (card.get("main_title") or {}).get("title") and not card.get("sub_title_text"):
            return "main_title.title or sub_title_text required"
    return ""
