"""WeCom AI bot (智能机器人): callback mode (JSON + crypto), long connection, template cards.

Unlike the self-built app (:mod:`intake.wecom`), the AI bot sees group
messages that @ it and can post and update button cards inside the group
(see /work/shared/reference/wecom.md sections 0 and 3).
"""

from intake.aibot.callback import aibot_callback_router
from intake.aibot.cards import card_update_reply, claimed_card, claimed_key, make_task_id, ticket_card
from intake.aibot.crypto import AibotCrypto, CallbackRejected
from intake.aibot.longconn import (
    DEFAULT_URL,
    AckError,
    AckTimeout,
    AibotConnection,
    AibotError,
    NotConnected,
    SendOutcomeUnknown,
    SubscribeRejected,
)
from intake.aibot.parse import CHANNEL, MalformedCallback, parse_callback_json, parse_payload, strip_mention

__all__ = [
    "CHANNEL", "DEFAULT_URL", "AckError", "AckTimeout", "AibotConnection", "AibotCrypto", "AibotError",
    "CallbackRejected", "MalformedCallback", "NotConnected", "SendOutcomeUnknown", "SubscribeRejected",
    "aibot_callback_router", "card_update_reply", "claimed_card", "claimed_key", "make_task_id",
    "parse_callback_json", "parse_payload", "strip_mention", "ticket_card",
]
