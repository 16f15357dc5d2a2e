"""How fast does the WeCom callback answer, and how fast do the workers catch up?

WeCom waits 5 s for HTTP 200 and then delivers the same message again, so the
callback must stay fast whatever the workers are doing. This benchmark starts
the real app (uvicorn, workers on) on a loopback port with the WeCom channel
on, its sending pointed at the loopback FakeWeCom, then plays WeCom: N signed,
encrypted text callbacks from the demo nurse 刘芳 (``liufang``), distinct
MsgIds, one after another over one keep-alive connection.

It prints each request's wall time (p50/p90/p99/max) and the throughput, then
waits (bounded) until the inbound worker has processed every message and the
outbox worker has delivered every reply, and prints those drain times, the
ticket count (one reporter's messages all go to her one open ticket, so 1 on
a fresh database) and the journal rows that are ``done``.

    python bench/callback_latency.py [--n 1000] [--db sqlite|URL]

``--db sqlite`` (the default) uses a fresh SQLite file in a temporary
directory; any other value is a database URL (e.g. an EMPTY PostgreSQL
database: ``postgresql+psycopg://postgres@127.0.0.1:5432/hd_bench``), which
is migrated and given the demo data. Not a test: run it on demand.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.fakes` imports when run as a script

import httpx  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from admin.app import build_runtime, create_app  # noqa: E402
from admin.demo import load_demo  # noqa: E402
from admin.migrate import upgrade  # noqa: E402
from admin.runtime import Runtime  # noqa: E402
from admin.settings import Settings  # noqa: E402
from intake.journal import DONE, FAILED, PENDING, InboundRecord  # noqa: E402
from tests.fakes import wecom_crypto  # noqa: E402
from tests.fakes.wecom_driver import CallbackDriver  # noqa: E402
from tests.fakes.wecom_server import FakeWeCom, LoopbackServer  # noqa: E402
from tickets import utcnow  # noqa: E402
from tickets.models import Message, Outbox, OutboxStatus, Ticket  # noqa: E402

CORP_ID = "wwbench0000000001"
AGENT_ID = "1000002"
SECRET = "bench-app-secret"
TOKEN = "benchCallbackToken"
AES_KEY = wecom_crypto.make_aes_key()
ENGINEER_CHAT = "hdengineers"
REPORTER = "liufang"
FIRST = "HIS挂号界面打不开，提示连接超时"
POLL_S = 0.05


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100), at least 1
    return sorted_values[int(rank) - 1]


def text_for(i: int) -> str:
    # Not a number on its own: the bot must not read it as an answer to its severity question.
    return FIRST if i == 0 else f"补充情况：挂号窗口仍然无法使用（第{i}次反馈）"


def settings_for(var_dir: Path, db: str, api_base: str, inline_workers: bool) -> Settings:
    url = f"sqlite:///{var_dir / 'helpdesk.db'}" if db == "sqlite" else db
    return Settings(
        var_dir=var_dir, database_url=url, secret_key="bench-secret", workers=inline_workers, log_level="WARNING",
        wecom_corp_id=CORP_ID, wecom_token=TOKEN, wecom_aes_key=AES_KEY,
        wecom_secret=SECRET, wecom_agent_id=AGENT_ID, wecom_api_base=api_base,
        wecom_engineer_chatid=ENGINEER_CHAT,
    )


def prepare(settings: Settings) -> tuple[Runtime, str]:
    settings.ensure_var_dir()
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    with runtime.db.session() as session:
        load_demo(session, settings.var_dir, utcnow())
    return runtime, runtime.db.dialect


def journal_counts(runtime: Runtime, since: datetime) -> dict[str, int]:
    with runtime.db.session() as session:
        rows = session.exec(
            select(InboundRecord.status, func.count())
            .where(InboundRecord.channel == "wecom", InboundRecord.sender == REPORTER,
                   InboundRecord.received_at >= since)
            .group_by(InboundRecord.status)
        ).all()
    return {status: n for status, n in rows}


def outbox_counts(runtime: Runtime, since: datetime) -> dict[str, int]:
    with runtime.db.session() as session:
        rows = session.exec(
            select(Outbox.status, func.count()).where(Outbox.created_at >= since).group_by(Outbox.status)
        ).all()
    return {status: n for status, n in rows}


def wait_drained(runtime: Runtime, since: datetime, n: int, t0: float, timeout: float) -> tuple[float | None,
                                                                                               float | None]:
    """Seconds after ``t0`` until the journal, then the outbox, had nothing left; None on timeout."""
    deadline = time.perf_counter() + timeout
    inbound_at = outbox_at = None
    while time.perf_counter() < deadline:
        if inbound_at is None:
            j = journal_counts(runtime, since)
            if j.get(DONE, 0) + j.get(FAILED, 0) >= n and not j.get(PENDING):
                inbound_at = time.perf_counter() - t0
        if inbound_at is not None:
            o = outbox_counts(runtime, since)
            if not o.get(OutboxStatus.PENDING):
                outbox_at = time.perf_counter() - t0
                break
        time.sleep(POLL_S)
    return inbound_at, outbox_at


def table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    rule = "-" * (width + vwidth + 3)
    lines = [title, rule] + [f"{k.ljust(width)}   {v.rjust(vwidth)}" for k, v in rows] + [rule]
    return "\n".join(lines)


class _QuietForcedStop(logging.Filter):
    """LoopbackServer stops uvicorn with force_exit, which skips the lifespan shutdown
    and cancels it instead; uvicorn logs that CancelledError. Harness noise, not the product."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "CancelledError" not in record.getMessage()


def start_worker_process(settings: Settings) -> subprocess.Popen[bytes]:
    """``helpdesk worker`` in its own process, as a scaled deployment runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env |= {f"HELPDESK_{name.upper()}": str(getattr(settings, name)) for name in (
        "var_dir", "database_url", "secret_key", "wecom_corp_id", "wecom_token", "wecom_aes_key", "wecom_secret",
        "wecom_agent_id", "wecom_api_base", "wecom_engineer_chatid")}
    env["HELPDESK_LOG_LEVEL"] = "WARNING"
    helpdesk = Path(sys.executable).parent / "helpdesk"
    return subprocess.Popen([str(helpdesk), "worker"], env=env, stdout=subprocess.DEVNULL)


def run(n: int, db: str, drain_timeout: float, workers: str = "inline") -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.error").addFilter(_QuietForcedStop())
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as tmp, \
            FakeWeCom(CORP_ID, SECRET, agent_id=AGENT_ID, users={REPORTER: "刘芳", "zhangwei": "张伟"}) as wecom:
        wecom.add_chat(ENGINEER_CHAT, ["zhangwei", "lina", "wangqiang"], name="维保工程师群")
        settings = settings_for(Path(tmp) / "var", db, wecom.base_url, inline_workers=workers == "inline")
        runtime, dialect = prepare(settings)
        worker = start_worker_process(settings) if workers == "process" else None
        with runtime.db.session() as session:
            tickets_before = session.exec(select(func.count()).select_from(Ticket)).one()
        app = create_app(settings, runtime=runtime)
        driver = CallbackDriver("http://placeholder", token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID,
                                agent_id=AGENT_ID)
        latencies: list[float] = []
        failures: list[str] = []
        with LoopbackServer(app, lifespan="on") as server, \
                httpx.Client(base_url=server.base_url, timeout=5.0) as client:
            driver.base_url = server.base_url
            client.get("/healthz").raise_for_status()  # open the keep-alive connection
            since = utcnow()
            base_id = time.time_ns()
            t0 = time.perf_counter()
            for i in range(n):
                xml = driver.build_text(REPORTER, text_for(i), msg_id=base_id + i)
                signed = driver.sign_xml(xml)  # encrypting is WeCom's work: outside the timing
                started = time.perf_counter()
                try:
                    resp = client.post(driver.path, params=signed.params, content=signed.body.encode(),
                                       headers={"Content-Type": "text/xml"})
                except httpx.HTTPError as exc:
                    failures.append(f"#{i}: {exc!r}")
                    continue
                finally:
                    latencies.append(time.perf_counter() - started)
                if resp.status_code != 200:
                    failures.append(f"#{i}: HTTP {resp.status_code} {resp.text[:80]}")
            sent_s = time.perf_counter() - t0
            inbound_s, outbox_s = wait_drained(runtime, since, n, t0, drain_timeout)

            j = journal_counts(runtime, since)
            o = outbox_counts(runtime, since)
            with runtime.db.session() as session:
                tickets_after = session.exec(select(func.count()).select_from(Ticket)).one()
                last = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
                on_last = session.exec(select(func.count()).select_from(Message).where(
                    Message.ticket_id == (last.id if last else 0), Message.direction == "in")).one()
            calls = wecom.calls
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)
        runtime.db.dispose()

    ms = sorted(x * 1000 for x in latencies)
    over_5s = sum(1 for x in ms if x > 5000)
    print(f"\nWeCom callback benchmark: {n} text callbacks from {REPORTER}, one keep-alive connection, "
          f"database {dialect}{'' if db == 'sqlite' else ' (' + db.split('@')[-1] + ')'}, "
          f"workers {'in the web process' if workers == 'inline' else 'in a separate helpdesk worker process'}\n")
    print(table("callback request wall time", [
        ("requests", f"{len(ms)}"),
        ("non-200 / errors", f"{len(failures)}"),
        ("p50", f"{percentile(ms, 50):.2f} ms"),
        ("p90", f"{percentile(ms, 90):.2f} ms"),
        ("p99", f"{percentile(ms, 99):.2f} ms"),
        ("max", f"{ms[-1]:.2f} ms" if ms else "n/a"),
        ("mean", f"{statistics.fmean(ms):.2f} ms" if ms else "n/a"),
        ("over WeCom's 5 s limit", f"{over_5s}"),
        ("sending took", f"{sent_s:.2f} s"),
        ("throughput", f"{n / sent_s:.0f} req/s"),
    ]))
    print()
    fmt = (lambda s: f"{s:.2f} s" if s is not None else f"NOT within {drain_timeout:.0f} s")  # noqa: E731
    after_send = (lambda s: f"{s - sent_s:.2f} s" if s is not None else "—")  # noqa: E731
    print(table("workers", [
        ("journal drained (from first request)", fmt(inbound_s)),
        ("journal drained (after last response)", after_send(inbound_s)),
        ("outbox drained (from first request)", fmt(outbox_s)),
        ("outbox drained (after last response)", after_send(outbox_s)),
        ("end-to-end rate", f"{n / inbound_s:.0f} msg/s" if inbound_s else "—"),
    ]))
    print()
    endpoint_outcomes: dict[str, int] = {}
    for c in calls:
        key = f"{c.endpoint} {c.outcome}"
        endpoint_outcomes[key] = endpoint_outcomes.get(key, 0) + 1
    print(table("results", [
        ("tickets at the end", f"{tickets_after}"),
        ("tickets opened by this run", f"{tickets_after - tickets_before}"),
        (f"inbound messages on ticket #{last.id if last else '?'}", f"{on_last}"),
        ("journal rows done", f"{j.get(DONE, 0)} / {n}"),
        ("journal rows pending / failed", f"{j.get(PENDING, 0)} / {j.get(FAILED, 0)}"),
        ("outbox rows sent / pending / dead",
         f"{o.get(OutboxStatus.SENT, 0)} / {o.get(OutboxStatus.PENDING, 0)} / {o.get(OutboxStatus.DEAD, 0)}"),
        *[(f"FakeWeCom {k}", str(v)) for k, v in sorted(endpoint_outcomes.items())],
    ]))
    for f in failures[:10]:
        print("failure:", f)
    ok = (not failures and inbound_s is not None and outbox_s is not None and j.get(DONE, 0) == n
          and (db != "sqlite" or tickets_after == 1))
    print("\nOK" if ok else "\nPROBLEMS: see above")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="callbacks to send (default 1000)")
    parser.add_argument("--db", default="sqlite", help="'sqlite' (fresh temp file, default) or a database URL")
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="seconds to wait for the workers after the last request (default 300)")
    parser.add_argument("--workers", choices=["inline", "process"], default="inline",
                        help="run the workers in the web process (default) or as `helpdesk worker` beside it")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return run(args.n, args.db, args.drain_timeout, args.workers)


if __name__ == "__main__":
    sys.exit(main())
