"""``CallbackDriver``: plays WeCom calling OUR callback URL.

It speaks the self-built-app callback protocol (DOC 96466/96467, see
/work/shared/reference/wecom.md sections 1 and 5B) using the independent crypto in
:mod:`tests.fakes.wecom_crypto`, so it checks the product's wechatpy-based
implementation rather than agreeing with it by construction.

Timing and retry behaviour copy WeCom: a delivery that is not answered with
HTTP 200 within 5 s counts as failed and the *same message* (same MsgId) is
delivered again, 3 deliveries in total.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tests.fakes import wecom_crypto

__all__ = ["CallbackDriver", "Delivery", "SignedRequest", "cdata", "parse_plain_xml"]

#: WeCom waits this long for our answer before it gives up and redelivers.
WECOM_TIMEOUT_S = 5.0
#: Deliveries in total (1 + 2 retries); the doc is ambiguous, see wecom.md section 1.
WECOM_ATTEMPTS = 3

Delivery = httpx.Response | Exception
"""One delivery attempt: the response, or the exception (timeout, refused...)."""


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Shared, built once: loading CA certs per httpx client costs ~30 ms a request."""
    return ssl.create_default_context()


def _client(timeout: float) -> httpx.Client:
    """A fresh client (so a fresh connection) per delivery keeps retries independent."""
    return httpx.Client(timeout=timeout, verify=_ssl_context())


def _async_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, verify=_ssl_context())


def cdata(value: str) -> str:
    """Wrap in CDATA, splitting any ``]]>`` so arbitrary user text stays well formed."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _random_msg_id() -> int:
    """Random MsgIds keep tests independent; 63 bits like the official sample's values."""
    return secrets.randbits(63) or 1


@dataclass(frozen=True)
class SignedRequest:
    """Query parameters and body of one encrypted callback POST."""

    params: dict[str, str]
    body: str
    encrypted: str


class CallbackDriver:
    """Acts as WeCom: handshakes, signs, encrypts and (re)delivers callbacks."""

    def __init__(
        self,
        base_url: str,
        path: str = "/wecom/callback",
        *,
        token: str,
        aes_key: str,
        corp_id: str,
        agent_id: str = "1000002",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.token = token
        self.aes_key = aes_key
        self.corp_id = corp_id
        self.agent_id = str(agent_id)

    @property
    def url(self) -> str:
        """Full callback URL as configured in the WeCom admin console."""
        return self.base_url + self.path

    # ------------------------------------------------------------------ signing

    def _signed_params(self, encrypted: str, *, tamper_signature: bool) -> dict[str, str]:
        return wecom_crypto.signed_params(self.token, encrypted, tamper_signature=tamper_signature)

    def echostr_params(
        self, *, tamper_signature: bool = False, plaintext: str | None = None
    ) -> tuple[dict[str, str], str]:
        """Query for the GET URL verification and the plaintext our server must echo."""
        expected = plaintext if plaintext is not None else str(secrets.randbits(60))
        echostr = wecom_crypto.encrypt(self.aes_key, expected, self.corp_id)
        params = self._signed_params(echostr, tamper_signature=tamper_signature)
        params["echostr"] = echostr
        return params, expected

    def envelope(self, encrypted: str) -> str:
        """The outer XML WeCom POSTs: only ``Encrypt`` is secret."""
        return (
            f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName>"
            f"<AgentID>{cdata(self.agent_id)}</AgentID>"
            f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        )

    def sign_xml(
        self,
        xml: str,
        *,
        tamper_signature: bool = False,
        corp_id_override: str | None = None,
    ) -> SignedRequest:
        """Encrypt plaintext XML and sign it, without sending (useful for unit tests).

        ``corp_id_override`` changes only the receiveid inside the ciphertext, which
        is what a message meant for another corp (or a forged one) looks like.
        """
        receive_id = self.corp_id if corp_id_override is None else corp_id_override
        encrypted = wecom_crypto.encrypt(self.aes_key, xml, receive_id)
        params = self._signed_params(encrypted, tamper_signature=tamper_signature)
        return SignedRequest(params=params, body=self.envelope(encrypted), encrypted=encrypted)

    def decrypt_reply(self, body: str) -> str:
        """Verify and decrypt an encrypted passive reply (``<xml><Encrypt/>...``).

        Raises ``ValueError`` if the signature does not match or the receiveid is
        not our corp, since WeCom would discard such a reply.
        """
        root = ET.fromstring(body)
        fields = {child.tag: (child.text or "") for child in root}
        encrypted = fields["Encrypt"]
        expected = wecom_crypto.signature(self.token, fields["TimeStamp"], fields["Nonce"], encrypted)
        if fields["MsgSignature"] != expected:
            raise ValueError("passive reply has a bad MsgSignature")
        msg, receive_id = wecom_crypto.decrypt(self.aes_key, encrypted)
        if receive_id != self.corp_id:
            raise ValueError(f"passive reply is for receiveid {receive_id!r}")
        return msg

    # ------------------------------------------------------------------ payloads

    def _common(self, from_user: str, create_time: int | None, msg_type: str) -> str:
        """Fields every decrypted callback starts with (DOC 96467)."""
        created = int(time.time()) if create_time is None else create_time
        return (
            f"<ToUserName>{cdata(self.corp_id)}</ToUserName>"
            f"<FromUserName>{cdata(from_user)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime>"
            f"<MsgType>{cdata(msg_type)}</MsgType>"
        )

    def build_text(
        self,
        from_user: str,
        content: str,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """Plaintext XML of a text message, byte-for-byte in WeCom's layout."""
        mid = _random_msg_id() if msg_id is None else msg_id
        return (
            "<xml>"
            + self._common(from_user, create_time, "text")
            + f"<Content>{cdata(content)}</Content>"
            + f"<MsgId>{mid}</MsgId><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def build_image(
        self,
        from_user: str,
        media_id: str,
        pic_url: str = "https://wework.qpic.cn/fake/0",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """Plaintext XML of an image message (media_id valid 3 days in reality)."""
        mid = _random_msg_id() if msg_id is None else msg_id
        return (
            "<xml>"
            + self._common(from_user, create_time, "image")
            + f"<PicUrl>{cdata(pic_url)}</PicUrl><MediaId>{cdata(media_id)}</MediaId>"
            + f"<MsgId>{mid}</MsgId><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def build_event_click(self, from_user: str, event_key: str, create_time: int | None = None) -> str:
        """Menu click event; events have no MsgId (dedupe on FromUserName+CreateTime)."""
        return (
            "<xml>"
            + self._common(from_user, create_time, "event")
            + f"<Event>{cdata('click')}</Event><EventKey>{cdata(event_key)}</EventKey>"
            + f"<AgentID>{self.agent_id}</AgentID></xml>"
        )

    def build_template_card_event(
        self,
        from_user: str,
        event_key: str,
        task_id: str,
        response_code: str,
        card_type: str = "button_interaction",
        create_time: int | None = None,
    ) -> str:
        """Card button click (e.g. "claim"); ``response_code`` feeds update_template_card."""
        return (
            "<xml>"
            + self._common(from_user, create_time, "event")
            + f"<Event>{cdata('template_card_event')}</Event>"
            + f"<EventKey>{cdata(event_key)}</EventKey>"
            + f"<TaskId>{cdata(task_id)}</TaskId>"
            + f"<CardType>{cdata(card_type)}</CardType>"
            + f"<ResponseCode>{cdata(response_code)}</ResponseCode>"
            + f"<AgentID>{self.agent_id}</AgentID></xml>"
        )

    def _post_args(self, xml: str, tamper_signature: bool, corp_id_override: str | None) -> dict[str, Any]:
        """The POST WeCom makes for ``xml``: what the sync and async senders share."""
        request = self.sign_xml(xml, tamper_signature=tamper_signature, corp_id_override=corp_id_override)
        return {
            "url": self.url,
            "params": request.params,
            "content": request.body.encode("utf-8"),
            "headers": {"Content-Type": "text/xml"},
        }

    # ------------------------------------------------------------------ sync HTTP

    def verify_url(
        self, *, tamper_signature: bool = False, timeout: float = WECOM_TIMEOUT_S
    ) -> tuple[httpx.Response, str]:
        """GET handshake; the caller asserts ``response.text == expected`` (no quotes/newline)."""
        params, expected = self.echostr_params(tamper_signature=tamper_signature)
        with _client(timeout) as client:
            response = client.get(self.url, params=params)
        return response, expected

    def post_plain_xml(
        self,
        xml: str,
        *,
        tamper_signature: bool = False,
        corp_id_override: str | None = None,
        timeout: float = WECOM_TIMEOUT_S,
    ) -> httpx.Response:
        """Encrypt, sign and POST one callback; exceptions (timeouts...) propagate."""
        with _client(timeout) as client:
            return client.post(**self._post_args(xml, tamper_signature, corp_id_override))

    def post_text(
        self,
        from_user: str,
        content: str,
        msg_id: int | None = None,
        create_time: int | None = None,
        *,
        tamper_signature: bool = False,
        corp_id_override: str | None = None,
        timeout: float = WECOM_TIMEOUT_S,
    ) -> httpx.Response:
        """Build and POST a text message (random MsgId, current time by default)."""
        xml = self.build_text(from_user, content, msg_id=msg_id, create_time=create_time)
        return self.post_plain_xml(
            xml,
            tamper_signature=tamper_signature,
            corp_id_override=corp_id_override,
            timeout=timeout,
        )

    def deliver(
        self, xml: str, attempts: int = WECOM_ATTEMPTS, timeout: float = WECOM_TIMEOUT_S
    ) -> list[Delivery]:
        """Deliver like WeCom: redeliver the same message until HTTP 200 in time.

        Each attempt is freshly encrypted and signed (new nonce, new random
        prefix) so the product can only dedupe on the MsgId inside, which is the
        documented contract, not on request bytes.
        """
        return redeliver(lambda: self.post_plain_xml(xml, timeout=timeout), attempts, timeout)

    # ------------------------------------------------------------------ async HTTP

    async def averify_url(
        self, *, tamper_signature: bool = False, timeout: float = WECOM_TIMEOUT_S
    ) -> tuple[httpx.Response, str]:
        """Async :meth:`verify_url`."""
        params, expected = self.echostr_params(tamper_signature=tamper_signature)
        async with _async_client(timeout) as client:
            response = await client.get(self.url, params=params)
        return response, expected

    async def apost_plain_xml(
        self,
        xml: str,
        *,
        tamper_signature: bool = False,
        corp_id_override: str | None = None,
        timeout: float = WECOM_TIMEOUT_S,
    ) -> httpx.Response:
        """Async :meth:`post_plain_xml`; a fresh client per call keeps calls independent."""
        async with _async_client(timeout) as client:
            return await client.post(**self._post_args(xml, tamper_signature, corp_id_override))

    async def apost_text(
        self,
        from_user: str,
        content: str,
        msg_id: int | None = None,
        create_time: int | None = None,
        *,
        tamper_signature: bool = False,
        corp_id_override: str | None = None,
        timeout: float = WECOM_TIMEOUT_S,
    ) -> httpx.Response:
        """Async :meth:`post_text`."""
        xml = self.build_text(from_user, content, msg_id=msg_id, create_time=create_time)
        return await self.apost_plain_xml(
            xml,
            tamper_signature=tamper_signature,
            corp_id_override=corp_id_override,
            timeout=timeout,
        )

    async def adeliver(
        self, xml: str, attempts: int = WECOM_ATTEMPTS, timeout: float = WECOM_TIMEOUT_S
    ) -> list[Delivery]:
        """Async :meth:`deliver`; ``asyncio.gather`` several to race redeliveries."""
        results: list[Delivery] = []
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            started = loop.time()
            try:
                result: Delivery = await self.apost_plain_xml(xml, timeout=timeout)
            except httpx.HTTPError as exc:
                result = exc
            results.append(result)
            if _accepted(result, loop.time() - started, timeout):
                break
        return results


def redeliver(post: Callable[[], httpx.Response], attempts: int, timeout: float) -> list[Delivery]:
    """WeCom's retry rule: the same message again until HTTP 200 within the timeout, ``attempts`` times at most."""
    results: list[Delivery] = []
    for _ in range(attempts):
        started = time.monotonic()
        try:
            result: Delivery = post()
        except httpx.HTTPError as exc:
            result = exc
        results.append(result)
        if _accepted(result, time.monotonic() - started, timeout):
            break
    return results


def _accepted(result: Delivery, elapsed: float, timeout: float) -> bool:
    """WeCom's success rule: HTTP 200 within the timeout; anything else is retried."""
    return isinstance(result, httpx.Response) and result.status_code == 200 and elapsed <= timeout


def parse_plain_xml(xml: str) -> Mapping[str, str]:
    """Flat dict of a decrypted callback, handy for asserting on what was sent."""
    return {child.tag: (child.text or "") for child in ET.fromstring(xml)}
