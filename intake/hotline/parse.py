"""Call records from the wire: one JSON object, JSON Lines, or CSV (the format is docs/hotline-format.md).

Files come from telephony exports and Excel, so: UTF-8 with or without BOM or
GB18030, Chinese or English column names and speaker labels. A broken line never
stops the rest: the readers yield one :class:`Row` per record, either the record
or the error with its line number, and the importer decides what to keep.

Times: an ISO 8601 time with an offset (``+08:00``, ``Z``) is taken as is; a time
without one is read in the record's ``timezone`` (IANA name such as
``Asia/Shanghai``, or ``+08:00``); without either it is refused, as is a local
time that a daylight-saving change makes ambiguous or nonexistent.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake.hotline.record import AGENT, CALLER, CallRecord, CallRecordError, FieldError, Turn

# What speaker labels say in exports, Chinese and English (compared case-insensitively).
SPEAKER_LABELS: dict[str, str] = {
    "来电人": CALLER, "来电": CALLER, "客户": CALLER, "用户": CALLER, "主叫": CALLER,
    "caller": CALLER, "customer": CALLER, "user": CALLER, "client": CALLER,
    "坐席": AGENT, "客服": AGENT, "工程师": AGENT, "接线员": AGENT,
    "agent": AGENT, "staff": AGENT, "operator": AGENT,
}

# CSV header names: the JSON field names, and what a Chinese telephony export calls them.
CSV_COLUMNS: dict[str, str] = {
    "call_id": "call_id", "通话编号": "call_id", "通话id": "call_id", "呼叫编号": "call_id",
    "caller": "caller", "主叫号码": "caller", "来电号码": "caller", "主叫": "caller",
    "called": "called", "被叫号码": "called", "被叫": "called",
    "started_at": "started_at", "开始时间": "started_at", "通话开始时间": "started_at",
    "ended_at": "ended_at", "结束时间": "ended_at", "通话结束时间": "ended_at",
    "timezone": "timezone", "时区": "timezone",
    "agent": "agent", "坐席": "agent", "接听坐席": "agent",
    "turns": "turns", "对话": "turns", "通话内容": "turns", "转写文本": "turns",
    "recording_ref": "recording_ref", "录音": "recording_ref", "录音地址": "recording_ref",
}
REQUIRED_COLUMNS = ("call_id", "caller", "started_at", "ended_at")

_LABELLED = re.compile(r"^\s*([^:：]{1,10}?)\s*[:：]\s*(.*)$", re.S)
_FIXED_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)
# Telephony clocks drift; a call "from the future" beyond this is a wrong clock, not a call.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Row:
    """One line (JSONL) or row (CSV) of a file: the record, or why it was refused.

    ``line`` is the 1-based line of the file where the row starts (CSV cells may span lines).
    """

    line: int
    record: CallRecord | None = None
    error: CallRecordError | None = None


def decode_file(data: bytes) -> str:
    """File bytes as text: UTF-8 (a BOM is dropped) or GB18030, as Chinese Excel saves CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("文件既不是 UTF-8 也不是 GB18030 编码")


def parse_json(obj: object, *, now: datetime | None = None) -> CallRecord:
    """One call record from a decoded JSON object; every field problem is reported at once.

    With ``now``, a call that starts or ends more than a few minutes after it is refused:
    a telephony clock set wrong must not start a contract clock in the future.
    """
    return _build(obj, now, [])


def read_jsonl(lines: Iterable[str] | str, *, now: datetime | None = None) -> Iterator[Row]:
    """JSON Lines: one record object per line; blank lines are skipped."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, error=CallRecordError.one("记录", f"不是合法的 JSON（第 {exc.colno} 列：{exc.msg}）"))
            continue
        yield _row(number, lambda obj=obj: parse_json(obj, now=now), seen)


def read_csv(text: str, *, now: datetime | None = None) -> Iterator[Row]:
    """CSV with a header, one call per row; turns in one cell as ``来电人：……|坐席：……``.

    A header without the required columns is one error on line 1 and nothing is read.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        yield Row(1, error=CallRecordError.one("表头", "文件为空"))
        return
    columns = [CSV_COLUMNS.get(_fold(h), "") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        yield Row(1, error=CallRecordError.one("表头", f"缺少列 {', '.join(missing)}（表头为 {', '.join(header)}）"))
        return
    seen: dict[str, int] = {}
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield Row(line, error=CallRecordError.one("行", f"本行有 {len(cells)} 列，表头有 {len(header)} 列"))
            continue
        values = {col: cell.strip() for col, cell in zip(columns, cells, strict=True) if col and cell.strip()}
        yield _row(line, lambda values=values: _parse_csv_values(values, now), seen)


def read_file(name: str, data: bytes, *, now: datetime | None = None) -> list[Row]:
    """A dropped or imported file, by its suffix: ``.jsonl`` / ``.ndjson`` or ``.csv``."""
    suffix = PurePath(name).suffix.lower()
    text = decode_file(data)
    if suffix in (".jsonl", ".ndjson"):
        return list(read_jsonl(text, now=now))
    if suffix == ".csv":
        return list(read_csv(text, now=now))
    raise ValueError(f"不支持的文件类型 {suffix or '（无后缀）'}：请用 .jsonl 或 .csv")


def parse_turns_cell(cell: str) -> list[Turn]:
    """A CSV turns cell ``来电人：……|坐席：……`` as turns.

    ``|`` separates turns, and each must start with a known label. Inside a turn a line
    break (Alt+Enter in Excel) starts a new turn when the line starts with a label, and
    otherwise continues the turn.
    """
    spoken: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    for i, segment in enumerate(s for s in cell.split("|") if s.strip()):
        lines = [line for line in segment.splitlines() if line.strip()]
        first = _label(lines[0])
        if first is None:
            errors.append(FieldError(f"turns[{i}]", f"缺少说话人标签（如“来电人：”或“坐席：”）：{segment.strip()[:30]!r}"))
            continue
        spoken.append(first)
        for line in lines[1:]:
            labelled = _label(line)
            if labelled is not None:
                spoken.append(labelled)
            else:
                speaker, text = spoken[-1]
                spoken[-1] = (speaker, f"{text}\n{line.strip()}".strip())
    if errors:
        raise CallRecordError(errors)
    return [Turn(speaker, text) for speaker, text in spoken if text]


def _label(line: str) -> tuple[str, str] | None:
    """``来电人：你好`` as (caller, 你好); None if the line does not start with a known speaker label."""
    match = _LABELLED.match(line)
    speaker = SPEAKER_LABELS.get(_fold(match.group(1))) if match else None
    if match is None or speaker is None:
        return None
    return speaker, match.group(2).strip()


def _row(line: int, parse: Callable[[], CallRecord], seen: dict[str, int]) -> Row:
    """Parse one row; a call id already seen earlier in the same file is refused (an export bug)."""
    try:
        record = parse()
    except CallRecordError as exc:
        return Row(line, error=exc)
    if record.call_id in seen:
        return Row(line, error=CallRecordError.one("call_id", f"与第 {seen[record.call_id]} 行的通话编号重复"))
    seen[record.call_id] = line
    return Row(line, record=record)


def _parse_csv_values(values: dict[str, str], now: datetime | None) -> CallRecord:
    """A CSV row through the same checks as JSON; a bad turns cell is listed with the other problems."""
    obj: dict[str, Any] = dict(values)
    errors: list[FieldError] = []
    try:
        turns = parse_turns_cell(values.get("turns", ""))
    except CallRecordError as exc:
        errors += exc.errors
        turns = []
    obj["turns"] = [{"speaker": t.speaker, "text": t.text} for t in turns]
    return _build(obj, now, errors)


def _build(obj: object, now: datetime | None, errors: list[FieldError]) -> CallRecord:
    if not isinstance(obj, dict):
        raise CallRecordError([*errors, FieldError("记录", "须为 JSON 对象")])
    call_id = _call_id(obj.get("call_id"), errors)
    caller = _number(obj.get("caller"), "caller", errors, required=True)
    called = _number(obj.get("called"), "called", errors, required=False)
    agent = _optional_text(obj.get("agent"), "agent", errors)
    ref = _optional_text(obj.get("recording_ref"), "recording_ref", errors) or None
    zone = _zone(obj.get("timezone"), errors)
    started = _instant(obj.get("started_at"), "started_at", zone, errors)
    ended = _instant(obj.get("ended_at"), "ended_at", zone, errors)
    turns = _turns(obj.get("turns"), errors)
    if now is not None:
        for name, value in (("started_at", started), ("ended_at", ended)):
            if value is not None and value > now + FUTURE_TOLERANCE:
                errors.append(FieldError(name, "晚于当前时间，请检查电话系统的时钟"))
    if errors:
        raise CallRecordError(errors)
    assert started is not None and ended is not None
    return CallRecord(call_id=call_id, caller=caller, called=called, started_at=started, ended_at=ended,
                      agent=agent, turns=tuple(turns), recording_ref=ref)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def _call_id(value: object, errors: list[FieldError]) -> str:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError("call_id", "缺少通话编号"))
        return ""
    return value.strip()


def _number(value: object, name: str, errors: list[FieldError], *, required: bool) -> str:
    if value is None or value == "":
        if required:
            errors.append(FieldError(name, "缺少号码（号码被隐藏时填 anonymous）"))
        return ""
    if isinstance(value, int | float):
        errors.append(FieldError(name, "号码须写成字符串：写成数字会丢掉区号前的 0"))
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(name, "号码须为字符串"))
        return ""
    return value.strip()


def _optional_text(value: object, name: str, errors: list[FieldError]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(name, "须为字符串"))
        return ""
    return value.strip()


def _zone(value: object, errors: list[FieldError]) -> tzinfo | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(FieldError("timezone", "须为时区名（如 Asia/Shanghai）或 +08:00"))
        return None
    fixed = _FIXED_OFFSET.match(value.strip())
    if fixed:
        sign, hours, minutes = fixed.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            errors.append(FieldError("timezone", f"时差 {value} 超出范围"))
            return None
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("timezone", f"未知时区 {value!r}（如 Asia/Shanghai）"))
        return None


def _instant(value: object, name: str, zone: tzinfo | None, errors: list[FieldError]) -> datetime | None:
    """An ISO 8601 time as an aware datetime; naive times only with a stated, unambiguous zone."""
    if value is None or value == "":
        errors.append(FieldError(name, "缺少时间"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, "须为 ISO 8601 时间字符串，如 2026-03-02T09:15:00+08:00"))
        return None
    text = value.strip()
    try:
        if len(text) <= 10:  # a date alone says nothing about when the call was
            raise ValueError
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, f"无法识别的时间 {text!r}，应为 ISO 8601，如 2026-03-02T09:15:00+08:00"))
        return None
    if parsed.tzinfo is not None:
        return parsed
    if zone is None:
        errors.append(FieldError(name, f"时间 {text!r} 没有时区：请写成 {text}+08:00，或在记录中给出 timezone"))
        return None
    early, late = parsed.replace(tzinfo=zone, fold=0), parsed.replace(tzinfo=zone, fold=1)
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
        errors.append(FieldError(name, f"当地时间 {text} 在时区 {zone} 中不存在（夏令时切换）"))
        return None
    if early.utcoffset() != late.utcoffset():
        errors.append(FieldError(name, f"当地时间 {text} 在时区 {zone} 中出现两次（夏令时切换），请带上时差"))
        return None
    return early


def _turns(value: object, errors: list[FieldError]) -> list[Turn]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(FieldError("turns", "须为数组，每段对话一个对象"))
        return []
    turns: list[Turn] = []
    for i, item in enumerate(value):
        where = f"turns[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(where, "须为对象 {speaker, text, offset}"))
            continue
        label = item.get("speaker")
        speaker = SPEAKER_LABELS.get(_fold(label)) if isinstance(label, str) else None
        if speaker is None:
            errors.append(FieldError(f"{where}.speaker", f"未知说话人 {label!r}（caller/来电人 或 agent/坐席）"))
        text = item.get("text")
        if not isinstance(text, str):
            errors.append(FieldError(f"{where}.text", "须为字符串"))
        offset = item.get("offset")
        if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int | float) or offset < 0):
            errors.append(FieldError(f"{where}.offset", "须为不小于 0 的秒数"))
            offset = None
        if speaker is not None and isinstance(text, str) and text.strip():
            turns.append(Turn(speaker, text.strip(), float(offset) if offset is not None else None))
    return turns
