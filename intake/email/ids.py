"""Message-IDs that name their ticket, signed so that nobody can forge a thread.

Our outgoing mail carries ``<t123.m456.1a2b3c4d5e6f7a8b@helpdesk.example.cn>``:
ticket 123, outgoing message 456, and the first 16 hex digits of an HMAC-SHA256
of ``123.456`` under the installation's secret. A reply's ``In-Reply-To`` or
``References`` naming such an ID is threaded to ticket 123 only if the signature
checks: a stranger cannot attach mail to somebody else's ticket by guessing.
The subject tag ``[#123]`` is the weaker fallback the caller accepts only from
a known participant of that ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

_ID = re.compile(r"<?t(\d{1,12})\.m(\d{1,12})\.([0-9a-f]{16})@([^>\s]+)>?", re.IGNORECASE)
_TAG = re.compile(r"\[\s*#\s*(\d{1,12})\s*\]")
# The same tag as typed with a Chinese input method (full-width brackets, hash and digits).
_ANY_TAG = re.compile(r"[\[［]\s*[#＃]\s*[\d０-９]{1,12}\s*[\]］]")


@dataclass(frozen=True)
class ThreadRef:
    ticket_id: int
    message_id: int


def _signature(secret: str, ticket_id: int, message_id: int) -> str:
    digest = hmac.new(secret.encode(), f"{ticket_id}.{message_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def make_message_id(secret: str, domain: str, ticket_id: int, message_id: int) -> str:
    """The Message-ID of our outgoing mail ``message_id`` on ticket ``ticket_id``."""
    return f"<t{ticket_id}.m{message_id}.{_signature(secret, ticket_id, message_id)}@{domain}>"


def read_message_id(secret: str, value: str | None) -> ThreadRef | None:
    """The ticket an ID of ours names, if its signature checks; None for anybody else's ID."""
    if not value:
        return None
    match = _ID.search(value)
    if match is None:
        return None
    ticket_id, message_id, signature = int(match.group(1)), int(match.group(2)), match.group(3).lower()
    if not hmac.compare_digest(signature, _signature(secret, ticket_id, message_id)):
        return None
    return ThreadRef(ticket_id, message_id)


def first_thread(secret: str, in_reply_to: str | None, references: list[str]) -> ThreadRef | None:
    """In-Reply-To first, then References from the newest back (RFC 5322 order is oldest first)."""
    for candidate in [in_reply_to, *reversed(references)]:
        ref = read_message_id(secret, candidate)
        if ref is not None:
            return ref
    return None


def subject_tag(subject: str) -> int | None:
    """The N of a ``[#N]`` tag, full-width ``［＃N］`` included."""
    match = _TAG.search(unicodedata.normalize("NFKC", subject or ""))
    return int(match.group(1)) if match else None


def untagged(subject: str) -> str:
    """``subject`` without any ``[#N]`` tag (full-width ones included), whitespace tidied."""
    return " ".join(_ANY_TAG.sub("", subject or "").split())


def tagged_subject(ticket_id: int, subject: str) -> str:
    """``subject`` with exactly one ``[#N]`` tag in front, replies' 回复:/Re: kept."""
    return f"[#{ticket_id}] {untagged(subject)}".strip()
