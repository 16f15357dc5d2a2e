"""A contract's SLA as a validated document.

The document is stored as JSON on the contract and validated here. This is the
foundation's form: severity levels (what the bot asks a reporter) with named
clocks and their targets. The full engine (business calendars, start/stop
events, pauses, variants) extends this model.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

ClockCalendar = Literal["24x7"]


class ClockSpec(BaseModel):
    """One clock of a level, e.g. the response clock: 60 minutes, counted 7x24."""

    target_minutes: int = Field(gt=0)
    calendar: ClockCalendar = "24x7"
    clause: str = ""  # the contract clause this target implements


class SeverityLevel(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str  # shown to people, e.g. 致命错误
    description: str  # what the bot asks a reporter, e.g. 能够引起系统停机或中断的错误
    clocks: dict[str, ClockSpec]


class SlaPolicy(BaseModel):
    """Severity levels, most urgent first."""

    levels: list[SeverityLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_unique(self) -> SlaPolicy:
        codes = [lvl.code for lvl in self.levels]
        if len(codes) != len(set(codes)):
            raise ValueError(f"duplicate severity codes: {codes}")
        return self

    @property
    def most_urgent(self) -> SeverityLevel:
        return self.levels[0]

    def level(self, code: str) -> SeverityLevel:
        for lvl in self.levels:
            if lvl.code == code:
                return lvl
        raise KeyError(f"unknown severity {code!r}; known: {[lvl.code for lvl in self.levels]}")


def response_due(policy: SlaPolicy, severity: str, reported_at: datetime) -> datetime | None:
    """When the response clock of ``severity`` runs out for a report made at ``reported_at``.

    Counted from the written report (seed 000: 响应时间——自甲方向乙方发出书面报告错误之时起计).
    None when the level has no response clock.
    """
    clock = policy.level(severity).clocks.get("response")
    if clock is None:
        return None
    return reported_at + timedelta(minutes=clock.target_minutes)
