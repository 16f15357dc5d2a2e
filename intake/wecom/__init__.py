"""WeCom (企业微信) self-built app: callback crypto and parsing, and the send API."""

from intake.wecom.callback import callback_router
from intake.wecom.client import WeComClient, WeComError, split_text
from intake.wecom.crypto import CallbackCrypto, CallbackRejected
from intake.wecom.parse import MalformedCallback, parse_callback_xml

__all__ = [
    "CallbackCrypto", "CallbackRejected", "MalformedCallback", "WeComClient", "WeComError",
    "callback_router", "parse_callback_xml", "split_text",
]
