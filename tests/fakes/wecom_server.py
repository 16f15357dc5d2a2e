"""``FakeWeCom``: a loopback fake of the WeCom server API (qyapi.weixin.qq.com).

It speaks WeCom's real wire format (see /work/shared/reference/wecom.md sections
2 and 5A): JSON bodies, **HTTP 200 even on errors**, the outcome carried in the
numeric ``errcode`` and a free-text ``errmsg`` that must never be parsed. The
fake runs a real HTTP server (uvicorn in a background thread) so the product
is exercised through its actual HTTP client, connection pool and timeouts.

Behaviour worth knowing:

* ``gettoken`` returns the same token while it is valid, as WeCom documents.
* ``message/send`` honours ``enable_duplicate_check``: a repeat inside the
  interval is answered with success but not delivered again. That is what lets
  the product achieve exactly-once delivery after a crash, so it is modelled.
* Fault injection is per endpoint and thread safe; ``down()`` really stops
  listening (connection refused) and ``up()`` listens again on the same port.

Errcodes come from the global table (DOC 90313/90455, mirrored in WxJava's
``WxCpErrorMsgEnum``). Ones not confirmed there are marked ``[uncertain]``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = [
    "Call",
    "DeliveryKind",
    "ERRMSG",
    "FakeWeCom",
    "LoopbackServer",
]

JsonDict = dict[str, Any]
DeliveryKind = Literal["message", "appchat", "card_update", "aibot_response"]

# ---------------------------------------------------------------------------- errcodes
OK = 0
BUSY = -1
INVALID_SECRET = 40001
INVALID_MSGTYPE = 40008
INVALID_CORPID = 40013
INVALID_TOKEN = 40014
INVALID_PARAM = 40058
MISSING_TOKEN = 41001
MISSING_CORPID = 41002
MISSING_SECRET = 41004
MISSING_USERID = 41009
MISSING_AGENTID = 41011
EXPIRED_TOKEN = 42001
REQUIRE_GET = 43001
REQUIRE_POST = 43002
EMPTY_TEXT = 44004
CONTENT_TOO_LONG = 45002
USER_NOT_FOUND = 60111
ALL_RECIPIENTS_INVALID = 81013
INVALID_CHATID = 86001
CHAT_NOT_FOUND = 86003
BAD_MEMBER_COUNT = 86006
INVALID_MEMBER = 86007
CHATID_EXISTS = 86215  # [uncertain] not in WxJava's table
NO_AGENT_PERMISSION = 301002  # [uncertain] which code a foreign agentid gets
BAD_JSON = 47001

#: Short English messages like WeCom's; unknown codes get a generic one.
ERRMSG: dict[int, str] = {
    OK: "ok",
    BUSY: "system busy",
    INVALID_SECRET: "invalid credential",
    INVALID_MSGTYPE: "invalid message type",
    INVALID_CORPID: "invalid corpid",
    INVALID_TOKEN: "invalid access_token",
    INVALID_PARAM: "invalid parameter",
    MISSING_TOKEN: "access_token missing",
    MISSING_CORPID: "corpid missing",
    MISSING_SECRET: "corpsecret missing",
    MISSING_USERID: "userid missing",
    MISSING_AGENTID: "agentid missing",
    EXPIRED_TOKEN: "access_token expired",
    REQUIRE_GET: "require GET method",
    REQUIRE_POST: "require POST method",
    EMPTY_TEXT: "empty content",
    CONTENT_TOO_LONG: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    BAD_JSON: "data format error",
    60020: "not allow to access from your ip",
    USER_NOT_FOUND: "userid not found",
    ALL_RECIPIENTS_INVALID: "user & party & tag all invalid",
    INVALID_CHATID: "invalid chatid",
    CHAT_NOT_FOUND: "chatid not found",
    BAD_MEMBER_COUNT: "invalid chat member count",
    INVALID_MEMBER: "invalid chat member",
    CHATID_EXISTS: "chatid exists",
    NO_AGENT_PERMISSION: "no privilege to access/modify contact/party/agent",
}

MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)
APPCHAT_TYPES = frozenset(
    {"text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown"}
)
#: Cards whose message/send answer carries a response_code (updatable cards).
INTERACTIVE_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
MAX_TEXT_BYTES = 2048
MAX_DUPLICATE_INTERVAL_S = 4 * 3600
DEFAULT_DUPLICATE_INTERVAL_S = 1800
CHATID_RE = re.compile(r"^[0-9a-zA-Z]{1,32}$")

_DELIVERY_PATHS: dict[str, str] = {
    "message": "message/send",
    "appchat": "appchat/send",
    "card_update": "message/update_template_card",
    "aibot_response": "aibot/response",
}


def errmsg(code: int) -> str:
    """errmsg in WeCom's style, with the hint suffix that makes string matching futile."""
    text = ERRMSG.get(code, "error")
    if code == OK:
        return text
    hint = f"{int(time.time())}-{secrets.token_hex(6)}"
    return (
        f"{text}, hint: [{hint}], from ip: 127.0.0.1, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}"
    )


def error(code: int, **extra: Any) -> JsonDict:
    """A WeCom error body (always served with HTTP 200)."""
    return {"errcode": code, "errmsg": errmsg(code), **extra}


def ok(**extra: Any) -> JsonDict:
    """A WeCom success body."""
    return {"errcode": OK, "errmsg": "ok", **extra}


def normalize_endpoint(endpoint: str) -> str:
    """Accept '/cgi-bin/message/send', 'cgi-bin/message/send' or 'message/send'."""
    return endpoint.strip("/").removeprefix("cgi-bin/")


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Call:
    """One request the fake received, for assertions in tests.

    ``outcome`` is one of: ``ok`` (non-delivery success such as gettoken),
    ``delivered``, ``duplicate`` (accepted by duplicate check, not delivered),
    ``error`` (validation), ``injected`` (fault injection), ``http_error``,
    ``unknown_endpoint``.
    """

    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    body: Any
    time: float
    errcode: int | None
    status: int
    outcome: str
    response: JsonDict | None = None


@dataclass
class _Fault:
    """An injected fault; ``remaining`` None means until cleared."""

    kind: Literal["errcode", "http", "delay"]
    value: float
    remaining: int | None
    endpoints: frozenset[str] | None

    def matches(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints


@dataclass
class _Result:
    """What an endpoint handler decided: response body and how to record it."""

    payload: JsonDict
    outcome: str = "ok"

    @property
    def errcode(self) -> int:
        return int(self.payload["errcode"])


@dataclass
class _Chat:
    chatid: str
    name: str
    owner: str
    userlist: list[str]


@dataclass
class _ResponseCode:
    expires_at: float
    used: bool = False


@dataclass
class _State:
    """Mutable server-side state; everything here is guarded by FakeWeCom._lock."""

    tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    current_token: str | None = None
    chats: dict[str, _Chat] = field(default_factory=dict)
    sent: dict[str, tuple[float, str]] = field(default_factory=dict)  # dup key -> (t, msgid)
    msgids: set[str] = field(default_factory=set)
    response_codes: dict[str, _ResponseCode] = field(default_factory=dict)
    used_aibot_codes: set[str] = field(default_factory=set)  # response_url codes of the AI bot
    faults: list[_Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


# ---------------------------------------------------------------------------- server


def _bind(port: int) -> socket.socket:
    """Bind 127.0.0.1:port ourselves so a restart can reclaim exactly the same port.

    The explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
    sockets whose proto says TCP, and without it every keep-alive response
    stalls ~40 ms in Nagle/delayed-ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_retrying(port: int, deadline_s: float = 3.0) -> socket.socket:
    """Rebinding a just-closed port can race the kernel briefly; retry, bounded."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return _bind(port)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class LoopbackServer:
    """Serve any ASGI app with uvicorn in a daemon thread on 127.0.0.1.

    Public so tests can also put the product's own app (or a stub) on a real
    port for :class:`tests.fakes.wecom_driver.CallbackDriver`.
    """

    START_TIMEOUT_S = 5.0
    STOP_TIMEOUT_S = 5.0

    def __init__(self, app: ASGIApp, port: int = 0, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        """``lifespan="on"`` when serving an app whose startup hooks must run (the product)."""
        self.app = app
        self.port = port
        self.lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Listen (on the previous port if any) and return once requests are served."""
        if self.running:
            return
        sock = _bind_retrying(self.port) if self.port else _bind(0)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan=self.lifespan,
            ws="none",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"loopback-{self.port}",
        )
        thread.start()
        self._server, self._thread = server, thread
        self._wait_started(server, thread)

    def _wait_started(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        """Bounded poll on uvicorn's own readiness flag; fails loudly if it died."""
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn failed to start on port {self.port}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop listening and drop open connections (like a crashed peer)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True  # don't wait for in-flight (possibly delayed) requests
        thread.join(self.STOP_TIMEOUT_S)
        if thread.is_alive():
            raise TimeoutError(f"uvicorn on port {self.port} did not stop")
        self._server = self._thread = None

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- the fake


Handler = Callable[[dict[str, str], Any], _Result]


class FakeWeCom:
    """Fake WeCom API for one self-built app of one corp, on a loopback port.

    ``known_users``: when given, recipients and chat members outside it are
    invalid (``invaliduser`` / 81013 / 86007), as in a real address book.
    ``users``: userid -> display name served by ``user/get``.
    ``agent_id``: when given, ``agentid`` in bodies must match it.
    """

    def __init__(
        self,
        corp_id: str = "wwfakecorp0000001",
        secret: str = "fake-secret",
        *,
        agent_id: int | str | None = None,
        known_users: Iterable[str] | None = None,
        users: Mapping[str, str] | None = None,
        token_ttl: int = 7200,
        response_code_ttl: float = 24 * 3600,
        port: int = 0,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = None if agent_id is None else str(agent_id)
        self.known_users: set[str] | None = None if known_users is None else set(known_users)
        self.users: dict[str, str] = dict(users or {})
        self.token_ttl = token_ttl
        self.response_code_ttl = response_code_ttl
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = _State()
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "gettoken"): self._gettoken,
            ("POST", "message/send"): self._message_send,
            ("POST", "message/update_template_card"): self._update_template_card,
            ("POST", "message/recall"): self._message_recall,
            ("POST", "appchat/create"): self._appchat_create,
            ("GET", "appchat/get"): self._appchat_get,
            ("POST", "appchat/send"): self._appchat_send,
            ("GET", "user/get"): self._user_get,
            ("POST", "aibot/response"): self._aibot_response,
        }
        app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST"])])
        self._server = LoopbackServer(app, port=port)

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """e.g. ``http://127.0.0.1:PORT``; the product appends ``/cgi-bin/...``."""
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def is_up(self) -> bool:
        return self._server.running

    def start(self) -> FakeWeCom:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeWeCom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def down(self) -> None:
        """Stop listening: new connections are refused, open ones are dropped."""
        self._server.stop()

    def up(self) -> None:
        """Listen again on the same port; tokens, chats and calls survive (like WeCom)."""
        self._server.start()

    def reset(self) -> None:
        """Forget all server-side state (tokens, chats, faults, calls) but keep config."""
        with self._lock:
            self._state = _State()

    def reset_calls(self) -> None:
        with self._lock:
            self._state.calls.clear()

    # ------------------------------------------------------------ directory

    def add_user(self, userid: str, name: str | None = None) -> None:
        """Register a member (and make them a valid recipient if validation is on)."""
        with self._lock:
            self.users[userid] = name or userid
            if self.known_users is not None:
                self.known_users.add(userid)

    def add_chat(
        self, chatid: str, userlist: Iterable[str], owner: str | None = None, name: str = ""
    ) -> None:
        """Pretend a group already exists (e.g. created before a product restart)."""
        members = list(userlist)
        with self._lock:
            self._state.chats[chatid] = _Chat(chatid, name, owner or members[0], members)

    def new_response_code(self) -> str:
        """A fresh response_code as carried by a template_card_event click callback."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._state.response_codes[code] = _ResponseCode(time.monotonic() + self.response_code_ttl)
        return code

    @property
    def current_token(self) -> str | None:
        with self._lock:
            return self._state.current_token

    # ------------------------------------------------------------ fault injection

    def fail(
        self, errcode: int = BUSY, times: int | None = None, endpoints: Iterable[str] | None = None
    ) -> None:
        """Answer matching calls with ``errcode`` (HTTP 200) instead of serving them."""
        self._add_fault("errcode", errcode, times, endpoints)

    def fail_http(
        self, status: int = 503, times: int | None = None, endpoints: Iterable[str] | None = None
    ) -> None:
        """Answer matching calls with a non-JSON HTTP error, like a broken gateway."""
        self._add_fault("http", status, times, endpoints)

    def delay(self, seconds: float, times: int | None = None, endpoints: Iterable[str] | None = None) -> None:
        """Hold matching responses for ``seconds``; ``delay(0)`` removes all delays."""
        if seconds <= 0:
            with self._lock:
                self._state.faults = [f for f in self._state.faults if f.kind != "delay"]
            return
        self._add_fault("delay", seconds, times, endpoints)

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()

    def expire_token(self) -> None:
        """The current token answers 42001 from now on; gettoken issues a new one."""
        with self._lock:
            token = self._state.current_token
            if token is not None:
                self._state.tokens[token] = 0.0
            self._state.current_token = None

    def invalidate_token(self) -> None:
        """The current token answers 40014 from now on (WeCom may revoke early)."""
        with self._lock:
            token = self._state.current_token
            if token is not None:
                self._state.tokens.pop(token, None)
            self._state.current_token = None

    def _add_fault(
        self,
        kind: Literal["errcode", "http", "delay"],
        value: float,
        times: int | None,
        endpoints: Iterable[str] | None,
    ) -> None:
        names = (
            None
            if endpoints is None
            else frozenset(
                normalize_endpoint(e) for e in ([endpoints] if isinstance(endpoints, str) else endpoints)
            )
        )
        with self._lock:
            self._state.faults.append(_Fault(kind, value, times, names))

    def _take_fault(self, kind: str, endpoint: str) -> float | None:
        """Consume the first matching fault of ``kind`` (FIFO), if any."""
        with self._lock:
            for fault in self._state.faults:
                if fault.kind == kind and fault.matches(endpoint):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._state.faults.remove(fault)
                    return fault.value
        return None

    # ------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every call so far, oldest first."""
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, endpoint: str) -> list[Call]:
        name = normalize_endpoint(endpoint)
        return [c for c in self.calls if c.endpoint == name]

    def delivered(self, kind: DeliveryKind = "message") -> list[JsonDict]:
        """Bodies actually delivered: not failed, not injected, not duplicates."""
        return _delivered(self.calls, kind)

    def delivered_to(self, userid: str) -> list[JsonDict]:
        """message/send bodies that reached ``userid`` (directly or via @all)."""
        return [
            b
            for b in self.delivered("message")
            if userid in _split(b.get("touser")) or "@all" in _split(b.get("touser"))
        ]

    def wait_delivered(
        self, count: int, kind: DeliveryKind = "message", timeout: float = 5.0
    ) -> list[JsonDict]:
        """Block until ``count`` deliveries of ``kind`` exist (the product sends async)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                bodies = _delivered(self._state.calls, kind)
                remaining = deadline - time.monotonic()
                if len(bodies) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(bodies) < count:
            raise TimeoutError(f"{len(bodies)}/{count} {kind} deliveries after {timeout}s")
        return bodies

    # ------------------------------------------------------------ HTTP plumbing

    async def _dispatch(self, request: Request) -> Response:
        """Single entry point: faults first (they model the platform), then the API."""
        endpoint = normalize_endpoint(request.url.path)
        query = dict(request.query_params)
        raw = await request.body()
        body = _parse_json(raw)
        received = time.time()

        pause = self._take_fault("delay", endpoint)
        if pause:
            await asyncio.sleep(pause)

        status = self._take_fault("http", endpoint)
        if status is not None:
            self._record(request, endpoint, query, body, received, None, int(status), "http_error")
            return HTMLResponse(_http_error_page(int(status)), status_code=int(status))

        result = self._serve(request.method, endpoint, query, body, raw)
        if result is None:
            self._record(request, endpoint, query, body, received, None, 404, "unknown_endpoint")
            return PlainTextResponse("Not Found", status_code=404)
        self._record(
            request, endpoint, query, body, received, result.errcode, 200, result.outcome, result.payload
        )
        return JSONResponse(result.payload)

    def _serve(
        self, method: str, endpoint: str, query: dict[str, str], body: Any, raw: bytes
    ) -> _Result | None:
        """Route to a handler; None for paths WeCom would not know."""
        handler = self._routes.get((method, endpoint))
        if handler is None:
            other = "POST" if method == "GET" else "GET"
            if (other, endpoint) not in self._routes:
                return None
            return _Result(error(REQUIRE_POST if other == "POST" else REQUIRE_GET), "error")
        injected = self._take_fault("errcode", endpoint)
        if injected is not None:
            return _Result(error(int(injected)), "injected")
        if method == "POST" and (raw.strip() == b"" or not isinstance(body, dict)):
            return _Result(error(BAD_JSON), "error")
        with self._lock:
            return handler(query, body)

    def _record(
        self,
        request: Request,
        endpoint: str,
        query: dict[str, str],
        body: Any,
        received: float,
        errcode: int | None,
        status: int,
        outcome: str,
        response: JsonDict | None = None,
    ) -> None:
        call = Call(
            request.method,
            request.url.path,
            endpoint,
            query,
            body,
            received,
            errcode,
            status,
            outcome,
            response,
        )
        with self._changed:
            self._state.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------ endpoint handlers
    # Handlers run with self._lock held, so they must not take it again.

    def _check_token(self, query: Mapping[str, str]) -> int | None:
        """None when the token is usable, else the errcode WeCom would return."""
        token = query.get("access_token")
        if not token:
            return MISSING_TOKEN
        expires_at = self._state.tokens.get(token)
        if expires_at is None:
            return INVALID_TOKEN
        if time.monotonic() >= expires_at:
            return EXPIRED_TOKEN
        return None

    def _gettoken(self, query: dict[str, str], _body: Any) -> _Result:
        corpid, secret = query.get("corpid"), query.get("corpsecret")
        if not corpid:
            return _Result(error(MISSING_CORPID), "error")
        if corpid != self.corp_id:
            return _Result(error(INVALID_CORPID), "error")
        if not secret:
            return _Result(error(MISSING_SECRET), "error")
        if secret != self.secret:
            return _Result(error(INVALID_SECRET), "error")
        state = self._state
        token = state.current_token
        if token is None or time.monotonic() >= state.tokens.get(token, 0.0):
            token = secrets.token_urlsafe(48)  # real tokens are long; products must store >=512 B
            state.tokens[token] = time.monotonic() + self.token_ttl
            state.current_token = token
        return _Result(ok(access_token=token, expires_in=self.token_ttl))

    def _check_agent(self, body: JsonDict) -> int | None:
        agentid = body.get("agentid")
        if agentid in (None, ""):
            return MISSING_AGENTID
        if self.agent_id is not None and str(agentid) != self.agent_id:
            return NO_AGENT_PERMISSION
        return None

    def _message_send(self, query: dict[str, str], body: JsonDict) -> _Result:
        code = self._check_token(query) or self._check_agent(body)
        code = code or _check_content(body, MESSAGE_TYPES)
        if code:
            return _Result(error(code), "error")
        invalid = self._invalid_users(_split(body.get("touser")))
        valid = [u for u in _split(body.get("touser")) if u not in invalid]
        if not valid and not body.get("toparty") and not body.get("totag"):
            return _Result(error(ALL_RECIPIENTS_INVALID, invaliduser="|".join(invalid)), "error")
        duplicate_of = self._duplicate_of(body)
        msgid = duplicate_of or secrets.token_urlsafe(32)
        payload = ok(invaliduser="|".join(invalid), invalidparty="", invalidtag="", msgid=msgid)
        if duplicate_of:
            return _Result(payload, "duplicate")
        if _needs_response_code(body):
            payload["response_code"] = self._issue_response_code()
        self._state.sent[_dup_key(body)] = (time.monotonic(), msgid)
        self._state.msgids.add(msgid)
        return _Result(payload, "delivered")

    def _invalid_users(self, userids: list[str]) -> list[str]:
        if self.known_users is None:
            return []
        return [u for u in userids if u != "@all" and u not in self.known_users]

    def _duplicate_of(self, body: JsonDict) -> str | None:
        """msgid of an identical earlier delivery inside the requested interval, if any."""
        if not _truthy(body.get("enable_duplicate_check")):
            return None
        interval = body.get("duplicate_check_interval") or DEFAULT_DUPLICATE_INTERVAL_S
        interval = min(float(interval), MAX_DUPLICATE_INTERVAL_S)
        previous = self._state.sent.get(_dup_key(body))
        if previous is None or time.monotonic() - previous[0] > interval:
            return None
        return previous[1]

    def _issue_response_code(self) -> str:
        code = secrets.token_urlsafe(24)
        self._state.response_codes[code] = _ResponseCode(time.monotonic() + self.response_code_ttl)
        return code

    def _update_template_card(self, query: dict[str, str], body: JsonDict) -> _Result:
        code = self._check_token(query) or self._check_agent(body)
        if code:
            return _Result(error(code), "error")
        rc = self._state.response_codes.get(str(body.get("response_code", "")))
        # [uncertain] errcode for a reused/expired/unknown response_code; 40058 is generic.
        if rc is None or rc.used or time.monotonic() >= rc.expires_at:
            return _Result(error(INVALID_PARAM), "error")
        if not isinstance(body.get("button"), dict) and not isinstance(body.get("template_card"), dict):
            return _Result(error(INVALID_PARAM), "error")
        rc.used = True
        return _Result(ok(), "delivered")

    def _aibot_response(self, query: dict[str, str], body: JsonDict) -> _Result:
        """The AI bot's active reply to a message's response_url: once per code (DOC 101138)."""
        code = query.get("response_code", "")
        # [uncertain] errcodes for a reused code and a wrong msgtype; 40058 is generic.
        if not code or code in self._state.used_aibot_codes:
            return _Result(error(INVALID_PARAM), "error")
        if body.get("msgtype") not in ("markdown", "template_card") or not isinstance(body.get(body["msgtype"]), dict):
            return _Result(error(INVALID_PARAM), "error")
        self._state.used_aibot_codes.add(code)
        return _Result(ok(), "delivered")

    def _message_recall(self, query: dict[str, str], body: JsonDict) -> _Result:
        code = self._check_token(query)
        if code:
            return _Result(error(code), "error")
        if body.get("msgid") not in self._state.msgids:
            return _Result(error(INVALID_PARAM), "error")  # [uncertain] errcode
        self._state.msgids.discard(body["msgid"])
        return _Result(ok())

    def _appchat_create(self, query: dict[str, str], body: JsonDict) -> _Result:
        code = self._check_token(query)
        if code:
            return _Result(error(code), "error")
        members = [str(u) for u in body.get("userlist") or []]
        chatid = str(body.get("chatid") or secrets.token_hex(16))
        if not 2 <= len(members) <= 2000:
            return _Result(error(BAD_MEMBER_COUNT), "error")
        if self._invalid_users(members):
            return _Result(error(INVALID_MEMBER), "error")
        if not CHATID_RE.match(chatid):
            return _Result(error(INVALID_CHATID), "error")
        if chatid in self._state.chats:
            return _Result(error(CHATID_EXISTS), "error")
        owner = str(body.get("owner") or members[0])
        self._state.chats[chatid] = _Chat(chatid, str(body.get("name", "")), owner, members)
        return _Result(ok(chatid=chatid))

    def _appchat_get(self, query: dict[str, str], _body: Any) -> _Result:
        code = self._check_token(query)
        if code:
            return _Result(error(code), "error")
        chat = self._state.chats.get(query.get("chatid", ""))
        if chat is None:
            return _Result(error(CHAT_NOT_FOUND), "error")
        info = {
            "chatid": chat.chatid,
            "name": chat.name,
            "owner": chat.owner,
            "userlist": list(chat.userlist),
            "chat_type": 0,
        }
        return _Result(ok(chat_info=info))

    def _appchat_send(self, query: dict[str, str], body: JsonDict) -> _Result:
        code = self._check_token(query)
        if not code and str(body.get("chatid", "")) not in self._state.chats:
            code = CHAT_NOT_FOUND
        # template_card is not an appchat type -> 40008 ([uncertain] exact code).
        code = code or _check_content(body, APPCHAT_TYPES)
        if code:
            return _Result(error(code), "error")
        return _Result(ok(), "delivered")

    def _user_get(self, query: dict[str, str], _body: Any) -> _Result:
        code = self._check_token(query)
        if code:
            return _Result(error(code), "error")
        userid = query.get("userid", "")
        if not userid:
            return _Result(error(MISSING_USERID), "error")
        name = self.users.get(userid)
        if name is None and self.known_users is not None and userid in self.known_users:
            name = userid
        if name is None:
            return _Result(error(USER_NOT_FOUND), "error")
        return _Result(ok(userid=userid, name=name, department=[1], main_department=1, status=1))


# ---------------------------------------------------------------------------- helpers


def _parse_json(raw: bytes) -> Any:
    """WeCom parses the body as JSON whatever the content-type says."""
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")


def _split(recipients: Any) -> list[str]:
    """'u1|u2' -> ['u1', 'u2']; empty or missing -> []."""
    if not recipients:
        return []
    return [r for r in str(recipients).split("|") if r]


def _truthy(flag: Any) -> bool:
    return str(flag).strip() in {"1", "true", "True"}


def _check_content(body: JsonDict, allowed: frozenset[str]) -> int | None:
    """msgtype must be allowed and its object present; text must be 1..2048 bytes."""
    msgtype = body.get("msgtype")
    if msgtype not in allowed or not isinstance(body.get(msgtype), dict):
        return INVALID_MSGTYPE
    if msgtype == "text":
        content = str(body["text"].get("content") or "")
        if not content:
            return EMPTY_TEXT
        if len(content.encode("utf-8")) > MAX_TEXT_BYTES:
            return CONTENT_TOO_LONG
    return None


def _needs_response_code(body: JsonDict) -> bool:
    """Only updatable cards get a response_code (wecom.md section 2)."""
    if body.get("msgtype") != "template_card":
        return False
    card = body["template_card"]
    return card.get("card_type") in INTERACTIVE_CARDS or "action_menu" in card


def _dup_key(body: JsonDict) -> str:
    """What makes two sends 'the same message': recipients and content, not flags."""
    msgtype = body.get("msgtype")
    key = {
        "agentid": str(body.get("agentid")),
        "touser": sorted(_split(body.get("touser"))),
        "toparty": sorted(_split(body.get("toparty"))),
        "totag": sorted(_split(body.get("totag"))),
        "msgtype": msgtype,
        "content": body.get(str(msgtype)),
    }
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


def _delivered(calls: Iterable[Call], kind: DeliveryKind) -> list[JsonDict]:
    endpoint = _DELIVERY_PATHS[kind]
    return [c.body for c in calls if c.endpoint == endpoint and c.outcome == "delivered"]


def _http_error_page(status: int) -> str:
    """Body of a gateway error: HTML, deliberately not JSON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"<html><body><h1>{status} {phrase}</h1><hr>stgw</body></html>"
