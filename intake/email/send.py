"""Outgoing mail: one threaded reply to a reporter, composed here and handed to an SMTP server.

Two halves, kept apart so the outbox can store what it sends and retry it unchanged:

* :func:`compose` builds the message. It is deterministic for a given outbox row
  (ticket, outgoing message number, date): a retry re-sends the *same* Message-ID, so a
  duplicate that slips through after an uncertain attempt is one the reporter's client
  can fold away, and a reply to either copy threads to the same ticket.
* :func:`send` delivers it with aiosmtplib and classifies every failure the way the
  outbox needs (``admin.runtime.DeliveryFailed``): *permanent* when the server said
  5xx, *uncertain* when the connection died after the message text may already have
  been handed over (a blind resend could then deliver it twice).

Loop protection (``shared/reference/email-and-calendar.md`` A4): mail the bot writes
carries ``Auto-Submitted: auto-replied`` (answers) or ``auto-generated`` (notifications)
so well-behaved auto-responders stay quiet; a person's reply carries none, because it is
a human message the reporter may answer like any other. Every message asks Exchange not
to send out-of-office replies (``X-Auto-Response-Suppress: All``).
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from intake.email.ids import make_message_id, tagged_subject
from intake.email.parse import normalise_message_id

__all__ = [
    "Author", "MAX_REFERENCES", "SendFailed", "SmtpConfig", "TlsMode", "compose", "envelope_recipients",
    "reply_subject", "send", "thread_subject",
]

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "ssl"]
Author = Literal["person", "bot", "notification"]

# RFC 5322 lets References grow with every round; long threads then carry kilobytes of ids
# and some servers refuse over-long headers. The root (first id) and the newest ones are
# what threading needs (ours reads In-Reply-To and the right-most References first).
MAX_REFERENCES = 20

_AUTO_SUBMITTED: dict[str, str | None] = {"person": None, "bot": "auto-replied", "notification": "auto-generated"}
_DEFAULT_PORT: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
# How Chinese and Western clients mark a reply; a subject that has one is not prefixed again.
_REPLY_PREFIXES = ("回复:", "回复：", "答复:", "答复：", "回覆:", "回覆：", "re:", "aw:", "re：")


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """Where and how to submit mail (``HELPDESK_SMTP_*`` and ``HELPDESK_MAIL_FROM``).

    ``mail_from`` is a full address with display name, e.g. ``维保服务台 <helpdesk@vendor.example.cn>``;
    its address is also the envelope sender, so bounces come back to the helpdesk mailbox
    where intake attaches them to the ticket whose mail bounced. ``domain`` is the right-hand
    side of our Message-IDs (default: the domain of ``mail_from``). ``port`` defaults to the
    usual port of the TLS mode. ``ssl_context`` replaces the system trust store (tests pass
    the fake server's CA). The password is kept out of ``repr`` so a logged config leaks nothing.
    """

    host: str
    port: int | None = None
    tls: TlsMode = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    mail_from: str
    domain: str = ""
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tls not in _DEFAULT_PORT:
            raise ValueError(f"tls must be none, starttls or ssl, not {self.tls!r}")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        _ = self.from_address  # validates mail_from now, not at the first send

    @property
    def smtp_port(self) -> int:
        return self.port or _DEFAULT_PORT[self.tls]

    @property
    def from_address(self) -> Address:
        name, addr = email.utils.parseaddr(self.mail_from)
        if "@" not in addr:
            raise ValueError(f"mail_from needs an address like 'Name <helpdesk@example.cn>': {self.mail_from!r}")
        return _address(name, addr)

    @property
    def message_id_domain(self) -> str:
        return self.domain or self.from_address.domain


class SendFailed(Exception):
    """A delivery attempt failed; mirrors ``admin.runtime.DeliveryFailed`` field for field.

    ``permanent``: the server refused with 5xx; retrying the same mail will not help
    (an operator can requeue after fixing, e.g., the credentials). ``uncertain``: the
    connection broke while the message text was being handed over or its final reply
    awaited, so it may have been accepted: the outbox must mark the retry as a possible
    duplicate. Kept independent of ``admin`` so the mail code does not import the web app.
    """

    def __init__(self, reason: str, *, permanent: bool = False, uncertain: bool = False,
                 code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.uncertain = uncertain
        self.code = code


# -- composing --------------------------------------------------------------------------------------

def _clean(text: str) -> str:
    """One header-safe line: a CR/LF in a subject or name would otherwise inject headers."""
    return " ".join((text or "").split())


def _address(name: str, addr: str) -> Address:
    addr = addr.strip()
    if not addr.isascii():
        # Internationalised local parts need SMTPUTF8 end to end; hospital mail servers seldom have it.
        raise ValueError(f"non-ASCII mail address not supported: {addr!r}")
    return Address(display_name=_clean(name), addr_spec=addr)


def _recipient(value: str | tuple[str, str]) -> Address:
    name, addr = value if isinstance(value, tuple) else email.utils.parseaddr(value)
    if "@" not in addr:
        raise ValueError(f"not a mail address: {value!r}")
    return _address(name, addr)


def thread_subject(ticket_id: int, summary: str) -> str:
    """Subject for a thread we start (no reporter mail to answer): ``工单 #N：<summary>``."""
    return f"工单 #{ticket_id}：{_clean(summary)}"


def reply_subject(subject: str) -> str:
    """``回复：<subject>`` unless the subject already says it is a reply (after any ``[#N]`` tag)."""
    clean = _clean(subject)
    bare = clean
    while bare.startswith("[") and "]" in bare:  # tags such as [#12] or [外部邮件] in front
        bare = bare.split("]", 1)[1].lstrip()
    if bare.lower().startswith(_REPLY_PREFIXES):
        return clean
    return f"回复：{clean}"


def _references(in_reply_to: str | None, references: Sequence[str]) -> tuple[str | None, list[str]]:
    """Normalised ids, deduplicated, the parent last, capped to the root plus the newest ones."""
    parent = normalise_message_id(in_reply_to)
    chain = [i for i in (normalise_message_id(r) for r in references) if i]
    if parent:
        chain.append(parent)
    chain = list(dict.fromkeys(reversed(chain)))[::-1]  # keep each id's last position
    if parent and chain[-1] != parent:
        chain.remove(parent)
        chain.append(parent)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return parent, chain


def _html(text: str) -> str:
    """A minimal HTML rendering of the text: escaped (the body may hold ``<``/``&`` from users),
    line breaks kept, no remote content (clients that block images show it unchanged)."""
    lines = "<br>\n".join(html.escape(line) for line in text.splitlines())
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"></head>\n'
        '<body><div style="font-family: sans-serif; white-space: normal;">\n'
        f"{lines}\n</div></body></html>\n"
    )


def compose(
    config: SmtpConfig,
    *,
    secret: str,
    ticket_id: int,
    message_id: int,
    to: Sequence[str | tuple[str, str]],
    subject: str,
    text: str,
    author: Author,
    cc: Sequence[str | tuple[str, str]] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    date: datetime | None = None,
) -> EmailMessage:
    """One mail on ticket ``ticket_id``: outgoing message ``message_id`` (the outbox row's number).

    ``to``/``cc``: ``"王护士 <nurse@hosp.cn>"`` or ``(name, address)``. ``subject`` is used as
    given (after the ``[#N]`` tag, which :func:`tagged_subject` puts in front exactly once); use
    :func:`reply_subject` for an answer to the reporter's mail and :func:`thread_subject` for a
    new thread. ``in_reply_to``: the reporter's last Message-ID; ``references``: that mail's own
    References, oldest first. ``author``: ``"person"`` (an engineer's words: no Auto-Submitted),
    ``"bot"`` (an automatic answer: ``auto-replied``), ``"notification"`` (``auto-generated``).
    ``date`` must be timezone-aware; pass the row's creation time so a retry is byte-identical.
    """
    if author not in _AUTO_SUBMITTED:
        raise ValueError(f"author must be person, bot or notification, not {author!r}")
    if date is None:
        date = datetime.now(UTC)
    elif date.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    recipients = [_recipient(r) for r in to]
    if not recipients:
        raise ValueError("a mail needs at least one To recipient")

    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = config.from_address
    msg["To"] = recipients
    if cc:
        msg["Cc"] = [_recipient(r) for r in cc]
    msg["Subject"] = tagged_subject(ticket_id, _clean(subject))
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = make_message_id(secret, config.message_id_domain, ticket_id, message_id)
    parent, chain = _references(in_reply_to, references)
    if parent:
        msg["In-Reply-To"] = parent
    if chain:
        msg["References"] = " ".join(chain)
    auto = _AUTO_SUBMITTED[author]
    if auto:
        msg["Auto-Submitted"] = auto
    msg["X-Auto-Response-Suppress"] = "All"
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    # base64, not Python's default 8bit: 8-bit bodies need 8BITMIME on every hop, and some
    # hospital relays still mangle them; Chinese text in quoted-printable is three times longer.
    msg.set_content(body, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(_html(body), subtype="html", charset="utf-8", cte="base64")
    msg["Content-Language"] = "zh-CN"  # after the body: set_content() drops every Content-* header
    return msg


def envelope_recipients(message: EmailMessage) -> list[str]:
    """The addresses of To, Cc and Bcc, in order, without duplicates."""
    found = email.utils.getaddresses([str(v) for h in ("To", "Cc", "Bcc") for v in message.get_all(h, [])])
    return list(dict.fromkeys(addr for _name, addr in found if "@" in addr))


# -- sending ----------------------------------------------------------------------------------------

def _refused(exc: aiosmtplib.SMTPResponseException, what: str) -> SendFailed:
    """A definite answer from the server: 5xx is final, anything else may pass later."""
    code = int(exc.code)
    return SendFailed(f"{what}: {code} {exc.message}", permanent=500 <= code < 600, code=code)


async def send(config: SmtpConfig, message: EmailMessage, recipients: Sequence[str] | None = None) -> str:
    """Submit ``message`` to ``recipients`` (default: its To/Cc/Bcc); returns the server's final reply.

    The SMTP steps are driven one by one (not ``sendmail``) because where a failure
    happens decides what the outbox may do next: before DATA nothing was accepted and a
    retry is clean; during DATA the text may already be queued (``uncertain``). A 4xx on
    any recipient aborts the whole transaction, so a retry never doubles mail for those
    that were accepted; recipients refused with 5xx while others were accepted are logged
    and skipped (the mail still reaches the rest). Bcc is removed from the transmitted text.
    """
    rcpts = list(dict.fromkeys(recipients if recipients is not None else envelope_recipients(message)))
    if not rcpts:
        raise SendFailed("no recipients", permanent=True)
    if bad := [r for r in rcpts if not r.isascii() or "@" not in r]:
        raise SendFailed(f"unusable recipient address(es): {bad}", permanent=True)
    sender = config.from_address.addr_spec
    outgoing = message
    if "Bcc" in message:
        outgoing = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)  # type: ignore[assignment]
        del outgoing["Bcc"]
    try:
        data = outgoing.as_bytes(policy=email.policy.SMTP)
    except (ValueError, TypeError, UnicodeError) as exc:  # a header Python cannot serialise: never will
        raise SendFailed(f"message cannot be serialised: {exc}", permanent=True) from exc

    client = aiosmtplib.SMTP(
        hostname=config.host, port=config.smtp_port, timeout=config.timeout,
        use_tls=config.tls == "ssl", start_tls=config.tls == "starttls", tls_context=config.ssl_context,
    )
    where = f"{config.host}:{config.smtp_port} ({config.tls})"
    phase = "connect"
    try:
        await client.connect()
        if config.user:
            phase = "login"
            await client.login(config.user, config.password or "")
        phase = "MAIL FROM"
        options = [f"SIZE={len(data)}"] if client.supports_extension("size") else []
        await client.mail(sender, options=options)
        phase = "RCPT TO"
        accepted: list[str] = []
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for rcpt in rcpts:
            try:
                await client.rcpt(rcpt)
                accepted.append(rcpt)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
        transient = [e for e in refused if not 500 <= e.code < 600]
        if transient or not accepted:
            detail = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in refused)
            raise SendFailed(f"recipients refused by {where}: {detail}",
                             permanent=not transient, code=(transient or refused)[0].code)
        for exc in refused:
            log.warning("mail %s: %s refused permanently by %s: %s %s", message["Message-ID"], exc.recipient,
                        where, exc.code, exc.message)
        phase = "DATA"
        response = await client.data(data)
    except SendFailed:
        client.close()
        raise
    except aiosmtplib.SMTPResponseException as exc:  # the server answered, so nothing is in doubt
        client.close()
        raise _refused(exc, f"{phase} refused by {where}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:  # timeouts, drops, refused connections, TLS
        client.close()
        uncertain = phase == "DATA"
        state = "outcome unknown" if uncertain else "not sent"
        raise SendFailed(f"{phase} to {where} failed, {state}: {exc!r}", uncertain=uncertain) from exc
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):  # the mail is accepted; a rude goodbye changes nothing
        client.close()
    reply = f"{response.code} {response.message}"
    log.info("mail %s to %s accepted by %s: %s", message["Message-ID"], ", ".join(accepted), where, reply)
    return reply
