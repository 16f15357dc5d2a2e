"""When to remind before a deadline and when to escalate after it: pure arithmetic.

Zammad warns once, 15 minutes ahead; osTicket never does. A hospital's engineer
needs more: a nudge halfway, a firmer one at 80 %, a last call shortly before the
deadline, and when it passes anyway, the service manager must hear of it, and
someone above them a while later (issue 6).

Every point is measured in the clock's *own* business time: 50 % of a 4-working-hour
target reported at 17:00 on a Friday before National Day falls on the first working
day after the holiday, not on Saturday. A running clock's elapsed business time is
known as of ``now``; the instant at which it reaches ``x`` is ``now`` plus the
remaining ``x - elapsed`` in the clock's calendar. Paused or stopped clocks have no
checkpoints: they never remind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.calendar import Calendar
from sla.clocks import ClockState
from sla.policy import SlaPolicy

REMIND, ESCALATE = "remind", "escalate"


@dataclass(frozen=True)
class ReminderPlan:
    """The points, from the contract's ``reminders`` (:class:`sla.policy.ReminderSpec`)."""

    fractions: tuple[float, ...] = (0.5, 0.8)  # of the target elapsed
    before_due: tuple[timedelta, ...] = (timedelta(minutes=15),)  # business time left
    escalate_after: timedelta = timedelta(hours=1)  # second escalation level, after the breach

    def __post_init__(self) -> None:
        if any(not 0 < f < 1 for f in self.fractions):
            raise ValueError("reminder fractions must lie strictly between 0 and 1")
        if any(d <= timedelta(0) for d in self.before_due) or self.escalate_after <= timedelta(0):
            raise ValueError("reminder offsets must be positive")


def plan_of(policy: SlaPolicy) -> ReminderPlan:
    spec = policy.reminders
    return ReminderPlan(fractions=tuple(p / 100 for p in spec.at_percent),
                        before_due=tuple(timedelta(minutes=m) for m in spec.before_minutes),
                        escalate_after=timedelta(minutes=spec.escalate_after_minutes))


@dataclass(frozen=True)
class Checkpoint:
    """One reminder or escalation of one clock."""

    key: str  # stable name, unique per clock and target: "response:3600:50%"
    kind: str  # REMIND or ESCALATE
    level: int  # 0 reminder, 1 breach (service manager), 2 second level
    at: datetime  # the instant it falls due
    label: str  # what is said: "50%", "15 分钟", "已超时"
    left: timedelta  # business time left on the clock at this point


def checkpoints(state: ClockState, calendar: Calendar, now: datetime, plan: ReminderPlan) -> list[Checkpoint]:
    """The checkpoints of a running clock still ahead of its elapsed time, in time order.

    Points already passed when the clock is evaluated are left out (a reminder that
    50 % has gone is no use at 70 %); the breach and the second level are kept while
    the clock runs, so a deadline passed during an outage is still escalated.
    """
    if state.state != "running" or state.due_at is None or state.target <= timedelta(0):
        return []
    stem = f"{state.name}:{int(state.target.total_seconds())}"
    points: dict[timedelta, tuple[str, str]] = {}
    for fraction in plan.fractions:
        mark = _whole_days(state.target * fraction) if calendar.kind == "working_days" else state.target * fraction
        points.setdefault(mark, (f"{round(fraction * 100)}%", f"{round(fraction * 100)}%"))
    for left in plan.before_due:
        if left < state.target:
            minutes = int(left.total_seconds() // 60)
            points.setdefault(state.target - left, (f"-{minutes}m", f"{minutes} 分钟"))
    out = [
        Checkpoint(key=f"{stem}:{name}", kind=REMIND, level=0, at=_reached(state, calendar, now, mark),
                   label=label, left=state.target - mark)
        for mark, (name, label) in sorted(points.items())
        if mark > max(state.elapsed, timedelta(0))
    ]
    out.append(Checkpoint(key=f"{stem}:breach", kind=ESCALATE, level=1, at=state.due_at, label="已超时",
                          left=timedelta(0)))
    out.append(Checkpoint(key=f"{stem}:breach+{int(plan.escalate_after.total_seconds() // 60)}m", kind=ESCALATE,
                          level=2, at=_later(calendar, state.due_at, plan.escalate_after), label="超时未处理",
                          left=timedelta(0)))
    return out


def _reached(state: ClockState, calendar: Calendar, now: datetime, mark: timedelta) -> datetime:
    """The instant the clock's elapsed business time reaches ``mark``.

    A working-days clock counts whole days (民法典 第二百零一条: the start's own day
    is not counted), so its points are the close of business of a day, and "15
    minutes before" is wall-clock time before its deadline.
    """
    assert state.due_at is not None
    if calendar.kind != "working_days":
        return calendar.add(now, mark - state.elapsed)
    if mark % timedelta(days=1):
        return state.due_at - (state.target - mark)
    stood_still = state.due_at - calendar.add(state.started_at, state.target)  # pauses moved the deadline
    return calendar.add(state.started_at, mark) + stood_still


def _later(calendar: Calendar, instant: datetime, span: timedelta) -> datetime:
    """``span`` of business time after ``instant``; wall-clock where a working-days calendar cannot count it."""
    if calendar.kind == "working_days" and span % timedelta(days=1):
        return instant + span
    return calendar.add(instant, span)


def _whole_days(span: timedelta) -> timedelta:
    return timedelta(days=span // timedelta(days=1))
