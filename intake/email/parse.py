"""Read one raw mail (the bytes IMAP hands us) into a :class:`ParsedMail`.

Pure: no network, no database, no clock. Everything a ticket needs is decoded
here once, the way Chinese hospital mail actually arrives (see
``shared/reference/email-and-calendar.md`` A2-A5):

* charset labels lie: ``gb2312`` and friends are decoded as GB18030, or GBK-only
  characters such as 堃 garble the rest of the line;
* headers are decoded by our own encoded-word reader, because the stdlib turns
  8-bit headers into U+FFFD and decodes ``=?gb2312?`` words with the narrow codec;
* the quoted earlier conversation is cut by our own splitter (Foxmail/QQ, 网易,
  Outlook in Chinese and English, ``>`` quoting), so a ticket shows what the person
  wrote rather than the whole thread again;
* a malformed message never raises: what could not be read is recorded in
  ``defects`` and the rest is still returned.

The stdlib parser runs with the ``compat32`` policy, which keeps header values
raw (encoded words and 8-bit bytes intact) for us to decode.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.message
import email.policy
import mimetypes
import quopri
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import TypeVar

from intake.email.ids import subject_tag

__all__ = [
    "Attachment",
    "ParsedMail",
    "decode_bytes",
    "decode_header_value",
    "html_to_text",
    "normalise_message_id",
    "parse_mail",
    "python_charset",
    "strip_quoted",
    "ticket_number_in_subject",
]

# Labels that all mean "GBK" in practice (the WHATWG Encoding Standard maps every one
# of them to the GBK decoder, which is the gb18030 decoder). ``x-gbk`` is not even a
# Python codec name; ``gb2312`` is, but the narrow one, which loses sync on 堃 or 镕.
_GB_LABELS = frozenset(
    {
        "gb2312",
        "gbk",
        "cp936",
        "x-gbk",
        "euc-cn",
        "x-euc-cn",
        "csgb2312",
        "gb_2312-80",
        "gb_2312",
        "chinese",
        "csgbk",
        "ms936",
        "windows-936",
        "iso-ir-58",
        "gb18030",
    }
)
# Big5 as sent by Hong Kong and Taiwan clients includes HKSCS characters.
_CHARSET_ALIASES = {"big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs", "utf8": "utf-8"}

# A line of its own that marks where quoted history starts in HTML-derived text. It is
# a private-use character, so it cannot come from the mail itself in practice.
QUOTE_MARK = "\ue000"

_WS = re.compile(r"[ \t\r\n\f\v]+")


@dataclass(frozen=True)
class Attachment:
    """One attached (or inline) part, decoded.

    ``data`` holds the decoded payload; ``size`` is its length in bytes (what a size
    limit is checked against). ``content_id`` is set for inline images an HTML body
    refers to as ``cid:``.
    """

    filename: str
    content_type: str
    size: int
    data: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False

    def payload(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class ParsedMail:
    """What one raw mail says, decoded. Sequences are tuples: the whole value is frozen.

    ``date_header`` is the sender's claim (their PC clock); ``received_at_header`` is
    the time in the *top* ``Received:`` header, i.e. stamped by our own mail server:
    the receipt evidence when IMAP INTERNALDATE is unusable. Both are aware datetimes.

    ``text`` is what the person wrote (quoted history cut); ``full_text`` is the whole
    body as text; ``html`` the original HTML body when there was one (kept for audit).
    """

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    date_header: datetime | None
    received_at_header: datetime | None
    text: str
    full_text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    raw_size: int
    content_type: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    defects: tuple[str, ...] = ()

    @property
    def subject_ticket_number(self) -> int | None:
        return ticket_number_in_subject(self.subject)

    def header(self, name: str) -> str | None:
        """The first top-level header of that name, decoded (None when absent)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def header_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


# --------------------------------------------------------------------------- charsets


def python_charset(label: str | None) -> str | None:
    """The Python codec to decode a MIME charset label with (None when unusable)."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: gb2312*zh
    if name in _GB_LABELS:
        return "gb18030"
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label
        return None


def decode_bytes(data: bytes, label: str | None, defects: list[str] | None = None, where: str = "") -> str:
    """Decode body or header bytes by their label, tolerating lies and absences.

    No label or an unknown one: UTF-8 if it decodes strictly, else GB18030 (the
    encoding a Chinese client that forgets its label most likely used). A UTF-8
    label whose bytes are not UTF-8 but are valid GB18030 is read as GB18030.
    """
    codec = python_charset(label)
    if label and codec is None and defects is not None:
        defects.append(f"unknown charset {label!r}{where}; guessed")
    if codec == "ascii":
        # "us-ascii" is also the MIME default that 8-bit bodies from old systems inherit.
        codec = None if not data.isascii() else "ascii"
    if codec is None or codec == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return data.decode("utf-8", errors="replace")
        if codec == "utf-8" and defects is not None:
            defects.append(f"labelled utf-8 but is GB18030{where}")
        return text
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if defects is not None:
            defects.append(f"bytes not valid {label}{where}; undecodable bytes replaced")
        return data.decode(codec, errors="replace")


# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _b64_lenient(text: str | bytes) -> tuple[bytes, bool]:
    """Decode base64, dropping junk characters and a dangling partial group.

    Returns the bytes and whether anything had to be repaired.
    """
    data = text.encode("ascii", "ignore") if isinstance(text, str) else text
    compact = data.translate(None, b" \t\r\n")
    try:
        return base64.b64decode(compact, validate=True), False
    except (binascii.Error, ValueError):
        pass
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", compact)
    clean = clean[: len(clean) - (len(clean) % 4 == 1)]
    clean += b"=" * (-len(clean) % 4)
    try:
        return base64.b64decode(clean), True
    except (binascii.Error, ValueError):
        return b"", True


def _q_decode(text: str) -> bytes:
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "ignore"), header=False)


def decode_header_value(value: str, defects: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words in an (already unfolded) header value.

    Adjacent encoded words of one charset are joined as *bytes* before decoding, so a
    Chinese character split across two ``=?GB2312?B?…?=`` words survives; whitespace
    between encoded words is dropped as the RFC says, text between them kept.
    """
    out: list[str] = []
    pending: tuple[str, bytearray] | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_bytes(bytes(pending[1]), pending[0], defects, " in a header"))
            pending = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if not (pending is not None and gap.strip() == ""):
            flush()
            out.append(gap)
        charset, kind, payload = (
            match.group(1).lower().split("*", 1)[0],
            match.group(2).lower(),
            match.group(3),
        )
        if kind == "b":
            chunk, repaired = _b64_lenient(payload)
            if repaired and defects is not None:
                defects.append("bad base64 in an encoded word")
        else:
            chunk = _q_decode(payload)
        if pending is not None and pending[0] == charset:
            pending[1].extend(chunk)
        else:
            flush()
            pending = (charset, bytearray(chunk))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _unfold(value: str) -> str:
    # A fold's tab is never meaningful in a subject or a name: one space instead.
    return re.sub(r"\r?\n[ \t]", " ", value).replace("\r", "").replace("\n", " ")


def _raw_header_text(value: object, defects: list[str]) -> str:
    """A header value as the parser stored it, with 8-bit bytes decoded.

    The bytes parser keeps non-ASCII header bytes as surrogate escapes; they are UTF-8
    when that decodes strictly, otherwise GB18030 (raw GBK headers from old clients).
    """
    text = str(value)
    try:
        data = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return _unfold(text)
    if data.isascii():
        return _unfold(text)
    return _unfold(decode_bytes(data, None, defects, " in an 8-bit header"))


def _headers(part: email.message.Message, defects: list[str]) -> list[tuple[str, str]]:
    """Every header of ``part`` in order: 8-bit bytes decoded, encoded words still encoded."""
    return [(str(name), _raw_header_text(value, defects)) for name, value in part.raw_items()]


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)


def _all(headers: list[tuple[str, str]], name: str) -> list[str]:
    lowered = name.lower()
    return [value for key, value in headers if key.lower() == lowered]


_MSG_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")


def normalise_message_id(value: str | None) -> str | None:
    """``<local@domain>`` with folding whitespace removed; None when nothing id-like is there.

    Tolerates ids without angle brackets (some webmail omits them) and trailing comments
    such as ``<id> (张三's message of …)``.
    """
    if not value:
        return None
    found = _MSG_ID.search(value)
    if found:
        return f"<{found.group(1)}>"
    token = value.strip().split()[0] if value.strip() else ""
    token = token.strip("<>,;\"'")
    return f"<{token}>" if token and "@" in token else None


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = [f"<{m.group(1)}>" for m in _MSG_ID.finditer(value)]
    if not found:
        found = [f"<{t.strip('<>')}>" for t in re.split(r"[\s,;]+", value) if "@" in t]
    return tuple(dict.fromkeys(found))


def _addresses(value: str | None, defects: list[str]) -> list[tuple[str, str]]:
    """(name, lower-case address) pairs. Addresses are split while names are still
    encoded, so a decoded name containing a comma cannot split an address in two."""
    if not value:
        return []
    result = []
    for name, addr in getaddresses([value]):
        addr = addr.strip().lower()
        if not addr:
            continue
        result.append((decode_header_value(name, defects).strip().strip('"').strip(), addr))
    return result


def _date(value: str | None, what: str, defects: list[str]) -> datetime | None:
    if not value or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"unreadable {what}: {value.strip()[:80]!r}")
        return None
    if parsed.tzinfo is None:
        # "-0000" or no zone at all: RFC 5322 says UTC with the local zone unknown.
        defects.append(f"{what} without a time zone, read as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _top_received(headers: list[tuple[str, str]], defects: list[str]) -> datetime | None:
    """The date of the topmost ``Received:`` header: the one our own server added last.
    Lower ones were written by relays we do not control and prove nothing."""
    top = _first(headers, "Received")
    if top is None:
        return None
    if ";" not in top:
        defects.append("top Received header has no date")
        return None
    return _date(top.rsplit(";", 1)[1], "top Received date", defects)




def ticket_number_in_subject(subject: str) -> int | None:
    """The N of the first ``[#N]`` tag, also written full-width (``［＃１２］``) or with spaces.

    Only a hint: threading accepts it from a known participant of that ticket alone.
    """
    return subject_tag(subject)


# --------------------------------------------------------------------------- HTML to text

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "blockquote",
        "hr",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "dd",
        "dt",
        "dl",
        "address",
        "center",
        "form",
        "body",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "xml", "template", "noscript", "object"})
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"})
# Containers mail clients wrap the quoted earlier message in (ids are case-insensitive
# here); after ProtonMail's messageBlockquote.ts selector list and the reference notes.
_QUOTE_IDS = frozenset(
    {
        "isreplycontent",
        "isforwardcontent",
        "reply139content",
        "replysplit",
        "origbody",
        "orimsghtmlseperator",
        "divrplyfwdmsg",
        "appendonsend",
        "mail-editor-reference-message-container",
        "ydpquoted",
    }
)
_QUOTE_CLASSES = frozenset(
    {"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote", "tutanota_quote"}
)


class _TextExtractor(HTMLParser):
    """Readable text from mail HTML: blocks become lines, scripts and styles vanish,
    and the start of a recognised quote container becomes a :data:`QUOTE_MARK` line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.line_start = True

    def _line_break(self, hard: bool = False) -> None:
        # Block edges only end a line that has text; <br> always does (blank lines stay).
        if hard or not self.line_start:
            self.parts.append("\n")
            self.line_start = True

    def _emit(self, text: str) -> None:
        if self.line_start:
            text = text.lstrip(" ")
        if text:
            self.parts.append(text)
            self.line_start = text.endswith("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag == "body":
            self.skip_depth = 0  # a <head> never closed must not hide the body
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        attr = {k.lower(): (v or "") for k, v in attrs}
        if self._is_quote(tag, attr):
            self._line_break()
            self._emit(f"{QUOTE_MARK}\n")
        if tag == "pre":
            self.pre_depth += 1
        if tag == "br":
            self._line_break(hard=True)
        elif tag in _BLOCK_TAGS:
            self._line_break()
        elif tag in ("td", "th") and not self.line_start:
            self._emit(" ")
        elif tag == "img" and attr.get("src", "").lower().startswith("cid:"):
            self._emit("[图片]")  # a pasted screenshot: "如下图：[图片]" still reads right

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag in _BLOCK_TAGS and tag != "br":
            self._line_break()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        # Non-breaking spaces stay until the end: a paragraph of just "&nbsp;" is Outlook's
        # blank line, and must not vanish as whitespace does.
        if not self.pre_depth:
            data = _WS.sub(" ", data)
        self._emit(data)

    @staticmethod
    def _is_quote(tag: str, attr: dict[str, str]) -> bool:
        if attr.get("id", "").lower() in _QUOTE_IDS:
            return True
        if _QUOTE_CLASSES & set(attr.get("class", "").lower().split()):
            return True
        return tag == "blockquote" and attr.get("type", "").lower() == "cite"


def html_to_text(html: str) -> str:
    """Readable text of an HTML body, with :data:`QUOTE_MARK` lines where quotes start."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # html.parser is lenient; this is belt and braces for odd input
        text = re.sub(r"<[^>]*>", " ", html)
    return _tidy("\n".join(line.strip().replace("\xa0", " ") for line in text.split("\n")))


def _tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines down to one, no blank lines at either end."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip()
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


# --------------------------------------------------------------------------- quoted history

_SEPARATOR = re.compile(r"^-{3,}\s*(原始邮件|邮件原件|原邮件|Original Message)\s*-{3,}$", re.IGNORECASE)
_WROTE = [
    re.compile(
        r"^在\s*.{0,160}?(写道|寫道)\s*[:：]$"
    ),  # 网易: 在 2026-11-20 10:00:00，"张三" <a@b.cn> 写道：
    re.compile(
        r"^.{0,160}于\s*.{0,80}?(写道|寫道)\s*[:：]$"
    ),  # Gmail zh: 张三 <a@b.cn> 于2026年11月20日 10:00写道：
    re.compile(r"^(On|At|Am|Le)\s.{0,240}\s?(wrote|schrieb|a écrit)\s*:$", re.IGNORECASE),
]
_HEADER_FROM = re.compile(r"^\*?\s*(发件人|寄件人|From)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^\*?\s*(发送时间|发送日期|日期|时间|Sent|Date)\s*\*?\s*[:：]", re.IGNORECASE)
_RULE = re.compile(r"^[_\-=—]{8,}$")
_FORWARD = re.compile(r"^\s*(转发|轉寄|转寄|Fwd?|FW)\s*[:：]", re.IGNORECASE)


def _norm_line(line: str) -> str:
    # QQ's text part carries its HTML separator's "&nbsp;" literally.
    return line.replace("&nbsp;", " ").replace("\xa0", " ").replace("\u3000", " ").strip()


def _is_wrote(lines: list[str], i: int) -> bool:
    here = _norm_line(lines[i])
    if not here:
        return False
    if any(p.match(here) for p in _WROTE):
        return True
    # "On … <a@b" / "wrote:" wrapped onto two lines; only for the forms anchored by their first word.
    nxt = _norm_line(lines[i + 1]) if i + 1 < len(lines) else ""
    return bool(nxt) and any(p.match(f"{here} {nxt}") for p in (_WROTE[0], _WROTE[2]))


def _is_header_block(lines: list[str], i: int) -> bool:
    """``发件人:`` / ``From:`` followed within four lines by ``发送时间:`` / ``Sent:`` / ``Date:``:
    the header block Outlook, Foxmail and QQ put above the quoted message."""
    if not _HEADER_FROM.match(_norm_line(lines[i])):
        return False
    return any(_HEADER_SENT.match(_norm_line(line)) for line in lines[i + 1 : i + 5])


def _quoted_follows(lines: list[str], i: int) -> bool:
    nxt = next((line for line in lines[i + 1 :] if _norm_line(line)), "")
    return nxt.lstrip().startswith(">")


def strip_quoted(text: str) -> str:
    """What the sender wrote above the quoted earlier conversation.

    Cuts at the first quote marker: a :data:`QUOTE_MARK` line (from HTML), Foxmail/QQ's
    ``------------------ 原始邮件 ------------------``, ``-----Original Message-----``,
    a ``发件人:``/``From:`` header block, or a ``在 … 写道：`` / ``On … wrote:`` line.
    A "wrote" line followed by ``>`` quoting does not cut (answers may be interleaved);
    ``>`` lines themselves are dropped. Nothing left means the person wrote below the
    quote in a way we cannot tell apart, so the whole text is returned rather than none.
    """
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        norm = _norm_line(line)
        if norm == QUOTE_MARK or _SEPARATOR.match(norm) or _is_header_block(lines, i):
            break
        if _is_wrote(lines, i):
            if _quoted_follows(lines, i):
                continue
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    while kept and (not _norm_line(kept[-1]) or _RULE.match(_norm_line(kept[-1]))):
        kept.pop()
    result = _tidy("\n".join(kept))
    if not result.strip():
        return _without_marks(text)
    return result


def _without_marks(text: str) -> str:
    return _tidy("\n".join(line for line in text.split("\n") if _norm_line(line) != QUOTE_MARK))


# --------------------------------------------------------------------------- MIME walk


@dataclass
class _Leaf:
    part: email.message.Message
    path: str  # "1.2" style position, for defects and generated names
    in_alternative: bool


def _leaves(part: email.message.Message, path: str, in_alt: bool, defects: list[str]) -> Iterator[_Leaf]:
    """Leaf parts in order; ``message/*`` parts are leaves (never descended into, so a
    bounced or forwarded message's body is not mistaken for this mail's body)."""
    ctype = part.get_content_type()
    if ctype.startswith("message/") or not part.is_multipart():
        if ctype.startswith("multipart/"):
            salvaged = _salvage_multipart(part, path, defects)
            if salvaged is not None:
                yield from _leaves(salvaged, path, in_alt, defects)
                return
        yield _Leaf(part, path or "1", in_alt)
        return
    children = part.get_payload()
    if not isinstance(children, list):
        yield _Leaf(part, path or "1", in_alt)
        return
    alt = in_alt or ctype == "multipart/alternative"
    for n, child in enumerate(children, 1):
        if isinstance(child, email.message.Message):
            yield from _leaves(child, f"{path}.{n}" if path else str(n), alt, defects)


def _salvage_multipart(
    part: email.message.Message, path: str, defects: list[str]
) -> email.message.Message | None:
    """A multipart whose declared boundary never occurs: re-read it with the boundary the
    body actually uses (a client that rewrote one but not the other), or as plain text."""
    body = _raw_payload(part)
    if body is None:
        return None
    where = f" (part {path})" if path else ""
    found = re.search(rb"^--([^\s\"]{1,70}?)(--)?[ \t]*\r?$", body, re.MULTILINE)
    if found:
        boundary = found.group(1).decode("ascii", "replace")
        defects.append(
            f"multipart boundary {part.get_boundary()!r} not found{where}; re-read with {boundary!r}"
        )
        data = body
        head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
        reparsed = email.message_from_bytes(head + data, policy=email.policy.compat32)
        if reparsed.is_multipart():
            return reparsed
    defects.append(f"multipart without parts{where}; read as text")
    return email.message_from_bytes(b"Content-Type: text/plain\r\n\r\n" + body, policy=email.policy.compat32)


def _raw_payload(part: email.message.Message) -> bytes | None:
    """The payload exactly as it came off the wire. ``get_payload()`` would already have
    decoded 8-bit bytes with the declared charset (U+FFFD for what does not fit), and the
    stdlib offers no public accessor for the raw form."""
    body = getattr(part, "_payload", None)
    if not isinstance(body, str):
        return None
    try:
        return body.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return body.encode("utf-8", "surrogateescape")


def _param(part: email.message.Message, name: str, header: str, defects: list[str]) -> str | None:
    """A MIME parameter, decoded: RFC 2231 (``filename*=gb2312''…``, continuations), encoded
    words inside quotes (Outlook, Foxmail), raw 8-bit UTF-8 or GBK (webmail)."""
    raw = _first(_headers(part, defects), header)
    if raw is None:
        return None
    probe = email.message.Message()
    probe[header] = raw
    value = probe.get_param(name, header=header)
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _lang, text = value
        data = str(text).encode("latin-1", "replace")
        return decode_bytes(data, charset or None, defects, f" in the {name} parameter")
    return decode_header_value(str(value), defects)


def _payload(part: email.message.Message, where: str, defects: list[str]) -> bytes:
    """Decoded content bytes of a leaf: base64 repaired where a client broke it."""
    if part.get_content_type().startswith("message/") or part.is_multipart():
        try:
            whole = part.as_bytes(policy=email.policy.compat32)
        except Exception as exc:
            defects.append(f"embedded message{where} could not be re-serialised: {exc!r}")
            return b""
        sep = whole.find(b"\n\n")
        return whole[sep + 2 :] if sep >= 0 else b""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "base64":
        body = _raw_payload(part)
        if body is not None:
            data, repaired = _b64_lenient(body)
            if repaired:
                defects.append(f"bad base64{where}; junk skipped")
            return data
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"undecodable content{where}: {exc!r}")
        return b""
    return data if isinstance(data, bytes) else b""


def _content_id(value: object) -> str | None:
    token = str(value or "").strip().strip("<>").strip()
    return f"<{token}>" if token else None


def _safe_filename(name: str) -> str:
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f").strip().strip(".")
    return name[:255]


def _generated_name(ctype: str, path: str) -> str:
    fixed = {
        "message/rfc822": "message.eml",
        "text/rfc822-headers": "headers.txt",
        "message/delivery-status": "delivery-status.txt",
        "message/disposition-notification": "disposition-notification.txt",
        "text/calendar": "invite.ics",
    }
    if ctype in fixed:
        return fixed[ctype]
    ext = ".txt" if ctype.startswith("text/") else (mimetypes.guess_extension(ctype) or ".bin")
    return f"part-{path}{ext}"


def _text_of(part: email.message.Message, where: str, defects: list[str]) -> str:
    data = _payload(part, where, defects)
    label = part.get_content_charset()
    if label is None and part.get_content_type() == "text/html":
        meta = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.IGNORECASE)
        label = meta.group(1).decode("ascii") if meta else None
    return decode_bytes(data, label, defects, where).replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Body:
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


def _body(msg: email.message.Message, defects: list[str]) -> _Body:
    """The body text parts and the attachments. The first inline text/plain is the body,
    the first inline text/html its alternative; anything else is an attachment (inline
    images, DSN parts and embedded messages included), named when the sender gave none."""
    out = _Body()
    for leaf in _leaves(msg, "", False, defects):
        part = leaf.part
        ctype = part.get_content_type()
        where = f" (part {leaf.path})"
        disposition = (part.get_content_disposition() or "").lower()
        filename = _param(part, "filename", "Content-Disposition", defects) or _param(
            part, "name", "Content-Type", defects
        )
        is_text_body = ctype in ("text/plain", "text/html") and not filename and disposition != "attachment"
        if is_text_body:
            if ctype == "text/plain" and out.plain is None:
                out.plain = _text_of(part, where, defects)
                continue
            if ctype == "text/html" and out.html is None:
                out.html = _text_of(part, where, defects)
                continue
            if leaf.in_alternative:
                continue  # another rendering of a body we already have
        data = _payload(part, where, defects)
        name = _safe_filename(filename) if filename else ""
        content_id = _content_id(part.get("Content-ID"))
        out.attachments.append(
            Attachment(
                filename=name or _generated_name(ctype, leaf.path),
                content_type=ctype,
                size=len(data),
                data=data,
                content_id=content_id,
                inline=disposition == "inline" or (disposition == "" and content_id is not None),
            )
        )
    return out


def _part_defects(msg: email.message.Message) -> list[str]:
    found = []
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            found.append(f"{name} ({part.get_content_type()})")
    return found


# --------------------------------------------------------------------------- entry point


def parse_mail(raw: bytes | bytearray | memoryview) -> ParsedMail:
    """Parse one raw RFC 5322 message. Never raises: a failure in any step is recorded in
    ``defects`` and that step's fields are left empty, so one bad mail cannot stop a poller."""
    data = bytes(raw)
    defects: list[str] = []
    try:
        return _parse(data, defects)
    except Exception as exc:  # last resort: each step below is guarded already
        defects.append(f"unparseable message: {exc!r}")
        return _empty(data, decode_bytes(data, None), defects)


def _parse(data: bytes, defects: list[str]) -> ParsedMail:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    headers = _step(lambda: _headers(msg, defects), [], "headers", defects)
    subject = _step(
        lambda: decode_header_value(_first(headers, "Subject") or "", defects).strip(), "", "Subject", defects
    )
    senders = _step(lambda: _addresses(_first(headers, "From"), defects), [], "From", defects)
    from_name, from_addr = senders[0] if senders else ("", "")
    if not from_addr:
        defects.append("no From address")
    message_id = normalise_message_id(_first(headers, "Message-ID"))
    if message_id is None:
        defects.append("no Message-ID")
    date_header = _step(lambda: _date(_first(headers, "Date"), "Date", defects), None, "Date", defects)
    if _first(headers, "Date") is None:
        defects.append("no Date")
    body = _step(lambda: _body(msg, defects), _Body(), "body", defects)

    if body.plain is not None and body.plain.strip():
        full_marked = _tidy(body.plain)
    elif body.html is not None:
        full_marked = _step(lambda: html_to_text(body.html or ""), "", "HTML", defects)
    else:
        full_marked = _tidy(body.plain or "")
    full_text = _without_marks(full_marked)
    if _FORWARD.match(subject):
        # A forward is the report: what was forwarded is the content, not history.
        text = full_text
    else:
        text = _step(lambda: strip_quoted(full_marked), full_text, "quote splitter", defects)

    defects.extend(_part_defects(msg))
    return ParsedMail(
        message_id=message_id,
        in_reply_to=normalise_message_id(_first(headers, "In-Reply-To")),
        references=_message_ids(" ".join(_all(headers, "References"))),
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(a for _, a in _addresses(", ".join(_all(headers, "To")), defects)),
        cc=tuple(a for _, a in _addresses(", ".join(_all(headers, "Cc")), defects)),
        reply_to=tuple(a for _, a in _addresses(_first(headers, "Reply-To"), defects)),
        date_header=date_header,
        received_at_header=_step(lambda: _top_received(headers, defects), None, "Received", defects),
        text=text,
        full_text=full_text,
        html=body.html,
        attachments=tuple(body.attachments),
        raw_size=len(data),
        content_type=_step(msg.get_content_type, "text/plain", "Content-Type", defects),
        headers=_step(lambda: tuple((k, decode_header_value(v)) for k, v in headers), (), "headers", defects),
        defects=tuple(dict.fromkeys(defects)),
    )


_T = TypeVar("_T")


def _step(fn: Callable[[], _T], default: _T, what: str, defects: list[str]) -> _T:
    """Run one parsing step; on an unexpected error record it and use ``default``."""
    try:
        return fn()
    except Exception as exc:
        defects.append(f"{what} unreadable: {exc!r}")
        return default


def _empty(data: bytes, text: str, defects: list[str]) -> ParsedMail:
    return ParsedMail(
        message_id=None,
        in_reply_to=None,
        references=(),
        subject="",
        from_addr="",
        from_name="",
        to=(),
        cc=(),
        reply_to=(),
        date_header=None,
        received_at_header=None,
        text=text,
        full_text=text,
        html=None,
        attachments=(),
        raw_size=len(data),
        content_type="text/plain",
        headers=(),
        defects=tuple(defects),
    )
