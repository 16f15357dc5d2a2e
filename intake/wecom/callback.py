"""The WeCom self-built-app callback endpoint: GET verifies the URL, POST receives.

WeCom waits at most 5 s and then redelivers, so the POST only verifies,
decrypts, parses and stores the message durably (``accept``), then answers an
empty 200 at once; the conversation happens afterwards, from the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from intake.message import InboundMessage
from intake.wecom.crypto import CallbackCrypto, CallbackRejected
from intake.wecom.parse import MalformedCallback, parse_callback_xml

log = logging.getLogger(__name__)

Accept = Callable[[InboundMessage], bool]


def add_url_verification(router: APIRouter, path: str, verify: Callable[[str, str, str, str], str],
                         name: str) -> None:
    """The GET handshake WeCom makes when the URL is saved (DOC 96466; the AI bot's, DOC 101033, is the same)."""

    @router.get(path, response_class=PlainTextResponse)
    def verify_url(msg_signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = "") -> Response:
        try:
            plain = verify(msg_signature, timestamp, nonce, echostr)
        except CallbackRejected as exc:
            log.warning("%s: URL verification rejected: %s", name, exc)
            return PlainTextResponse("forbidden", status_code=403)
        # The plaintext, verbatim: no quotes, no BOM, no newline; within 1 s.
        return PlainTextResponse(plain)


def callback_router(crypto: CallbackCrypto, accept: Accept, clock: Callable[[], datetime],
                    path: str = "/wecom/callback") -> APIRouter:
    """Routes for the callback; ``accept`` stores a message durably and returns True if it was new."""
    router = APIRouter()
    add_url_verification(router, path, crypto.verify_url, "wecom callback")

    @router.post(path)
    async def receive(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
        received_at = clock()
        body = (await request.body()).decode("utf-8", errors="replace")
        try:
            xml = crypto.decrypt(body, msg_signature, timestamp, nonce)
        except CallbackRejected as exc:
            log.warning("wecom callback: rejected from %s: %s", request.client.host if request.client else "?", exc)
            return PlainTextResponse("forbidden", status_code=403)
        try:
            msg = parse_callback_xml(xml, received_at)
        except MalformedCallback as exc:
            # Authentic but unreadable: keep evidence in the log and stop WeCom retrying.
            log.error("wecom callback: unreadable message kept in log only: %s; xml=%r", exc, xml[:2000])
            return Response(status_code=200)
        is_new = await run_in_threadpool(accept, msg)
        if not is_new:
            log.info("wecom callback: duplicate %s ignored", msg.external_id)
        # Empty body: no passive reply; WeCom will not retry.
        return Response(status_code=200)

    return router
