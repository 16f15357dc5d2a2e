"""Intake: every channel's protocol, turned into one InboundMessage, and delivery back out.

Intake knows protocols and nothing about tickets. Public surface:
:class:`InboundMessage`, the durable journal, the web chat channel and the
WeCom package (callback + send API).
"""

from intake import journal, webchat
from intake.journal import InboundRecord
from intake.message import InboundMessage

__all__ = ["InboundMessage", "InboundRecord", "journal", "webchat"]
