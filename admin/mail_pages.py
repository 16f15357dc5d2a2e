"""What the mail pages of the admin panel show: the mailboxes' reading progress, every
mail that did not simply become a ticket (dropped, bounced, parked, failed, released)
with its reason, one mail's evidence, a ticket's files, and the hospitals' mail domains.

Reads of the request's session turned into rows for the templates, and the parsing of
what people type (Chinese messages, :class:`FormError`); the routes and every write's
audit entry live in :mod:`admin.web`. Times are shown in Beijing time: a mail belongs
to no hospital until a ticket is made from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, col, select

from admin.sla_pages import CHINA_TZ, FormError, local_time
from intake.email import parse_mail, store
from intake.email.store import MailAttachment, MailItem
from tickets.models import Hospital, Ticket

ONLY_ADMINS = "只有管理员可以查看和处理收到的邮件。"
ONLY_ADMINS_DOMAINS = "只有管理员可以修改医院的邮箱域名。"
# The list's default: every mail that did not simply become a ticket, so nothing dropped is out of sight.
NOT_ACCEPTED = [store.DROPPED, store.BOUNCE, store.PARKED, store.ERROR, store.RELEASED]
RELEASABLE = (store.PARKED, store.DROPPED, store.ERROR)
ALL = "all"
LIST_LIMIT = 200
SKEW_LIMIT_S = store.SKEW_LIMIT.total_seconds()
NOISE_ZH = {"ok": "正常来信", "auto_reply": "自动回复", "bulk": "群发邮件", "list": "邮件列表", "bounce": "退信",
            "loop": "本系统发出的邮件（防回环）"}
TS_SOURCE_ZH = {"internaldate": "邮件服务器收信时间（INTERNALDATE）", "received": "本方邮件服务器 Received 头",
                "fetched": "收取时间（服务器未提供收信时间）"}
REFUSED_ZH = {"too_large": "超过大小上限，未保存"}
# Shown inline by the browser; anything else (SVG, HTML, PDF…) is only offered as a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_DOMAINS = 20


def status_text(status: str) -> str:
    return store.STATUS_ZH.get(status, status)


def size_text(size: int) -> str:
    """Bytes as people read them: 512 B, 12.3 KB, 20.0 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def parse_status(text: str) -> list[str] | None:
    """``?status=`` → the statuses to list (None: all); empty means "everything not accepted"."""
    text = text.strip()
    if not text:
        return NOT_ACCEPTED
    if text == ALL:
        return None
    if text in store.STATUS_ZH:
        return [text]
    raise FormError(f"没有「{text[:20]}」这种邮件状态：请从上方的状态中选择。")


# -- the list ------------------------------------------------------------------------------------

@dataclass
class MailboxRow:
    name: str
    uidvalidity: str
    last_uid: int
    last_poll: str
    last_ok: str
    last_error: str
    rescans: int


@dataclass
class CountRow:
    status: str
    text: str
    count: int


@dataclass
class ItemRow:
    id: int
    sender: str
    subject: str
    received: str
    status: str
    status_text: str
    reason: str
    ticket_id: int | None


@dataclass
class DomainRow:
    id: int
    key: str
    name: str
    domains: str  # as the form shows them: comma separated


@dataclass
class MailPage:
    mailboxes: list[MailboxRow]
    counts: list[CountRow]
    rows: list[ItemRow]
    hospitals: list[DomainRow]


def mailbox_rows(session: Session) -> list[MailboxRow]:
    return [MailboxRow(name=b.name, uidvalidity=str(b.uidvalidity) if b.uidvalidity is not None else "—",
                       last_uid=b.last_uid, last_poll=local_time(b.last_poll_at, CHINA_TZ) or "从未",
                       last_ok=local_time(b.last_ok_at, CHINA_TZ) or "从未", last_error=b.last_error,
                       rescans=b.rescans)
            for b in store.mailboxes(session)]


def count_rows(session: Session) -> list[CountRow]:
    """Every status, zeros included, so an empty "处理出错" is visibly empty rather than missing."""
    counts = store.counts(session)
    return [CountRow(status, text, counts.get(status, 0)) for status, text in store.STATUS_ZH.items()]


def item_row(item: MailItem) -> ItemRow:
    sender = f"{item.from_name} <{item.from_addr}>" if item.from_name else item.from_addr
    return ItemRow(id=item.id or 0, sender=sender or "（无发件人）", subject=item.subject or "（无主题）",
                   received=local_time(item.channel_ts, CHINA_TZ), status=item.status,
                   status_text=status_text(item.status), reason=item.reason_zh or item.reason or "—",
                   ticket_id=item.ticket_id)


def domain_rows(session: Session) -> list[DomainRow]:
    return [DomainRow(h.id or 0, h.key, h.name, ", ".join(h.mail_domains))
            for h in session.exec(select(Hospital).order_by(col(Hospital.id)))]


def mail_page(session: Session, statuses: list[str] | None) -> MailPage:
    return MailPage(mailboxes=mailbox_rows(session), counts=count_rows(session),
                    rows=[item_row(i) for i in store.items(session, statuses, LIST_LIMIT)],
                    hospitals=domain_rows(session))


# -- one mail ------------------------------------------------------------------------------------

@dataclass
class AttachmentRow:
    id: int
    filename: str
    content_type: str
    size: str
    refused: str  # Chinese, empty when the file was kept
    is_image: bool  # kept and an image: shown as a thumbnail


def attachment_rows(rows: list[MailAttachment]) -> list[AttachmentRow]:
    """Rows read with ``data`` deferred: "kept" is told by ``refused``, not by loading the bytes."""
    return [AttachmentRow(id=a.id or 0, filename=a.filename, content_type=a.content_type, size=size_text(a.size),
                          refused=REFUSED_ZH.get(a.refused, a.refused) if a.refused else "",
                          is_image=not a.refused and a.content_type.startswith("image/"))
            for a in rows]


def skew_minutes(seconds: int | None) -> int | None:
    """The Date: header's distance from the receipt, in whole minutes (None: no Date: header)."""
    return None if seconds is None else round(abs(seconds) / 60)


@dataclass
class ItemView:
    item: MailItem
    status_text: str
    noise_text: str
    reason: str
    sender: str
    to: str
    cc: str
    received: str
    received_source: str
    internaldate: str
    date_header: str
    fetched: str
    handled: str
    skew_minutes: int | None
    skew_warn: bool
    text: str
    full_text: str
    size: str
    attachments: list[AttachmentRow]
    releasable: bool


def item_view(session: Session, item: MailItem) -> ItemView:
    """One mail with its evidence; the text is decoded from the stored raw bytes (parse never raises)."""
    mail = parse_mail(item.raw)
    files = session.exec(select(MailAttachment).where(MailAttachment.mail_item_id == item.id)
                         .order_by(col(MailAttachment.id))).all()
    handled = f"{item.handled_by}，{local_time(item.handled_at, CHINA_TZ)}" if item.handled_by else ""
    return ItemView(
        item=item, status_text=status_text(item.status), noise_text=NOISE_ZH.get(item.noise, item.noise),
        reason=item.reason_zh or item.reason or "—", sender=item_row(item).sender,
        to="、".join(mail.to) or "—", cc="、".join(mail.cc) or "—",
        received=local_time(item.channel_ts, CHINA_TZ),
        received_source=TS_SOURCE_ZH.get(item.channel_ts_source, item.channel_ts_source),
        internaldate=local_time(item.internaldate, CHINA_TZ) or "—",
        date_header=local_time(item.date_header, CHINA_TZ) or "（无）", fetched=local_time(item.fetched_at, CHINA_TZ),
        handled=handled, skew_minutes=skew_minutes(item.skew_seconds),
        skew_warn=item.skew_seconds is not None and abs(item.skew_seconds) > SKEW_LIMIT_S,
        text=mail.text, full_text=mail.full_text, size=size_text(item.size), attachments=attachment_rows(list(files)),
        releasable=item.status in RELEASABLE,
    )


# -- a ticket's mail -----------------------------------------------------------------------------

@dataclass
class TicketMail:
    unverified: bool
    follows: int | None
    attachments: list[AttachmentRow]


def ticket_mail(session: Session, ticket: Ticket) -> TicketMail:
    return TicketMail(unverified=ticket.sender_unverified, follows=ticket.follows_ticket_id,
                      attachments=attachment_rows(store.attachments_of_ticket(session, ticket.id or 0)))


def skew_note(meta: dict[str, Any] | None) -> str:
    """The warning next to a mail whose Date: is far from the receipt: the receipt is what the clocks use."""
    seconds = (meta or {}).get("skew_seconds")
    if not isinstance(seconds, int) or abs(seconds) <= SKEW_LIMIT_S:
        return ""
    return f"邮件 Date 与服务器收信时间相差 {skew_minutes(seconds)} 分钟（以服务器收信时间计时）"


# -- serving a file ------------------------------------------------------------------------------

def may_see(ticket: Ticket | None, scope: int | None, is_admin: bool) -> bool:
    """The ticket page's rule: a hospital account sees its own hospital's tickets; a file on no
    ticket (a held mail's) only admins, who see the held mail itself."""
    if ticket is None:
        return is_admin
    return scope is None or ticket.hospital_id == scope


def media_type(attachment: MailAttachment) -> str:
    """The type the sender declared, if it is a well-formed one; else a download of unknown bytes."""
    declared = attachment.content_type.split(";")[0].strip().lower()
    return declared if _MEDIA_TYPE.match(declared) else "application/octet-stream"


def download_headers(filename: str, *, inline: bool) -> dict[str, str]:
    """Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266), and no sniffing:
    the bytes came from a stranger's mail and must never run as a page of ours."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "file"
    kind = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:200])}",
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}


# -- hospitals' mail domains -----------------------------------------------------------------------

def parse_domains(text: str) -> list[str]:
    """Comma, 、 or space separated domains, lower-cased, duplicates dropped; FormError (Chinese) on a bad one."""
    domains: list[str] = []
    for part in re.split(r"[\s,，、;；]+", text.strip().lower()):
        domain = part.strip().strip(".").removeprefix("@")
        if not domain or domain in domains:
            continue
        if not _DOMAIN.match(domain):
            raise FormError(f"邮箱域名格式不对：「{part[:60]}」，请填写如 rmyy.example.cn 的域名（不含 @ 前的部分）。")
        domains.append(domain)
    if len(domains) > MAX_DOMAINS:
        raise FormError(f"邮箱域名太多：每家医院最多 {MAX_DOMAINS} 个。")
    return domains


def domain_clash(session: Session, hospital: Hospital, domains: list[str]) -> None:
    """A domain (or its parent or sub-domain) of another hospital would make a sender's hospital ambiguous."""
    for other in session.exec(select(Hospital).where(Hospital.id != hospital.id)):
        for theirs in other.mail_domains:
            theirs = theirs.lower()
            for mine in domains:
                if mine == theirs or mine.endswith("." + theirs) or theirs.endswith("." + mine):
                    raise FormError(f"邮箱域名「{mine}」与{other.name}的「{theirs}」重叠：同一发件人只能属于一家医院。")
