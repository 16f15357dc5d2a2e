"""A contract's SLA as a validated document.

The document is stored as JSON on the contract, importable from TOML or YAML,
and validated here: severity levels (what the bot asks a reporter), per level
any number of named clocks, and the contract's penalty rules. A clock says how
long (a target), in which calendar (7×24, working hours, working days), from
which event to which event, what may pause it, and how its target varies with
when the report arrived and with the kind of work.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sla.calendar import CalendarError, WorkingWeek

CalendarKind = Literal["24x7", "working_hours", "working_days"]
Kind = Literal["fault", "bug", "data", "change", "consult"]

KINDS: dict[str, str] = {
    "fault": "故障",
    "bug": "程序缺陷修复",
    "data": "数据修复",
    "change": "需求变更",
    "consult": "咨询",
}
CALENDAR_NAMES: dict[str, str] = {"24x7": "7×24小时", "working_hours": "工作时间", "working_days": "工作日"}

# The clocks a contract can name, as people call them.
CLOCK_NAMES: dict[str, str] = {"response": "响应", "onsite": "到达现场", "resolution": "解决", "change": "修改交付"}
# Events a clock can start or stop on. The ticket service records them.
START_EVENTS: dict[str, str] = {
    "written_report": "首次书面报告",
    "any_report": "首次报告（含电话）",
    "onsite_requested": "提出现场服务要求",
    "change_approved": "院方确认修改方案",
    "resolved": "故障解决",
}
STOP_EVENTS: dict[str, str] = {
    "first_human_reply": "首次人工答复送达报告人",
    "onsite_arrival": "工程师到达现场",
    "resolved": "故障解决",
    "document_uploaded": "文档已提交",
}
# Why a clock may stand still — only where the contract allows it (each preset says which).
PAUSE_REASONS: dict[str, str] = {
    "waiting_authorisation": "等待医院授权签字",
    "waiting_review": "等待院方评审",
    "waiting_hospital": "等待医院方配合（非乙方原因）",
}
# What caused a fault, for penalty rules that depend on it.
CAUSES: dict[str, str] = {
    "vendor": "乙方原因",
    "vendor_no_notice": "乙方未提前通知导致",
    "hospital_operation": "甲方操作不当",
    "environment": "网络环境或硬件",
    "force_majeure": "不可抗力",
}


class _Target(BaseModel):
    """A target in minutes (7×24 or working hours) or in whole working days."""

    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _legacy_name(cls, data: Any) -> Any:
        # The foundation stored ``target_minutes``; documents saved then still load.
        if isinstance(data, dict) and "target_minutes" in data:
            data = dict(data)
            data.setdefault("minutes", data.pop("target_minutes"))
        return data

    @property
    def target(self) -> timedelta | None:
        if self.minutes is not None:
            return timedelta(minutes=self.minutes)
        if self.working_days is not None:
            return timedelta(days=self.working_days)
        return None

    def _check_unit(self, calendar: str, where: str) -> None:
        if self.minutes is not None and self.working_days is not None:
            raise ValueError(f"{where}: give minutes or working_days, not both")
        if calendar == "working_days" and self.minutes is not None:
            raise ValueError(f"{where}: a working_days clock counts working_days, not minutes")
        if calendar != "working_days" and self.working_days is not None:
            raise ValueError(f"{where}: working_days targets need calendar = 'working_days'")


class ClockVariant(_Target):
    """A different target when the report arrived in or out of working hours, or for some kinds of work."""

    reported: Literal["in_hours", "out_of_hours"] | None = None
    kinds: list[Kind] | None = None
    calendar: CalendarKind | None = None
    applies: bool = True  # False: the clock does not run at all in this case
    clause: str = ""

    def matches(self, kind: str, in_hours: bool) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.reported == "in_hours" and not in_hours:
            return False
        return not (self.reported == "out_of_hours" and in_hours)


class ClockSpec(_Target):
    """One clock of a severity level, e.g. the response clock: 60 minutes, 7×24, from the written report."""

    calendar: CalendarKind = "24x7"
    start: str = "written_report"
    stop: list[str] = Field(default_factory=lambda: ["first_human_reply"])
    # The clock exists only once this event happened (e.g. on-site service was requested),
    # but is measured from ``start``.
    requires: str | None = None
    pause_on: list[str] = Field(default_factory=list)
    kinds: list[Kind] | None = None  # the kinds of work this clock runs for; None = all
    variants: list[ClockVariant] = Field(default_factory=list)
    clause: str = ""  # the contract clause this clock implements

    @model_validator(mode="after")
    def _valid(self) -> ClockSpec:
        self._check_unit(self.calendar, "clock")
        if self.target is None:
            raise ValueError("a clock needs a target: minutes or working_days")
        if self.start not in START_EVENTS:
            raise ValueError(f"unknown start event {self.start!r}; known: {sorted(START_EVENTS)}")
        for name in self.stop:
            if name not in STOP_EVENTS:
                raise ValueError(f"unknown stop event {name!r}; known: {sorted(STOP_EVENTS)}")
        if self.requires is not None and self.requires not in START_EVENTS:
            raise ValueError(f"unknown required event {self.requires!r}")
        for reason in self.pause_on:
            if reason not in PAUSE_REASONS:
                raise ValueError(f"unknown pause reason {reason!r}; known: {sorted(PAUSE_REASONS)}")
        for variant in self.variants:
            variant._check_unit(variant.calendar or self.calendar, "variant")
            if variant.applies and variant.target is None:
                raise ValueError("a variant that applies needs a target")
        return self

    def resolve(self, kind: str, in_hours: bool) -> tuple[timedelta, str, str] | None:
        """(target, calendar, clause) for this kind of work and report time; None if the clock does not run."""
        if self.kinds is not None and kind not in self.kinds:
            return None
        for variant in self.variants:
            if variant.matches(kind, in_hours):
                if not variant.applies:
                    return None
                assert variant.target is not None
                return variant.target, variant.calendar or self.calendar, variant.clause or self.clause
        assert self.target is not None
        return self.target, self.calendar, self.clause

    @property
    def depends_on_report_hours(self) -> bool:
        return any(v.reported is not None for v in self.variants)


class SeverityLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    name: str  # shown to people, e.g. 致命错误
    description: str  # what the bot asks a reporter, e.g. 能够引起系统停机或中断的错误
    clocks: dict[str, ClockSpec]


class Amount(BaseModel):
    """How much one occurrence costs: a fixed sum, or a percentage of the contract or of the subsystem."""

    model_config = ConfigDict(extra="forbid")

    yuan: Decimal | None = None
    percent: Decimal | None = None
    percent_by_level: dict[str, Decimal] | None = None
    of: Literal["contract", "system"] = "contract"

    @model_validator(mode="after")
    def _one(self) -> Amount:
        given = [x for x in (self.yuan, self.percent, self.percent_by_level) if x is not None]
        if len(given) != 1:
            raise ValueError("an amount is exactly one of yuan, percent, percent_by_level")
        return self


class PenaltyRule(BaseModel):
    """A deduction the contract makes, per occurrence.

    ``breach``: a clock (``clock``) missed its deadline. ``elapsed_over``: the
    clock's business time exceeded ``over_minutes`` whatever the level's target
    (seed 000 counts every response over 1 h). ``ticket``: every ticket whose
    cause is in ``causes`` (seed 000: faults the vendor caused).
    """

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    clause: str
    trigger: Literal["breach", "elapsed_over", "ticket"]
    clocks: list[str] = Field(default_factory=list)
    over_minutes: int | None = Field(default=None, gt=0)
    levels: list[str] | None = None
    causes: list[str] | None = None
    exclude_causes: list[str] = Field(default_factory=list)
    amount: Amount
    cap_percent: Decimal | None = None  # of the contract amount, over the whole report
    cap_yuan: Decimal | None = None

    @model_validator(mode="after")
    def _valid(self) -> PenaltyRule:
        if self.trigger in ("breach", "elapsed_over") and not self.clocks:
            raise ValueError(f"penalty {self.code}: a {self.trigger} rule names its clocks")
        if self.trigger == "elapsed_over" and self.over_minutes is None:
            raise ValueError(f"penalty {self.code}: elapsed_over needs over_minutes")
        if self.trigger == "ticket" and not self.causes:
            raise ValueError(f"penalty {self.code}: a ticket rule names the causes it applies to")
        for cause in (self.causes or []) + self.exclude_causes:
            if cause not in CAUSES:
                raise ValueError(f"penalty {self.code}: unknown cause {cause!r}; known: {sorted(CAUSES)}")
        return self


class ReminderSpec(BaseModel):
    """When engineers are reminded before a deadline and managers told after it (issue 6).

    Measured in each clock's own business time; the defaults are the issue's:
    50 % and 80 % of the target, 15 minutes before it, a second escalation an hour
    after the breach.
    """

    model_config = ConfigDict(extra="forbid")

    at_percent: list[int] = Field(default_factory=lambda: [50, 80])
    before_minutes: list[int] = Field(default_factory=lambda: [15])
    escalate_after_minutes: int = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _valid(self) -> ReminderSpec:
        if any(not 0 < p < 100 for p in self.at_percent):
            raise ValueError("reminders.at_percent: each value must lie between 1 and 99")
        if any(m <= 0 for m in self.before_minutes):
            raise ValueError("reminders.before_minutes: each value must be positive")
        return self


Recurrence = Literal["monthly", "quarterly", "half_yearly", "yearly"]
RECURRENCE_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}
RECURRENCE_NAMES: dict[str, str] = {"monthly": "每月", "quarterly": "每季度", "half_yearly": "每半年", "yearly": "每年"}
ANCHOR_NAMES: dict[str, str] = {"calendar": "按自然月、季、年划分", "contract": "自服务期起始日起划分"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day (01-31 + 1 month = 02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (first_of_next - timedelta(days=1)).day))


class DutyPeriod(BaseModel):
    """One period of a duty: [start, end] (local dates, inclusive) and the instant it falls due."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    due_at: datetime


class DutySpec(BaseModel):
    """A recurring obligation of the contract, closed by uploading its report (issue 6).

    The rule, deliberately one and explicit: the service period is cut into
    periods of ``recurrence`` — calendar ones (quarters are Jan–Mar, Apr–Jun, …;
    ``anchor = "calendar"``, what 每季度 / 每年年底 say) or ones counted from the
    contract's first day (``anchor = "contract"``, what 服务期每三个月 says; a
    contract without a start date falls back to calendar periods). A period the
    contract covers only in part is cut to the contract's days and is owed too.
    Each period's duty is due at ``due_time`` (the hospital's local time, by
    default close of business) on the period's last day plus ``due_offset_days``
    (negative: earlier; positive: a grace period after the period). Reminders go
    out ``remind_days_before`` whole days before that instant; a duty still
    without its report at the instant is missed and costs ``penalty_yuan``.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=40)  # without the period: 巡检, 备份恢复测试, 验收
    clause: str = ""  # the contract clause this duty implements
    recurrence: Recurrence
    anchor: Literal["calendar", "contract"] = "calendar"
    due_offset_days: int = Field(default=0, ge=-180, le=180)
    due_time: str = "18:00"
    closes_with: str = Field(default="报告", min_length=1, max_length=40)  # the upload that closes it: 巡检报告
    penalty_yuan: Decimal | None = Field(default=None, ge=0)
    remind_days_before: list[int] = Field(default_factory=lambda: [7, 1])

    @model_validator(mode="after")
    def _valid(self) -> DutySpec:
        if not _HHMM.match(self.due_time):
            raise ValueError(f"duty {self.key}: due_time must be HH:MM, got {self.due_time!r}")
        if any(not 0 < d <= 180 for d in self.remind_days_before):
            raise ValueError(f"duty {self.key}: remind_days_before values lie between 1 and 180")
        if len(set(self.remind_days_before)) != len(self.remind_days_before):
            raise ValueError(f"duty {self.key}: remind_days_before repeats a day")
        return self

    def periods(self, starts_on: date | None, ends_on: date | None, tz: str, since: datetime,
                until: datetime) -> list[DutyPeriod]:
        """The periods falling due in [since, until], cut to the contract's service period.

        ``since`` keeps the past out: periods that fell due before the duty was
        first scheduled are not invented as missed.
        """
        months = RECURRENCE_MONTHS[self.recurrence]
        anchor = starts_on if self.anchor == "contract" and starts_on is not None else date(2000, 1, 1)
        # The earliest period that can still fall due at ``since``: a year back, plus the largest grace.
        first = since.astimezone(ZoneInfo(tz)).date() - timedelta(days=366 + 181)
        if starts_on is not None and starts_on > first:
            first = starts_on
        index = _months_between(anchor, first) // months
        while add_months(anchor, index * months) > first:  # clamped month-ends can overshoot by one
            index -= 1
        out = []
        while True:
            start, end = add_months(anchor, index * months), add_months(anchor, (index + 1) * months)
            end -= timedelta(days=1)
            index += 1
            if ends_on is not None and start > ends_on:
                return out
            start, end = max(start, starts_on or start), min(end, ends_on or end)
            due_at = self.due_at(end, tz)
            if due_at > until:
                return out
            if end >= start and due_at >= since:
                out.append(DutyPeriod(start=start, end=end, due_at=due_at))

    def due_at(self, period_end: date, tz: str) -> datetime:
        hour, minute = (int(x) for x in self.due_time.split(":"))
        day = period_end + timedelta(days=self.due_offset_days)
        return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz))


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


class SlaPolicy(BaseModel):
    """Severity levels (most urgent first), their clocks, and the penalties."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    # Working hours the contract itself names (seed 003: 正常工作日8:00-18:00); else the hospital's.
    working_hours: dict[str, list[str]] | None = None
    levels: list[SeverityLevel] = Field(min_length=1)
    penalties: list[PenaltyRule] = Field(default_factory=list)
    reminders: ReminderSpec = Field(default_factory=ReminderSpec)
    # Recurring obligations with due dates (issue 6); documents saved before them load with none.
    duties: list[DutySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> SlaPolicy:
        codes = [lvl.code for lvl in self.levels]
        if len(codes) != len(set(codes)):
            raise ValueError(f"duplicate severity codes: {codes}")
        if self.working_hours is not None:
            try:
                WorkingWeek.parse(self.working_hours)
            except CalendarError as exc:
                raise ValueError(str(exc)) from exc
        clock_names = {name for lvl in self.levels for name in lvl.clocks}
        for rule in self.penalties:
            for name in rule.clocks:
                if name not in clock_names:
                    raise ValueError(f"penalty {rule.code}: no level has a clock named {name!r}")
            for code in list(rule.levels or []) + list(rule.amount.percent_by_level or {}):
                if code not in codes:
                    raise ValueError(f"penalty {rule.code}: unknown severity {code!r}")
        keys = [d.key for d in self.duties]
        if len(keys) != len(set(keys)):
            raise ValueError(f"duplicate duty keys: {keys}")
        return self

    @property
    def most_urgent(self) -> SeverityLevel:
        return self.levels[0]

    def level(self, code: str) -> SeverityLevel:
        for lvl in self.levels:
            if lvl.code == code:
                return lvl
        raise KeyError(f"unknown severity {code!r}; known: {[lvl.code for lvl in self.levels]}")

    def duty(self, key: str) -> DutySpec | None:
        return next((d for d in self.duties if d.key == key), None)

    def clock_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for lvl in self.levels:
            seen.update(dict.fromkeys(lvl.clocks))
        return list(seen)


def policy_from(document: dict[str, Any]) -> SlaPolicy:
    """The policy stored on a contract, validated once per distinct document.

    Every clock evaluation, queue row and bot message reads the contract's policy;
    validating the same JSON each time was most of their cost. The returned
    object is shared: treat it as read-only (``model_copy(deep=True)`` to edit).
    """
    # A contract row's document is read once per object: writers assign a new dict (the
    # admin panel, the CLI, the demo), and even serialising it to find the cached policy
    # cost the mail intake of issue 5 six dumps per new ticket.
    seen = _BY_OBJECT.get(id(document))
    if seen is not None and seen[0] is document:
        return seen[1]
    # Key order is kept: it is the order levels, clocks and amounts are shown in.
    policy = _policy_from_json(json.dumps(document, ensure_ascii=False))
    if len(_BY_OBJECT) >= 256:
        _BY_OBJECT.clear()
    _BY_OBJECT[id(document)] = (document, policy)  # the document is held, so its id is not reused
    return policy


_BY_OBJECT: dict[int, tuple[dict[str, Any], SlaPolicy]] = {}


@lru_cache(maxsize=64)
def _policy_from_json(text: str) -> SlaPolicy:
    return SlaPolicy.model_validate_json(text)
