"""How fast are SLA deadlines, and do they agree with a naive minute-stepping reference?

N tickets (default 100,000) get random report instants, uniform across
2025-01-01..2027-12-31 in Asia/Shanghai, a random preset of
:data:`sla.presets.PRESETS`, a random severity of that preset and a random kind
of work. Each preset gets its calendars once, before any timing:
``Calendars("Asia/Shanghai", DEFAULT_WEEK, library_rules()).for_policy(policy)``
(China's statutory holidays and 调休 days for the years chinesecalendar knows;
2027 is unconfirmed, so the weekday rule — as it would be in production today).

Timed:

1. every clock's deadline of every ticket through the production path,
   :func:`sla.clocks.deadlines` — deadlines per second (target ≥ 50,000);
2. the raw calendar functions: ``add`` on the ``working_hours`` and
   ``working_days`` calendars with random starts and targets.

Checked: a sample of K tickets (report instants rounded down to the whole
minute) is computed again by a deliberately naive reference written here,
independent of :mod:`sla.calendar`'s arithmetic — 7×24 and working-hours
clocks step minute by minute, and so do working-days clocks, counting the
closes of business they pass as the Civil Code counts (the start day does not count; the deadline is the close of
business of the N-th working day after it). Every deadline must agree exactly;
the reference's rate gives the speed ratio (target ≥ 100×). The same sample
also checks the raw ``add`` of both calendars, because no preset clock uses the
working-hours calendar.

    python bench/sla_bench.py [--tickets 100000] [--sample 300] [--seed 20250101]

Exit status: 0 when everything agrees and both targets are met, 1 on any
disagreement, 2 when everything agrees but a target is missed. Not a test: run
it on demand.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `sla` imports when run as a script

from sla.calendar import DayRules, WorkingWeek  # noqa: E402
from sla.clocks import DEFAULT_WEEK, Calendars, deadlines  # noqa: E402
from sla.policy import SlaPolicy  # noqa: E402
from sla.presets import PRESETS  # noqa: E402
from sla.statutory import library_rules  # noqa: E402

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
KINDS = ("fault", "bug", "data", "change", "consult")
FIRST = datetime(2025, 1, 1, tzinfo=TZ)
END = datetime(2028, 1, 1, tzinfo=TZ)  # exclusive: the end of 2027-12-31
# What sla.clocks.deadlines pretends happened at the report instant: every clock's start event.
STARTED_EVENTS = frozenset({"written_report", "any_report", "onsite_requested", "change_approved"})
# Targets for the raw calendar timing.
RAW_HOURS_MINUTES = (30, 60, 120, 240, 480, 600, 1440)
RAW_WORKING_DAYS = (1, 2, 3, 5, 15, 45)
MINUTE = timedelta(minutes=1)
REFERENCE_MAX_MINUTES = 3700 * 24 * 60  # give up like production does (MAX_SPAN_DAYS)
DEADLINES_TARGET = 50_000
RATIO_TARGET = 100.0


@dataclass(frozen=True)
class Ticket:
    preset: str
    severity: str
    kind: str
    reported_at: datetime


def random_instant(rng: random.Random) -> datetime:
    span_us = (END - FIRST) // timedelta(microseconds=1)
    return (FIRST.astimezone(UTC) + timedelta(microseconds=rng.randrange(span_us))).astimezone(TZ)


def make_tickets(n: int, rng: random.Random) -> list[Ticket]:
    names = list(PRESETS)
    tickets = []
    for _ in range(n):
        preset = rng.choice(names)
        severity = rng.choice(PRESETS[preset].levels).code
        tickets.append(Ticket(preset, severity, rng.choice(KINDS), random_instant(rng)))
    return tickets


def whole_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)  # Asia/Shanghai offsets are whole minutes


# -- the reference: minute stepping, nothing clever ----------------------------------------


class Reference:
    """Naive business time over one week of windows and one set of day rules.

    Only :meth:`DayRules.is_workday` and the week's windows (minutes of the
    local day) are borrowed from the product; the arithmetic is its own.
    """

    def __init__(self, tz: ZoneInfo, week: WorkingWeek, days: DayRules) -> None:
        self.tz, self.week, self.days = tz, week, days
        # Time and count per calendar kind, for the breakdown of the reference's rate.
        self.seconds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def windows(self, day: date) -> tuple[tuple[int, int], ...]:
        if not self.days.is_workday(day):
            return ()
        return self.week.days[day.weekday()] or self.week.makeup

    def is_working_minute(self, instant: datetime) -> bool:
        local = instant.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(lo <= minute < hi for lo, hi in self.windows(local.date()))

    @staticmethod
    def step_minutes(start: datetime, minutes: int, counts: Callable[[datetime], bool]) -> datetime:
        """Walk minute by minute from ``start`` until ``minutes`` counted minutes have gone by."""
        t = start.astimezone(UTC)
        remaining = minutes
        for _ in range(REFERENCE_MAX_MINUTES):
            if remaining == 0:
                return t
            if counts(t):
                remaining -= 1
            t += MINUTE
        raise RuntimeError(f"reference: no {minutes} minutes within the span from {start.isoformat()}")

    def add_24x7(self, start: datetime, minutes: int) -> datetime:
        return self.step_minutes(start, minutes, lambda _t: True)

    def add_working_hours(self, start: datetime, minutes: int) -> datetime:
        return self.step_minutes(start, minutes, self.is_working_minute)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """民法典 第二百零一条、第二百零三条, by minute stepping: walk until the n-th close of business
        (end of a working day's last window) after the start's own day has gone by."""
        if n == 0:
            return start
        start_day = start.astimezone(self.tz).date()
        t = start.astimezone(UTC)
        counted = 0
        for _ in range(REFERENCE_MAX_MINUTES):
            local = t.astimezone(self.tz)
            minute = local.hour * 60 + local.minute
            # A close at 24:00 is 00:00 of the next day.
            day = local.date() if minute else local.date() - timedelta(days=1)
            at = minute or 24 * 60
            windows = self.windows(day) if day > start_day else ()
            if windows and windows[-1][1] == at:
                counted += 1
                if counted == n:
                    return t
            t += MINUTE
        raise RuntimeError(f"reference: no {n} working days after {start.isoformat()}")

    def clocks(self, policy: SlaPolicy, severity: str, kind: str,
               reported_at: datetime) -> dict[str, datetime]:
        """Each clock's deadline for a report at ``reported_at`` (every start event at that instant)."""
        in_hours = self.is_working_minute(reported_at)
        result = {}
        for name, spec in policy.level(severity).clocks.items():
            required = spec.requires is None or spec.requires in STARTED_EVENTS
            if spec.start not in STARTED_EVENTS or not required:
                continue
            # Which target applies is the contract's data, not calendar arithmetic: ask the policy.
            resolved = spec.resolve(kind, in_hours)
            if resolved is None:
                continue
            target, calendar, _ = resolved
            started = time.perf_counter()
            if calendar == "working_days":
                result[name] = self.add_working_days(reported_at, target.days)
            elif calendar == "working_hours":
                result[name] = self.add_working_hours(reported_at, target // MINUTE)
            else:
                result[name] = self.add_24x7(reported_at, target // MINUTE)
            self.seconds[calendar] += time.perf_counter() - started
            self.counts[calendar] += 1
        return result


# -- the runs --------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_production(tickets: list[Ticket],
                   calendars: dict[str, Calendars]) -> tuple[int, float, float, Counter[str]]:
    """All clocks of all tickets through sla.clocks.deadlines.

    Returns (deadlines, wall seconds, CPU seconds, deadlines per calendar kind).
    """
    jobs = [(PRESETS[t.preset], t.severity, t.kind, t.reported_at, calendars[t.preset]) for t in tickets]
    by_calendar: Counter[str] = Counter()
    count = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for policy, severity, kind, reported_at, cals in jobs:
        states = deadlines(policy, severity, kind, reported_at, cals)
        count += len(states)
        for state in states.values():
            by_calendar[state.calendar] += 1
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return count, seconds, cpu_seconds, by_calendar


Jobs = list[tuple[datetime, timedelta]]


def raw_jobs(n: int, rng: random.Random) -> tuple[Jobs, Jobs]:
    hours = [(random_instant(rng), timedelta(minutes=rng.choice(RAW_HOURS_MINUTES))) for _ in range(n)]
    days = [(random_instant(rng), timedelta(days=rng.choice(RAW_WORKING_DAYS))) for _ in range(n)]
    return hours, days


def time_adds(add: Callable[[datetime, timedelta], datetime], jobs: Jobs) -> float:
    started = time.perf_counter()
    for start, duration in jobs:
        add(start, duration)
    return time.perf_counter() - started


def check_sample(sample: list[Ticket], calendars: dict[str, Calendars],
                 references: dict[str, Reference]) -> tuple[int, int, float, list[str]]:
    """(deadlines compared, agreeing, reference seconds, mismatch descriptions)."""
    production = []
    for t in sample:
        states = deadlines(PRESETS[t.preset], t.severity, t.kind, t.reported_at, calendars[t.preset])
        production.append({name: state.due_at for name, state in states.items()})
    started = time.perf_counter()
    reference = [references[t.preset].clocks(PRESETS[t.preset], t.severity, t.kind, t.reported_at)
                 for t in sample]
    ref_seconds = time.perf_counter() - started
    compared = agree = 0
    mismatches = []
    for ticket, prod, ref in zip(sample, production, reference, strict=True):
        for name in sorted(set(prod) | set(ref)):
            compared += 1
            p, r = prod.get(name), ref.get(name)
            if p is not None and r is not None and p == r:
                agree += 1
                continue
            mismatches.append(
                f"{ticket.preset} severity={ticket.severity} kind={ticket.kind} "
                f"reported={ticket.reported_at.isoformat()} clock={name}: "
                f"production={_show(p, name in prod)} reference={_show(r, name in ref)}")
    return compared, agree, ref_seconds, mismatches


def check_raw(hours: Jobs, days: Jobs, calendars: Calendars,
              reference: Reference) -> tuple[int, int, dict[str, float], list[str]]:
    """(adds compared, agreeing, reference seconds per calendar, mismatch descriptions)."""
    compared = agree = 0
    ref_seconds: dict[str, float] = {}
    mismatches = []
    for label, jobs, add, ref_add in (
        ("working_hours", hours, calendars.working_hours.add,
         lambda s, d: reference.add_working_hours(s, d // MINUTE)),
        ("working_days", days, calendars.working_days.add,
         lambda s, d: reference.add_working_days(s, d.days)),
    ):
        starts = [(whole_minute(start), duration) for start, duration in jobs]
        produced = [add(start, duration) for start, duration in starts]
        started = time.perf_counter()
        referenced = [ref_add(start, duration) for start, duration in starts]
        ref_seconds[label] = time.perf_counter() - started
        for (start, duration), p, r in zip(starts, produced, referenced, strict=True):
            compared += 1
            if p == r:
                agree += 1
            else:
                mismatches.append(f"raw {label}.add({start.isoformat()}, {duration}): "
                                  f"production={_show(p, True)} reference={_show(r, True)}")
    return compared, agree, ref_seconds, mismatches


def _show(instant: datetime | None, present: bool) -> str:
    if not present:
        return "(no such clock)"
    return instant.astimezone(TZ).isoformat() if instant is not None else "(no deadline)"


def table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    rule = "-" * (width + vwidth + 3)
    return "\n".join([title, rule] + [f"{k.ljust(width)}   {v.rjust(vwidth)}" for k, v in rows] + [rule])


def run(n: int, k: int, seed: int) -> int:
    rng = random.Random(seed)
    rules = library_rules()
    base = Calendars(TZ_NAME, DEFAULT_WEEK, rules)
    calendars = {name: base.for_policy(policy) for name, policy in PRESETS.items()}
    references = {name: Reference(TZ, cals.week, cals.days) for name, cals in calendars.items()}
    tickets = make_tickets(n, rng)
    sample = [Ticket(t.preset, t.severity, t.kind, whole_minute(t.reported_at))
              for t in rng.sample(tickets, min(k, n))]
    raw_hours, raw_days = raw_jobs(n, rng)
    rss_before = peak_rss_mib()

    count, seconds, cpu_seconds, by_calendar = run_production(tickets, calendars)
    rate = count / seconds
    hours_s = time_adds(base.working_hours.add, raw_hours)
    days_s = time_adds(base.working_days.add, raw_days)

    compared, agree, ref_seconds, mismatches = check_sample(sample, calendars, references)
    ref_rate = compared / ref_seconds if ref_seconds else float("inf")
    ref_by_kind: Counter[str] = sum((r.seconds for r in references.values()), Counter())
    ref_counts: Counter[str] = sum((r.counts for r in references.values()), Counter())
    ratio = rate / ref_rate
    raw_k = min(k, n)
    raw_compared, raw_agree, raw_ref_seconds, raw_mismatches = check_raw(
        raw_hours[:raw_k], raw_days[:raw_k], base, Reference(TZ, base.week, base.days))
    rss_after = peak_rss_mib()
    hours_rate, days_rate = len(raw_hours) / hours_s, len(raw_days) / days_s
    ref_hours_rate = raw_k / raw_ref_seconds["working_hours"]
    ref_days_rate = raw_k / raw_ref_seconds["working_days"]

    confirmed = sorted(rules.confirmed_years)
    print(f"\nSLA deadline benchmark: {n:,} tickets, report instants uniform over 2025-01-01..2027-12-31 "
          f"({TZ_NAME}), {len(PRESETS)} presets, seed {seed}; statutory days for "
          f"{confirmed[0]}–{confirmed[-1]} (later years: weekday rule)\n")
    print(table("production: sla.clocks.deadlines", [
        ("tickets", f"{n:,}"),
        ("clock deadlines computed", f"{count:,}"),
        *[(f"  of which {kind}", f"{c:,}") for kind, c in sorted(by_calendar.items())],
        ("seconds (wall)", f"{seconds:.3f}"),
        ("seconds (CPU of this process)", f"{cpu_seconds:.3f}"),
        ("deadlines/s", f"{rate:,.0f}"),
        ("deadlines per CPU second", f"{count / cpu_seconds:,.0f}"),
        ("target", f"≥ {DEADLINES_TARGET:,}/s"),
        ("µs per deadline", f"{seconds / count * 1e6:.2f}"),
    ]))
    print()
    print(table("raw calendar add (no clock evaluation)", [
        ("working_hours.add calls", f"{len(raw_hours):,}"),
        ("working_hours.add/s", f"{hours_rate:,.0f}"),
        ("working_days.add calls", f"{len(raw_days):,}"),
        ("working_days.add/s", f"{days_rate:,.0f}"),
        ("both together /s", f"{(len(raw_hours) + len(raw_days)) / (hours_s + days_s):,.0f}"),
        ("reference working_hours.add/s (minute stepping)", f"{ref_hours_rate:,.0f}"),
        ("  speed ratio (production / reference)", f"{hours_rate / ref_hours_rate:,.1f}×"),
        ("reference working_days.add/s (minute stepping)", f"{ref_days_rate:,.0f}"),
        ("  speed ratio (production / reference)", f"{days_rate / ref_days_rate:,.1f}×"),
    ]))
    print()
    print(table("reference: minute stepping (7×24, working hours and working days)", [
        ("sample tickets (whole-minute reports)", f"{len(sample):,}"),
        ("sample deadlines", f"{compared:,}"),
        ("reference seconds", f"{ref_seconds:.3f}"),
        ("reference deadlines/s", f"{ref_rate:,.0f}"),
        *[(f"  {kind}: {ref_counts[kind]:,} deadlines", f"{ref_counts[kind] / ref_by_kind[kind]:,.0f}/s")
          for kind in sorted(ref_counts)],
        ("speed ratio (production / reference)", f"{ratio:,.1f}×"),
        ("target", f"≥ {RATIO_TARGET:.0f}×"),
        ("agreement", f"{agree}/{compared} sample deadlines agree"),
        ("raw add agreement", f"{raw_agree}/{raw_compared} raw adds agree"),
    ]))
    print()
    print(table("memory", [
        ("peak RSS after setup", f"{rss_before:.1f} MiB"),
        ("peak RSS at the end", f"{rss_after:.1f} MiB"),
    ]))
    for line in (mismatches + raw_mismatches)[:50]:
        print("MISMATCH", line)
    if len(mismatches) + len(raw_mismatches) > 50:
        print(f"... and {len(mismatches) + len(raw_mismatches) - 50} more mismatches")

    agrees = not mismatches and not raw_mismatches
    fast = rate >= DEADLINES_TARGET
    ratio_ok = ratio >= RATIO_TARGET
    print()
    print(f"{'PASS' if agrees else 'FAIL'}  agreement: {agree}/{compared} sample deadlines agree, "
          f"{raw_agree}/{raw_compared} raw adds agree")
    print(f"{'PASS' if fast else 'FAIL'}  throughput: {rate:,.0f} deadlines/s "
          f"(target ≥ {DEADLINES_TARGET:,})")
    print(f"{'PASS' if ratio_ok else 'FAIL'}  speed ratio: {ratio:,.1f}× the reference "
          f"(target ≥ {RATIO_TARGET:.0f}×)")
    if not agrees:
        return 1
    return 0 if fast and ratio_ok else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to compute (default 100000)")
    parser.add_argument("--sample", type=int, default=300,
                        help="tickets also computed by the minute-stepping reference (default 300)")
    parser.add_argument("--seed", type=int, default=20250101, help="random seed (default 20250101)")
    args = parser.parse_args(argv)
    if args.tickets < 1:
        parser.error("--tickets must be at least 1")
    if args.sample < 1:
        parser.error("--sample must be at least 1")
    return run(args.tickets, args.sample, args.seed)


if __name__ == "__main__":
    sys.exit(main())
