"""The one shape every channel's input takes before the bot sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator


class InboundMessage(BaseModel):
    """A normalised inbound message.

    ``channel_ts`` is the time the channel itself attests (WeCom ``CreateTime``,
    IMAP ``INTERNALDATE``, a call's start): it can start an SLA clock.
    ``received_at`` is when our process got it, kept beside it as evidence.
    """

    channel: str  # "wecom", "webchat", "email", "hotline"
    external_id: str  # the channel's own id: deduplication key within the channel
    sender: str  # the channel identity: WeCom userid, web-chat person id, mail address
    sender_name: str = ""
    channel_ts: datetime
    received_at: datetime
    msg_type: str = "text"
    text: str = ""
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    thread_hints: dict[str, Any] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("channel_ts", "received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value
