"""One phone call as the telephony system exports it: the hotline channel's unit of intake.

A call becomes a ticket whose clock starts when the call started, so the times
must be unambiguous instants: a record is only built from timezone-aware times,
and everything is kept in UTC. Validation errors name the field in Chinese so
that the integrator (and the 400 answer of the HTTP endpoint) can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

CALLER = "caller"
AGENT = "agent"
SPEAKERS = (CALLER, AGENT)

MAX_CALL_ID = 128
MAX_NUMBER = 64
MAX_AGENT = 100
MAX_REF = 1000
MAX_TURNS = 2000
MAX_TURN_TEXT = 5000
# A call longer than this is an export error (a stuck channel), not a conversation.
MAX_DURATION = timedelta(hours=24)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: ``field`` as named in the format (e.g. ``turns[2].speaker``)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}：{self.message}"


class CallRecordError(ValueError):
    """A call record that cannot be taken, with every field problem found (not just the first).

    The HTTP endpoint answers 400 with :attr:`errors`; imports report ``str(error)`` by line.
    """

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("；".join(str(e) for e in self.errors))

    @classmethod
    def one(cls, field_name: str, message: str) -> CallRecordError:
        return cls([FieldError(field_name, message)])


@dataclass(frozen=True)
class Turn:
    """One stretch of speech: who spoke (``caller`` / ``agent``), what the recogniser heard, and when.

    ``offset_s`` is seconds since the call started, when the telephony gives it.
    """

    speaker: str
    text: str
    offset_s: float | None = None

    def __post_init__(self) -> None:
        if self.speaker not in SPEAKERS:
            raise CallRecordError.one("speaker", f"说话人须为 caller 或 agent，收到 {self.speaker!r}")
        if self.offset_s is not None and self.offset_s < 0:
            raise CallRecordError.one("offset", "偏移秒数不能为负数")


@dataclass(frozen=True)
class CallRecord:
    """A finished call: who called whom, when, who answered, and the recognised conversation.

    ``caller`` and ``called`` are the numbers as the telephony gave them; normalising
    and matching them is :mod:`intake.hotline.phone`'s job. ``agent`` is empty for a
    call nobody answered (voicemail, IVR).
    """

    call_id: str
    caller: str
    started_at: datetime
    ended_at: datetime
    called: str = ""
    agent: str = ""
    turns: tuple[Turn, ...] = field(default_factory=tuple)
    recording_ref: str | None = None

    def __post_init__(self) -> None:
        errors = _check(self)
        if errors:
            raise CallRecordError(errors)
        # Keep every instant in UTC, whatever offset it came with (frozen: set through object).
        object.__setattr__(self, "started_at", self.started_at.astimezone(UTC))
        object.__setattr__(self, "ended_at", self.ended_at.astimezone(UTC))
        object.__setattr__(self, "turns", tuple(self.turns))

    @property
    def duration(self) -> timedelta:
        return self.ended_at - self.started_at

    def caller_text(self) -> str:
        """What the caller said, one turn a line: this becomes the ticket's text."""
        return "\n".join(t.text for t in self.turns if t.speaker == CALLER)

    def transcript(self) -> str:
        """The whole conversation with Chinese speaker labels, kept on the ticket as evidence."""
        labels = {CALLER: "来电人", AGENT: "坐席"}
        return "\n".join(f"{labels[t.speaker]}：{t.text}" for t in self.turns)


def _check(record: CallRecord) -> list[FieldError]:
    """Every field problem of a record, so one answer can list them all."""
    errors: list[FieldError] = []
    if not isinstance(record.call_id, str) or not record.call_id.strip():
        errors.append(FieldError("call_id", "缺少通话编号"))
    elif len(record.call_id) > MAX_CALL_ID or record.call_id != record.call_id.strip():
        errors.append(FieldError("call_id", f"通话编号须为不超过 {MAX_CALL_ID} 个字符、首尾无空白的字符串"))
    if not isinstance(record.caller, str) or not record.caller.strip():
        errors.append(FieldError("caller", "缺少主叫号码（号码被隐藏时填 anonymous）"))
    elif len(record.caller) > MAX_NUMBER:
        errors.append(FieldError("caller", f"主叫号码超过 {MAX_NUMBER} 个字符"))
    if not isinstance(record.called, str) or len(record.called) > MAX_NUMBER:
        errors.append(FieldError("called", f"被叫号码须为不超过 {MAX_NUMBER} 个字符的字符串"))
    if not isinstance(record.agent, str) or len(record.agent) > MAX_AGENT:
        errors.append(FieldError("agent", f"坐席须为不超过 {MAX_AGENT} 个字符的字符串"))
    if record.recording_ref is not None and (not isinstance(record.recording_ref, str)
                                             or len(record.recording_ref) > MAX_REF):
        errors.append(FieldError("recording_ref", f"录音引用须为不超过 {MAX_REF} 个字符的字符串"))
    errors += _check_times(record.started_at, record.ended_at)
    if len(record.turns) > MAX_TURNS:
        errors.append(FieldError("turns", f"对话超过 {MAX_TURNS} 段"))
    for i, turn in enumerate(record.turns):
        if not isinstance(turn, Turn):
            errors.append(FieldError(f"turns[{i}]", "不是一段对话"))
        elif len(turn.text) > MAX_TURN_TEXT:
            errors.append(FieldError(f"turns[{i}].text", f"一段话超过 {MAX_TURN_TEXT} 个字符"))
    return errors


def _check_times(started_at: object, ended_at: object) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, value in (("started_at", started_at), ("ended_at", ended_at)):
        if not isinstance(value, datetime):
            errors.append(FieldError(name, "不是时间"))
        elif value.tzinfo is None or value.utcoffset() is None:
            errors.append(FieldError(name, "时间没有时区，无法确定是哪一时刻"))
    if errors:
        return errors
    assert isinstance(started_at, datetime) and isinstance(ended_at, datetime)
    if ended_at < started_at:
        errors.append(FieldError("ended_at", "结束时间早于开始时间"))
    elif ended_at - started_at > MAX_DURATION:
        errors.append(FieldError("ended_at", "通话时长超过 24 小时，请检查开始和结束时间"))
    return errors
