"""The email channel's pure core: raw mail bytes in, a decoded :class:`ParsedMail` out,
and a :class:`Noise` verdict on whether a person wrote it.

Sending (`send`) speaks SMTP; everything else is pure. IMAP intake and the outbox's
email channel build on these; nothing here touches the database.
"""

from intake.email.ids import (
    ThreadRef,
    first_thread,
    make_message_id,
    read_message_id,
    subject_tag,
    tagged_subject,
    untagged,
)
from intake.email.noise import Noise, OwnMail, classify
from intake.email.parse import Attachment, ParsedMail, parse_mail
from intake.email.send import SendFailed, SmtpConfig, compose, reply_subject, send, thread_subject

__all__ = [
    "Attachment", "Noise", "OwnMail", "ParsedMail", "SendFailed", "SmtpConfig", "ThreadRef", "classify", "compose",
    "first_thread", "make_message_id", "parse_mail", "read_message_id", "reply_subject", "send", "subject_tag",
    "tagged_subject", "thread_subject", "untagged",
]
