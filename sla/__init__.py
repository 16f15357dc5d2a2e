"""SLA: contract policies, business calendars, clocks, penalties and the evaluation report.

Everything here is a pure function of policy documents, calendars and
instants; persistence (the calendar tables, each ticket's clocks) lives with
the tickets, which call in here.
"""

from sla.calendar import (
    CONTINUOUS,
    Calendar,
    CalendarError,
    DayRules,
    WorkingDays,
    WorkingHours,
    WorkingWeek,
    add,
    elapsed,
)
from sla.clocks import Calendars, ClockState, Pause, TicketFacts, deadlines, evaluate
from sla.penalties import PenaltyItem, PenaltySummary, TicketOutcome, assess
from sla.policy import (
    CALENDAR_NAMES,
    CAUSES,
    CLOCK_NAMES,
    KINDS,
    PAUSE_REASONS,
    START_EVENTS,
    STOP_EVENTS,
    ClockSpec,
    ClockVariant,
    PenaltyRule,
    SeverityLevel,
    SlaPolicy,
    policy_from,
)
from sla.presets import PRESETS, READINGS
from sla.report import EvaluationReport, evaluation_report, grade

__all__ = [
    "CALENDAR_NAMES", "CAUSES", "CLOCK_NAMES", "CONTINUOUS", "KINDS", "PAUSE_REASONS", "PRESETS", "READINGS", "START_EVENTS",
    "STOP_EVENTS", "Calendar", "CalendarError", "Calendars", "ClockSpec", "ClockState", "ClockVariant",
    "DayRules", "EvaluationReport", "Pause", "PenaltyItem", "PenaltyRule", "PenaltySummary", "SeverityLevel",
    "SlaPolicy", "TicketFacts", "TicketOutcome", "WorkingDays", "WorkingHours", "WorkingWeek", "add", "assess",
    "deadlines", "elapsed", "evaluate", "evaluation_report", "grade", "policy_from",
]
