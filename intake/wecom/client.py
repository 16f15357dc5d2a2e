"""A thin client for the few WeCom server APIs we send with.

Why not wechatpy's client: it refetches tokens without limit on 40014/42001
(a fake or a misconfigured secret ends in recursion) and has no template-card
calls. Here the rules of WeCom's docs are explicit:

* the access token is cached for its ``expires_in`` (7200 s) less a margin,
  one per app, and refreshed **once** when a call says 40014/42001;
* decisions are taken on the numeric ``errcode``, never on ``errmsg``;
* errors are classified so the outbox knows whether to retry later or give up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
TOKEN_ERRORS = {40014, 42001}  # invalid / expired access_token: refresh once and retry
# Errors that no retry will cure: the message is undeliverable as addressed.
PERMANENT_ERRORS = {
    81013,  # all recipients invalid
    40003,  # invalid userid
    86003,  # appchat does not exist
    40008,  # invalid message type (e.g. template_card into an appchat)
    44004,  # empty text
}
TOKEN_MARGIN_S = 300
DUPLICATE_CHECK_S = 4 * 3600  # WeCom's maximum: covers the longest retry gap of the outbox


class WeComError(Exception):
    def __init__(self, errcode: int, errmsg: str, *, path: str = "") -> None:
        super().__init__(f"WeCom {path} errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def permanent(self) -> bool:
        return self.errcode in PERMANENT_ERRORS


class WeComClient:
    """Calls WeCom's server API for one self-built app (corp id + secret + agent id)."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        agent_id: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self._monotonic = monotonic
        self._http = httpx.Client(base_url=api_base.rstrip("/"), timeout=timeout, transport=transport)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0

    def close(self) -> None:
        self._http.close()

    # -- access token -------------------------------------------------------

    def access_token(self, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or self._monotonic() >= self._token_expires:
                self._token, lifetime = self._fetch_token()
                self._token_expires = self._monotonic() + max(lifetime - TOKEN_MARGIN_S, 60)
            return self._token

    def _fetch_token(self) -> tuple[str, int]:
        data = self._json(self._http.get("/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self._secret}),
                          "gettoken")
        log.info("wecom: fetched access token (expires_in=%s)", data.get("expires_in"))
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    # -- calls ----------------------------------------------------------------

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call ``path`` with the cached token; on 40014/42001 refresh once and retry once."""
        try:
            return self._call_once(method, path, params, json, self.access_token())
        except WeComError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.warning("wecom: token rejected (%s) on %s, refreshing once", exc.errcode, path)
            return self._call_once(method, path, params, json, self.access_token(refresh=True))

    def _call_once(self, method: str, path: str, params: dict[str, Any] | None,
                   json: dict[str, Any] | None, token: str) -> dict[str, Any]:
        query = {**(params or {}), "access_token": token}
        return self._json(self._http.request(method, path, params=query, json=json), path)

    @staticmethod
    def _json(resp: httpx.Response, path: str) -> dict[str, Any]:
        resp.raise_for_status()  # WeCom answers 200 even for errors; anything else is transport trouble
        data: dict[str, Any] = resp.json()
        errcode = int(data.get("errcode", 0))
        if errcode != 0:
            raise WeComError(errcode, str(data.get("errmsg", "")), path=path)
        return data

    # -- the messages we send ---------------------------------------------------

    def send_text(self, touser: str, content: str, *, possible_duplicate: bool = False) -> dict[str, Any]:
        """message/send a text to members ("u1|u2").

        ``possible_duplicate``: an earlier attempt may have been accepted
        (we crashed or timed out before recording the outcome), so WeCom's
        duplicate check is switched on and drops this one if so. It stays off
        otherwise, or WeCom would silently drop a legitimate repeat of the
        same words within the interval while answering success.
        """
        data: dict[str, Any] = {}
        for part in split_text(content):
            body: dict[str, Any] = {
                "touser": touser, "msgtype": "text", "agentid": _agent(self.agent_id),
                "text": {"content": part}, "safe": 0,
            }
            if possible_duplicate:
                body |= {"enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_S}
            data = self.call("POST", "/cgi-bin/message/send", json=body)
            if data.get("invaliduser"):
                log.warning("wecom: message/send invaliduser=%s", data["invaliduser"])
        return data

    def send_template_card(self, touser: str, card: dict[str, Any]) -> dict[str, Any]:
        """message/send a template card to members ("u1|u2"); the answer carries ``response_code``.

        One call for all recipients, so the card has one ``task_id`` and one
        click can replace it for all of them (update_template_card, DOC 94888).
        """
        body = {"touser": touser, "msgtype": "template_card", "agentid": _agent(self.agent_id),
                "template_card": card}
        data = self.call("POST", "/cgi-bin/message/send", json=body)
        if data.get("invaliduser"):
            log.warning("wecom: template card invaliduser=%s", data["invaliduser"])
        return data

    def update_template_card(self, userids: list[str], response_code: str, replace_name: str) -> dict[str, Any]:
        """Replace the buttons of a card already sent with ``replace_name`` (unclickable), for ``userids``.

        ``response_code`` comes from the click event (single use; DOC 94888).
        """
        body = {"userids": userids, "agentid": _agent(self.agent_id), "response_code": response_code,
                "button": {"replace_name": replace_name}}
        return self.call("POST", "/cgi-bin/message/update_template_card", json=body)

    def appchat_send_text(self, chatid: str, content: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for part in split_text(content):
            body = {"chatid": chatid, "msgtype": "text", "text": {"content": part}, "safe": 0}
            data = self.call("POST", "/cgi-bin/appchat/send", json=body)
        return data

    def appchat_create(self, name: str, owner: str, userlist: list[str], chatid: str | None = None) -> str:
        body: dict[str, Any] = {"name": name, "owner": owner, "userlist": userlist}
        if chatid:
            body["chatid"] = chatid
        return str(self.call("POST", "/cgi-bin/appchat/create", json=body)["chatid"])


def _agent(agent_id: str) -> int | str:
    return int(agent_id) if agent_id.isdigit() else agent_id


TEXT_LIMIT_BYTES = 2048  # WeCom's limit for a text message's content


def split_text(content: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Split ``content`` into parts of at most ``limit`` UTF-8 bytes, preferring line breaks.

    A long reply is sent in several messages rather than cut: nothing is lost.
    """
    parts: list[str] = []
    current = ""
    for line in content.splitlines(keepends=True):
        while len(line.encode()) > limit:  # one line longer than the limit: cut by characters
            cut = _prefix_within(line, limit)
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return parts


def _prefix_within(text: str, limit: int) -> int:
    size = 0
    for i, ch in enumerate(text):
        size += len(ch.encode())
        if size > limit:
            return i
    return len(text)
