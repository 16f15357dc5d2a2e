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
        points.setdefault(state.target * fraction, (f"{round(fraction * 100)}%", f"{round(fraction * 100)}%"))
    for left in plan.before_due:
        if left < state.target:
            minutes = int(left.total_seconds() // 60)
            points.setdefault(state.target - left, (f"-{minutes}m", f"{minutes} 分钟"))
    out = [
        Checkpoint(key=f"{stem}:{name}", kind=REMIND, level=0, at=calendar.add(now, mark - state.elapsed),
                   label=label, left=state.target - mark)
        for mark, (name, label) in sorted(points.items())
        if mark > state.elapsed
    ]
    out.append(Checkpoint(key=f"{stem}:breach", kind=ESCALATE, level=1, at=state.due_at, label="已超时",
                          left=timedelta(0)))
    out.append(Checkpoint(key=f"{stem}:breach+{int(plan.escalate_after.total_seconds() // 60)}m", kind=ESCALATE,
                          level=2, at=calendar.add(state.due_at, plan.escalate_after), label="超时未处理",
                          left=timedelta(0)))
    return out
