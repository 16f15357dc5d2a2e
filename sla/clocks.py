"""A ticket's clocks, evaluated from the facts of the ticket: a pure function.

The ticket service gathers the facts (when the first written report came,
which events happened, which pauses there were) and stores what this module
computes; recomputing after a severity, kind or calendar change is simply
evaluating again from the same facts — the start stays the original report,
paused time stays paused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sla.calendar import (
    CONTINUOUS,
    WEEKDAY_RULE,
    Calendar,
    DayRules,
    WorkingDays,
    WorkingHours,
    WorkingWeek,
)
from sla.policy import ClockSpec, SlaPolicy

DEFAULT_WEEK = WorkingWeek.parse({"mon-fri": ["08:00-18:00"]})


class Calendars:
    """The three calendars of one hospital (and contract): same days, same hours, same zone."""

    def __init__(self, tz: ZoneInfo | str = "Asia/Shanghai", week: WorkingWeek = DEFAULT_WEEK,
                 days: DayRules = WEEKDAY_RULE) -> None:
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.week = week
        self.days = days
        self.working_hours = WorkingHours(self.tz, week, days)
        self.working_days = WorkingDays(self.tz, week, days)
        self._by_hours: dict[tuple[tuple[str, tuple[str, ...]], ...], Calendars] = {}

    def get(self, kind: str) -> Calendar:
        if kind == "24x7":
            return CONTINUOUS
        if kind == "working_hours":
            return self.working_hours
        if kind == "working_days":
            return self.working_days
        raise KeyError(kind)

    def for_policy(self, policy: SlaPolicy) -> Calendars:
        """These calendars with the contract's own working hours, if it names any."""
        if policy.working_hours is None:
            return self
        key = tuple((k, tuple(v)) for k, v in policy.working_hours.items())
        found = self._by_hours.get(key)
        if found is None:  # built once: its day-window cache is what makes it fast
            found = self._by_hours[key] = Calendars(self.tz, WorkingWeek.parse(policy.working_hours), self.days)
        return found


@dataclass(frozen=True)
class Pause:
    reason: str
    start: datetime
    end: datetime | None = None  # None: still paused


@dataclass(frozen=True)
class TicketFacts:
    """What happened to a ticket, as the clocks need it.

    ``events`` maps an event name (``written_report``, ``any_report``,
    ``first_human_reply``, ``onsite_requested``, ``onsite_arrival``,
    ``resolved``, ``reopened``, …) to the instants it happened.
    """

    severity: str
    kind: str = "fault"
    events: Mapping[str, Sequence[datetime]] = field(default_factory=dict)
    pauses: Sequence[Pause] = ()


@dataclass(slots=True)
class ClockState:
    name: str
    calendar: str
    target: timedelta
    clause: str
    started_at: datetime
    due_at: datetime | None  # None while paused: the deadline moves when it resumes
    stopped_at: datetime | None
    paused_since: datetime | None
    pause_reason: str | None
    paused: timedelta  # business time spent paused (counted pauses only)
    elapsed: timedelta  # business time counted, up to the stop or ``now``
    breached: bool
    calendar_confirmed: bool

    @property
    def state(self) -> str:
        if self.stopped_at is not None:
            return "stopped"
        return "paused" if self.paused_since is not None else "running"

    @property
    def remaining(self) -> timedelta:
        return self.target - self.elapsed


def evaluate(policy: SlaPolicy, facts: TicketFacts, calendars: Calendars, now: datetime) -> list[ClockState]:
    """Every clock of the ticket's level that has started, as of ``now``."""
    calendars = calendars.for_policy(policy)
    level = policy.level(facts.severity)
    states = []
    for name, spec in level.clocks.items():
        state = evaluate_clock(name, spec, facts, calendars, now)
        if state is not None:
            states.append(state)
    return states


def evaluate_clock(name: str, spec: ClockSpec, facts: TicketFacts, calendars: Calendars,
                   now: datetime) -> ClockState | None:
    start = _first(facts.events, spec.start)
    if start is None or (spec.requires is not None and _first(facts.events, spec.requires) is None):
        return None
    hours_matter = _depends_on_report_hours(spec)
    in_hours = calendars.working_hours.is_working_time(start) if hours_matter else True
    resolved = _resolve(spec, facts.kind, in_hours)
    if resolved is None:
        return None
    target, calendar_kind, clause = resolved
    calendar = calendars.get(calendar_kind)
    # All instants in UTC from here: two datetimes of one DST zone compare by wall clock.
    start = start.astimezone(UTC)
    stopped_at = _stop(facts.events, spec.stop, start)
    end = stopped_at if stopped_at is not None else max(now.astimezone(UTC), start)

    # Pauses count only for the reasons the contract allows, and only while the
    # deadline had not yet passed: a pause cannot rescue a clock already breached.
    paused = timedelta(0)
    paused_since: datetime | None = None
    pause_reason: str | None = None
    due: datetime | None = _utc(calendar.add(start, target))
    for pause in sorted(facts.pauses, key=lambda p: p.start.astimezone(UTC)):
        if pause.reason not in spec.pause_on or pause.start > end:
            continue
        if stopped_at is not None and pause.start >= stopped_at:
            continue
        assert due is not None
        p_start = max(pause.start.astimezone(UTC), start)
        if p_start >= due:
            break
        if pause.end is None or pause.end >= end:
            if stopped_at is None and pause.end is None:
                paused_since, pause_reason = p_start, pause.reason
                end = p_start
                due = None
                break
            p_end = end
        else:
            p_end = pause.end.astimezone(UTC)
        paused += calendar.elapsed(p_start, p_end)
        due = _utc(calendar.add(start, target + paused))

    counted = (calendar.elapsed(start, end) if end != start else timedelta(0)) - paused
    breached = end > due if due is not None else False
    confirmed = calendar_kind == "24x7" or not calendar.unconfirmed_years(start, due or end)
    if hours_matter:
        confirmed = confirmed and not calendars.working_hours.unconfirmed_years(start, start)
    return ClockState(
        name=name, calendar=calendar_kind, target=target, clause=clause, started_at=start, due_at=due,
        stopped_at=stopped_at, paused_since=paused_since, pause_reason=pause_reason, paused=paused,
        elapsed=counted, breached=breached, calendar_confirmed=confirmed,
    )


# Resolving a clock's target for a kind of work and a report time is asked for
# every clock of every ticket; policies are shared (sla.policy_from), so the
# answers are kept per clock spec. The spec is kept in its entry, so its id
# cannot be reused by another object while the entry lives.
_SPECS: dict[int, tuple[ClockSpec, bool, dict[tuple[str, bool], tuple[timedelta, str, str] | None]]] = {}


def _spec_entry(spec: ClockSpec) -> tuple[ClockSpec, bool, dict[tuple[str, bool], tuple[timedelta, str, str] | None]]:
    entry = _SPECS.get(id(spec))
    if entry is None or entry[0] is not spec:
        if len(_SPECS) > 4096:
            _SPECS.clear()
        entry = _SPECS[id(spec)] = (spec, spec.depends_on_report_hours, {})
    return entry


def _resolve(spec: ClockSpec, kind: str, in_hours: bool) -> tuple[timedelta, str, str] | None:
    resolved = _spec_entry(spec)[2]
    if (kind, in_hours) not in resolved:
        resolved[(kind, in_hours)] = spec.resolve(kind, in_hours)
    return resolved[(kind, in_hours)]


def _depends_on_report_hours(spec: ClockSpec) -> bool:
    return _spec_entry(spec)[1]


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


def _first(events: Mapping[str, Sequence[datetime]], name: str) -> datetime | None:
    instants = events.get(name, ())
    if name == "any_report":  # a written report is a report too
        instants = [*instants, *events.get("written_report", ())]
    if not instants:
        return None
    if len(instants) == 1:
        return instants[0]
    return min(instants, key=lambda t: t.astimezone(UTC))


def _stop(events: Mapping[str, Sequence[datetime]], names: Sequence[str], start: datetime) -> datetime | None:
    """The earliest stop event; a resolution undone by a reopening does not count."""
    candidates = []
    for name in names:
        instants = list(events.get(name, ()))
        if name == "resolved":
            reopened = max((t.astimezone(UTC) for t in events.get("reopened", ())), default=None)
            instants = [t for t in instants if reopened is None or t.astimezone(UTC) >= reopened]
        candidates += instants
    if not candidates:
        return None
    return max(min(c.astimezone(UTC) for c in candidates), start)  # a reply given before the written report stops it at once


def deadlines(policy: SlaPolicy, severity: str, kind: str, reported_at: datetime,
              calendars: Calendars) -> dict[str, ClockState]:
    """Each clock's deadline for a report at ``reported_at``, as if every start event happened then."""
    instants = [reported_at]
    events = {name: instants for name in ("written_report", "any_report", "onsite_requested", "change_approved")}
    facts = TicketFacts(severity=severity, kind=kind, events=events)
    return {s.name: s for s in evaluate(policy, facts, calendars, reported_at)}
