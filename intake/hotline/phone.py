"""Chinese phone numbers as callers present them and as the directory writes them.

The caller's number finds the person; an unknown number finds the hospital by its
switchboard prefixes. Both sides are written every which way (``+86 27 8572 6114``,
``027-85726114转8023``, ``(027)85726114``, ``8613812345678``), so both are reduced
to one national form first: a mobile as 11 digits, a landline with its area code
and trunk 0 (``02785726114``), the extension kept apart.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MOBILE = "mobile"  # 1xxxxxxxxxx
LANDLINE = "landline"  # 0 + area code + local number
LOCAL = "local"  # a landline without its area code (7–8 digits)
SERVICE = "service"  # 400/800 numbers, 95xxx / 96xxx / 12xxx short service numbers
SHORT = "short"  # an internal extension or anything short the PBX presents
INTERNATIONAL = "international"  # not a Chinese number: kept as +digits

_EXTENSION = re.compile(r"(?:转分机|分机号?|转|ext\.?|extension|x|#|,|，|;)\s*(\d{1,6})\s*$", re.I)
_DASH_TAIL = re.compile(r"^(.*\d)\s*[-‐–—]\s*(\d{1,5})\s*$")
_ALLOWED = re.compile(r"^\+?[\d\s\-‐–—()]+$")
_SEPARATORS = re.compile(r"[\s\-‐–—()]")


class PhoneNumberError(ValueError):
    """Not a phone number at all (``anonymous``, empty, letters): the call goes to review."""


@dataclass(frozen=True)
class PhoneNumber:
    """A number in national form (``number``), its extension apart, and what kind of line it is."""

    number: str
    extension: str = ""
    kind: str = LANDLINE

    def __str__(self) -> str:
        return f"{self.number}转{self.extension}" if self.extension else self.number

    def same_line(self, other: PhoneNumber) -> bool:
        """The same line, with or without the area code on one side; extensions are not compared
        (a direct-dial caller presents the trunk number, the directory writes the extension)."""
        if self.number == other.number:
            return True
        pair = {self.kind: self.number, other.kind: other.number}
        if set(pair) == {LOCAL, LANDLINE}:
            return local_part(pair[LANDLINE]) == pair[LOCAL]
        return False


def normalize_phone(raw: str) -> PhoneNumber:
    """``raw`` in national form; raises :class:`PhoneNumberError` with a Chinese message if it is none."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    extension = ""
    found = _EXTENSION.search(text)
    if found and found.start() > 0:
        text, extension = text[:found.start()].strip(), found.group(1)
    if not text or not _ALLOWED.match(text):
        raise PhoneNumberError(f"不是电话号码：{raw!r}")
    if not extension:
        dashed = _DASH_TAIL.match(text)
        if dashed and _complete(_national(dashed.group(1))) and not _complete(_national(text)):
            text, extension = dashed.group(1), dashed.group(2)
    number = _national(text)
    if not number.strip("+"):
        raise PhoneNumberError(f"不是电话号码：{raw!r}")
    return PhoneNumber(number, extension, _kind(number))


def normalize_prefix(raw: str) -> str:
    """A switchboard prefix (``027-8572``, ``+86 27 8572``) as leading digits of a national number.

    Raises ``ValueError`` for fewer than 3 digits: such a prefix would claim whole cities.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not _ALLOWED.match(text or "x"):
        raise ValueError(f"总机号段只能含数字：{raw!r}")
    digits = _national(text, prefix=True)
    if len(digits.strip("+")) < 3:
        raise ValueError(f"总机号段至少 3 位数字：{raw!r}")
    return digits


def match_switchboard(number: str | PhoneNumber, prefixes: dict[str, list[str]]) -> str | None:
    """The hospital whose switchboard prefix the number starts with; the longest prefix wins.

    A local prefix (no area code) also matches a landline's local part. Two hospitals with
    the same longest prefix is a configuration fault: no answer rather than a guess.
    """
    try:
        phone = number if isinstance(number, PhoneNumber) else normalize_phone(number)
    except PhoneNumberError:
        return None
    local = local_part(phone.number) if phone.kind == LANDLINE else phone.number
    best_len, best_keys = 0, set()
    for key, raws in prefixes.items():
        for raw in raws:
            prefix = normalize_prefix(raw)
            if phone.number.startswith(prefix) or (prefix[0] not in "0+" and local.startswith(prefix)):
                if len(prefix) > best_len:
                    best_len, best_keys = len(prefix), {key}
                elif len(prefix) == best_len:
                    best_keys.add(key)
    return next(iter(best_keys)) if len(best_keys) == 1 else None


def local_part(number: str) -> str:
    """A landline without trunk 0 and area code: 010 and 02x have two-digit area codes, the rest three."""
    if not number.startswith("0"):
        return number
    return number[3:] if number[1] in "12" else number[4:]


def _national(text: str, *, prefix: bool = False) -> str:
    """Digits in national form: country code off, trunk 0 on for landlines given without it."""
    plus = text.startswith("+")
    digits = _SEPARATORS.sub("", text).lstrip("+")
    if plus and not digits.startswith("86"):
        return "+" + digits
    if plus or digits.startswith("0086"):
        digits = digits[2:] if plus else digits[4:]
    elif digits.startswith("86") and len(digits) >= 12:
        digits = digits[2:]
    else:
        return digits
    # After a country code: a mobile stays, a landline gets its trunk 0 back.
    mobile = re.match(r"1[3-9]", digits) is not None and (prefix or len(digits) == 11)
    if mobile or digits.startswith(("0", "400", "800")):
        return digits
    return "0" + digits


def _complete(number: str) -> bool:
    """A whole number, without anything more: an extension may follow only such a number."""
    return _kind(number) in (MOBILE, LANDLINE, LOCAL, SERVICE) and not number.startswith("+")


def _kind(number: str) -> str:
    if number.startswith("+"):
        return INTERNATIONAL
    if re.fullmatch(r"1[3-9]\d{9}", number):
        return MOBILE
    if re.fullmatch(r"0(?:[12]\d{9}|[3-9]\d{9,10})", number):  # 010 and 02x: 8-digit local numbers
        return LANDLINE
    if re.fullmatch(r"(?:400|800)\d{7}|(?:95|96|12)\d{3,6}", number):
        return SERVICE
    if re.fullmatch(r"[2-9]\d{6,7}", number):
        return LOCAL
    return SHORT
