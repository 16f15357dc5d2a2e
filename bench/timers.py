"""Reminder timers at scale: 100,000 open tickets with running clocks on PostgreSQL, one
worker firing what falls due over a simulated hour; lag from due time and throughput.

The tickets are written in bulk (this measures firing, not intake): each has a running
60-minute response clock and the timers :func:`sla.reminders.checkpoints` gives it (50 %,
80 %, 15 minutes before, the breach, the second level), reported at instants spread so
that reminders fall due all through the hour. A third are claimed (reminders go to their
engineer), the rest go to the engineers' group; breaches go to the service manager.

The worker is the product's own :meth:`admin.runtime.Runtime.fire_due_timers` in the
product's own loop shape (a pass, then wait up to ``POLL_S`` when nothing was due). The
clock is simulated: ``--speed 4`` runs the hour in fifteen real minutes, so the due rate is
four times a real hour's (``--minutes`` shortens the window). Lag is measured in real seconds, from the instant a timer fell
due (scaled) to the commit of the pass that fired it. The timers that fell due before the
window are seeded as fired (a steady state, not a backlog after an outage).

    HELPDESK_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/timers.py --tickets 100000 --speed 4 --minutes 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from admin.app import build_runtime  # noqa: E402
from admin.demo import load_demo  # noqa: E402
from admin.migrate import migrate  # noqa: E402
from admin.runtime import POLL_S  # noqa: E402
from admin.settings import Settings  # noqa: E402
from sla import Calendars, ClockState  # noqa: E402
from sla.reminders import ReminderPlan, checkpoints  # noqa: E402
from tickets.models import Contract, Person, Ticket, TicketClock, Timer  # noqa: E402

HOUR = timedelta(hours=1)
TARGET = timedelta(minutes=60)
POLICY = {"name": "bench", "levels": [{"code": "fatal", "name": "致命", "description": "停机",
                                       "clocks": {"response": {"calendar": "24x7", "minutes": 60}}}]}


class SimClock:
    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self.t0 = start, speed, time.perf_counter()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.perf_counter() - self.t0) * self.speed)

    def real_of(self, instant: datetime) -> float:
        return self.t0 + (instant - self.start).total_seconds() / self.speed


def fresh_database(server_url: str) -> str:
    server = make_url(server_url)
    name = f"hd_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


def seed(runtime, start: datetime, tickets: int) -> int:  # type: ignore[no-untyped-def]
    """Bulk-write the tickets, their running clocks and their timers; returns timers due in the hour."""
    plan, cal = ReminderPlan(), Calendars().get("24x7")
    with runtime.db.session() as session:
        contract = session.execute(select(Contract).where(Contract.key == "wuhan-central-drg")).scalar_one()
        contract.sla_policy = POLICY
        session.add(contract)
        reporter = session.execute(select(Person).where(Person.wecom_userid == "liufang")).scalar_one()
        engineers = [session.execute(select(Person).where(Person.wecom_userid == u)).scalar_one()
                     for u in ("zhangwei", "lina")]
        first = session.execute(text("SELECT coalesce(max(id), 0) FROM ticket")).scalar_one()
    in_hour = 0
    batch = 5000
    for base in range(0, tickets, batch):
        t_rows, c_rows, timer_rows = [], [], []
        for n in range(base, min(base + batch, tickets)):
            tid = first + 1 + n
            # reported between 2 h before and the end of the hour: every point falls due somewhere in it
            reported = start - 2 * HOUR + timedelta(seconds=(n * 10_800 / tickets))
            assignee = engineers[n % 2].id if n % 3 == 0 else None
            t_rows.append({"id": tid, "hospital_id": contract.hospital_id, "contract_id": contract.id,
                           "reporter_id": reporter.id, "assignee_id": assignee, "summary": f"故障 {n}",
                           "status": "claimed" if assignee else "new", "severity": "fatal",
                           "severity_confirmed": True, "kind": "fault", "reported_at": reported,
                           "first_contact_at": reported, "response_due_at": reported + TARGET,
                           "created_at": reported, "updated_at": reported, "sender_unverified": False})
            c_rows.append({"ticket_id": tid, "name": "response", "calendar": "24x7", "target_seconds": 3600,
                           "clause": "", "state": "running", "started_at": reported, "due_at": reported + TARGET,
                           "paused_seconds": 0, "elapsed_seconds": 0, "breached": False,
                           "calendar_confirmed": True, "updated_at": reported})
            at_seed = min(reported, start)  # the clock as the last sync saw it
            state = ClockState(name="response", calendar="24x7", target=TARGET, clause="", started_at=reported,
                               due_at=reported + TARGET, stopped_at=None, paused_since=None, pause_reason=None,
                               paused=timedelta(0), elapsed=max(timedelta(0), at_seed - reported),
                               breached=False, calendar_confirmed=True)
            for point in checkpoints(state, cal, at_seed, plan):
                timer_rows.append({"key": f"ticket:{tid}:{point.key}", "kind": point.kind, "level": point.level,
                                   "ticket_id": tid, "clock": "response", "label": point.label,
                                   "left_seconds": int(point.left.total_seconds()), "due_at": point.at,
                                   # steady state: what fell due before the hour was fired before it
                                   "status": "pending" if point.at >= start else "fired",
                                   "fired_at": None if point.at >= start else point.at, "created_at": at_seed})
                in_hour += start <= point.at < start + HOUR
        with runtime.db.session() as session:
            session.execute(insert(Ticket.__table__), t_rows)  # type: ignore[attr-defined]
            session.execute(insert(TicketClock.__table__), c_rows)  # type: ignore[attr-defined]
            session.execute(insert(Timer.__table__), timer_rows)  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        session.execute(text("SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))"))
        session.execute(text("ANALYZE"))
    return in_hour


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--speed", type=float, default=4.0, help="simulated seconds per real second")
    parser.add_argument("--minutes", type=int, default=60, help="length of the simulated window")
    parser.add_argument("--db", default="", help="PostgreSQL server URL (default: HELPDESK_TEST_POSTGRES_URL)")
    args = parser.parse_args()
    server = args.db or os.environ.get("HELPDESK_TEST_POSTGRES_URL", "")
    if not server:
        print("set HELPDESK_TEST_POSTGRES_URL or --db to a PostgreSQL server", file=sys.stderr)
        return 2
    url = fresh_database(server)
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    settings = Settings(var_dir=Path("/tmp/bench-timers-var"), database_url=url, secret_key="bench", workers=False,
                        kb_enabled=False)
    settings.ensure_var_dir()
    migrate(url, start)
    clock = SimClock(start, args.speed)
    runtime = build_runtime(settings, clock=clock)
    with runtime.db.session() as session:
        load_demo(session, settings.var_dir, start)
    t0 = time.perf_counter()
    due_in_hour = seed(runtime, start, args.tickets)
    with runtime.db.session() as session:
        pending = session.execute(text("SELECT count(*) FROM timer WHERE status = 'pending'")).scalar_one()
    print(f"seeded {args.tickets} tickets, {pending} pending timers ({due_in_hour} due in the hour) "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)

    clock = SimClock(start, args.speed)  # the hour starts now
    runtime.clock = clock
    lags: list[float] = []
    passes, busiest = 0, 0
    end = start + timedelta(minutes=args.minutes)
    while clock() < end:
        pass_now = clock()
        fired = runtime.fire_due_timers(limit=2000)
        committed = time.perf_counter()
        if fired:
            passes += 1
            busiest = max(busiest, fired)
            with runtime.db.session() as session:
                rows = session.execute(select(Timer.due_at).where(Timer.fired_at >= pass_now)).scalars().all()  # type: ignore[operator]
            lags.extend(committed - clock.real_of(due) for due in rows)
        else:
            time.sleep(min(POLL_S, max(0.0, clock.real_of(end) - time.perf_counter())))
    real = time.perf_counter() - clock.t0
    lags.sort()
    with runtime.db.session() as session:
        outbox_rows = session.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    p = statistics.quantiles(lags, n=100) if len(lags) > 1 else [0.0] * 99
    print({"tickets": args.tickets, "speed": args.speed, "fired": len(lags), "passes": passes,
           "largest_pass": busiest, "real_seconds": round(real, 1),
           "fired_per_real_s": round(len(lags) / real, 1),
           "lag_p50_s": round(p[49], 3), "lag_p99_s": round(p[98], 3), "lag_max_s": round(lags[-1], 3) if lags else 0,
           "outbox_rows": outbox_rows})
    runtime.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
