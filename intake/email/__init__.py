"""The email channel's pure core: raw mail bytes in, a decoded :class:`ParsedMail` out,
and a :class:`Noise` verdict on whether a person wrote it.

IMAP intake, threading and sending build on these; nothing here touches the network
or the database.
"""

from intake.email.ids import (
    ThreadRef,
    first_thread,
    make_message_id,
    read_message_id,
    subject_tag,
    tagged_subject,
)
from intake.email.noise import Noise, OwnMail, classify
from intake.email.parse import Attachment, ParsedMail, parse_mail

__all__ = [
    "Attachment", "Noise", "OwnMail", "ParsedMail", "ThreadRef", "classify", "first_thread", "make_message_id",
    "parse_mail", "read_message_id", "subject_tag", "tagged_subject",
]
