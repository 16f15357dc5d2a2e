"""The AI bot's callback endpoint (API mode with a URL): GET verifies the URL, POST receives.

Like the self-built app (see :mod:`intake.wecom.callback`), the POST only
verifies, decrypts, parses and stores the message durably (``accept``), then
answers at once; the conversation happens afterwards, from the journal, and the
answer goes out through ``response_url`` or the long connection.

The one exception is a card button click (``template_card_event``): WeCom sends
it **once**, waits at most 5 s and drops it otherwise (DOC 101027), and the only
way to change the card for everyone in the chat from here is the passive reply
to that very request (DOC 101031 "模版卡片更新消息")::

    {"response_type": "update_template_card", "template_card": {..., "task_id": <the clicked task_id>}}

(``response_type``, not ``msgtype``: that is the key the doc's example, its
parameter table and the official SDK's ``update_template_card`` all use; no
``userids`` means "replace it for every user the message reached".) It is sent
encrypted as ``{"encrypt","msgsignature","timestamp","nonce"}`` (DOC 101033).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from intake.aibot.cards import card_update_reply
from intake.aibot.crypto import AibotCrypto, CallbackRejected
from intake.aibot.parse import MalformedCallback, parse_callback_json
from intake.message import InboundMessage
from intake.wecom.callback import add_url_verification

__all__ = ["CARD_REPLY_BUDGET_S", "Accept", "OnCardEvent", "aibot_callback_router"]

log = logging.getLogger(__name__)

Accept = Callable[[InboundMessage], bool]
OnCardEvent = Callable[[InboundMessage], dict[str, Any] | None]

#: WeCom drops a card event it has no answer to after 5 s; leave room for the network.
CARD_REPLY_BUDGET_S = 4.0


def aibot_callback_router(crypto: AibotCrypto, accept: Accept, clock: Callable[[], datetime],
                          path: str = "/wecom/aibot", on_card_event: OnCardEvent | None = None, *,
                          bot_name: str | None = None,
                          card_reply_budget_s: float = CARD_REPLY_BUDGET_S) -> APIRouter:
    """Routes for one AI bot's callback URL.

    ``accept`` stores a message durably and returns True if it was new (a
    duplicate ``msgid`` must create nothing). ``on_card_event`` gets every
    button click, duplicates included, so it must be idempotent; it returns the
    replacement card or None. Both run in the threadpool.
    """
    router = APIRouter()
    add_url_verification(router, path, crypto.verify_url, "aibot callback")

    @router.post(path)
    async def receive(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
        received_at = clock()
        body = await request.body()
        try:
            plaintext = crypto.decrypt(body, msg_signature, timestamp, nonce)
        except CallbackRejected as exc:
            log.warning("aibot callback: rejected from %s: %s",
                        request.client.host if request.client else "?", exc)
            return PlainTextResponse("forbidden", status_code=403)
        try:
            msg = parse_callback_json(plaintext, received_at, bot_name=bot_name)
        except MalformedCallback as exc:
            # Authentic but unreadable: keep the evidence in the log and stop WeCom retrying.
            log.error("aibot callback: unreadable payload kept in log only: %s; json=%r", exc, plaintext[:2000])
            return Response(status_code=200)
        if msg is None:
            log.debug("aibot callback: stream refresh answered empty")
            return Response(status_code=200)
        is_new = await run_in_threadpool(accept, msg)
        if not is_new:
            log.info("aibot callback: duplicate %s ignored", msg.external_id)
        if msg.msg_type == "card_event" and on_card_event is not None:
            card = await _card_for(on_card_event, msg, card_reply_budget_s)
            if card is not None:
                update = card_update_reply(card, str(msg.thread_hints.get("task_id", "")))
                reply = json.dumps(update, ensure_ascii=False)
                return Response(crypto.encrypt_reply(reply, nonce), media_type="application/json")
        # Empty body: no passive reply, and WeCom does not retry.
        return Response(status_code=200)

    return router


async def _card_for(on_card_event: OnCardEvent, msg: InboundMessage, budget_s: float) -> dict[str, Any] | None:
    """The card to answer with, or None if there is none or it came too late for WeCom to use."""
    try:
        return await asyncio.wait_for(run_in_threadpool(on_card_event, msg), budget_s)
    except TimeoutError:
        log.warning("aibot callback: card update for %s took over %.1fs; answered empty (WeCom drops it at 5s)",
                    msg.external_id, budget_s)
    except Exception:
        log.exception("aibot callback: on_card_event failed for %s; answered empty", msg.external_id)
    return None
