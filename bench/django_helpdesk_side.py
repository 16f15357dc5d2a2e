"""django-helpdesk's IMAP intake, measured for comparison with our own poller (bench/email_intake.py).

django-helpdesk (https://github.com/django-helpdesk/django-helpdesk) is the best-known open-source
helpdesk in Python that turns mail into tickets. To compare honestly we run *its* code, unmodified,
against the same private Dovecot and the same mails as our poller, and report what it does to them:
how fast, how many tickets, what it leaves on (or deletes from) the server, how many titles come
out garbled, and which timestamp it gives a ticket.

It must never become a dependency of the product, so it lives in a throwaway virtual environment
(``prepare_venv``) and runs in a child process of that venv's Python. The child is *this file*
(``--child CONFIG``): the functions prefixed ``_child_`` run only there and import Django lazily;
everything else uses the standard library only, so ``bench/email_intake.py`` can import this module
from the product's own environment.

The child builds a minimal Django project in a temporary directory (SQLite, Django's locmem mail
backend so the acknowledgement mails django-helpdesk sends are rendered but not delivered), runs
``migrate``, creates one ``helpdesk.Queue`` for plain IMAP, and then times only
``helpdesk.email.process_email()`` — what ``manage.py get_email`` (its cron entry point) calls.

Self-check (needs Dovecot, run from the repository root)::

    .venv/bin/python bench/django_helpdesk_side.py
"""

from __future__ import annotations

import argparse
import base64
import imaplib
import json
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any

# 2.6.1 is the newest django-helpdesk on PyPI at the time of writing. It requires Django>=5.2, and
# Django 5.2 (LTS) is the last series that supports Python 3.11 (Django 6 needs 3.12), so pin both.
DJANGO_HELPDESK_VERSION = "2.6.1"
REQUIREMENTS: tuple[str, ...] = (f"django-helpdesk=={DJANGO_HELPDESK_VERSION}", "Django>=5.2,<5.3")
DEFAULT_VENV = Path("/tmp/bench-django-helpdesk-venv")
_MARKER = ".bench-django-helpdesk"  # holds REQUIREMENTS once pip has installed them
_RESULT_PREFIX = "BENCH-RESULT "  # the child's one JSON line on stdout, whatever else gets printed
_QUEUE_SLUG = "bench"
# What django-helpdesk cuts from every subject (helpdesk.email.STRIPPED_SUBJECT_STRINGS, 2.6.1); the
# expected titles get the same treatment so that this deliberate rewrite does not count as garbling.
_STRIPPED_AFFIXES = ("Re: ", "Fw: ", "RE: ", "FW: ", "Automatic reply: ")
_CJK = re.compile(r"[\u3400-\u9fff]")
_HIGH_LATIN1_RUN = re.compile(r"[\u00a0-\u00ff]{4,}")  # 2+ CJK characters: "Größe" (öß) stays clean


# -- parent side (standard library only) ------------------------------------------------------------

def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def prepare_venv(path: Path = DEFAULT_VENV) -> Path:
    """Create (or reuse) the throwaway venv with django-helpdesk in it and return its directory.

    Reused when its marker file lists exactly ``REQUIREMENTS``, so repeated benchmark runs do not
    reinstall; otherwise the venv is recreated from scratch (``--clear``) so that no stale packages
    skew the measurement.
    """
    marker = path / _MARKER
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if marker.is_file() and marker.read_text() == wanted and _venv_python(path).exists():
        return path
    _run_checked([sys.executable, "-m", "venv", "--clear", str(path)], "creating the venv")
    _run_checked([str(_venv_python(path)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  *REQUIREMENTS], "installing django-helpdesk")
    marker.write_text(wanted)
    return path


def _child_env() -> dict[str, str]:
    """The caller's environment minus anything that could put the product's packages on the child's path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1"}


def _run_checked(argv: Sequence[str], what: str) -> None:
    """Run a setup command; on failure raise with its output (pip's reasons are in stderr)."""
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-3000:]}")


def run_django_helpdesk(host: str, port: int, user: str, password: str, *, folder: str = "INBOX",
                        expected: int, timeout_s: float = 1800,
                        expected_subjects: list[str] | None = None,
                        venv: Path = DEFAULT_VENV) -> dict[str, Any]:
    """Let django-helpdesk import the mailbox ``user``@``host``:``port`` (plain IMAP) and report.

    ``expected`` is how many tickets a lossless intake would make; the processing loop stops there,
    when a pass brings nothing new, or after ``timeout_s`` of processing. ``expected_subjects`` (the
    subjects as the senders meant them) lets garbled titles be counted even when no U+FFFD shows.
    The keys of the result are documented in ``_child_report``; ``seconds`` covers only
    ``process_email()`` calls, never venv creation or ``migrate``.
    """
    python = _venv_python(prepare_venv(venv))
    config = {"host": host, "port": port, "user": user, "password": password, "folder": folder,
              "expected": expected, "timeout_s": timeout_s, "expected_subjects": expected_subjects}
    with tempfile.TemporaryDirectory(prefix="bench-dh-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        try:
            proc = subprocess.run([str(python), str(Path(__file__).resolve()), "--child", str(config_path)],
                                  cwd=tmp, capture_output=True, text=True, timeout=timeout_s + 300,
                                  env=_child_env())
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"django-helpdesk child did not finish within {timeout_s + 300:.0f} s") from exc
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT_PREFIX):
            return json.loads(line[len(_RESULT_PREFIX):])
    raise RuntimeError(f"django-helpdesk child failed (exit {proc.returncode}) without a result:\n"
                       f"{proc.stderr[-4000:]}\n{proc.stdout[-1000:]}")


# -- text checks (used in the child; plain functions so they can be reasoned about alone) -----------

def looks_garbled(text: str) -> bool:
    """True for text damaged by a wrong decode: U+FFFD, lone surrogates, C1 controls, or CJK that was
    decoded as Latin-1 (GBK ``王哲`` shown as ``ÍõÕÜ``; UTF-8 as Latin-1 leaves C1 controls)."""
    if "\ufffd" in text or re.search(r"[\ud800-\udfff\x80-\x9f]", text):
        return True
    for run in _HIGH_LATIN1_RUN.findall(text):  # a CJK character is 2 (GBK) or 3 (UTF-8) bytes >= 0x80
        for codec in ("gbk", "utf-8"):
            try:
                if _CJK.search(run.encode("latin-1").decode(codec)):
                    return True
            except UnicodeDecodeError:
                continue
    return False


def helpdesk_title(subject: str) -> str:
    """The title django-helpdesk would make of a correctly decoded ``subject`` (affixes cut,
    stripped, at most 200 characters) — the yardstick for garbled titles."""
    for affix in _STRIPPED_AFFIXES:
        subject = subject.replace(affix, "")
    subject = subject.strip()
    return subject if len(subject) <= 200 else subject[:197] + "..."


def unmatched_titles(titles: Sequence[str], expected_subjects: Sequence[str]) -> list[int]:
    """Indices of the titles that match no expected subject (a multiset: each expected subject can
    match one title), i.e. titles that were mangled on the way in."""
    remaining = Counter(helpdesk_title(s) for s in expected_subjects)
    unmatched = []
    for i, title in enumerate(titles):
        if remaining[title] > 0:
            remaining[title] -= 1
        else:
            unmatched.append(i)
    return unmatched


# -- child side (runs inside the throwaway venv) ----------------------------------------------------

class _Deadline(BaseException):
    """Raised by SIGALRM to end processing at ``timeout_s``; a BaseException so that django-helpdesk's
    own ``except Exception`` around each queue cannot swallow it."""


class _Collector(logging.Handler):
    """Keeps every WARNING-or-worse record (django-helpdesk reports per-mail failures only by logging)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f" [{type(exc).__name__}: {str(exc)[:200]}]"
        self.lines.append(line)


def _dedupe(lines: Sequence[str]) -> list[str]:
    """Distinct messages in first-seen order, with a repeat count (the StartTLS warning comes every pass)."""
    counts = Counter(lines)
    return [line if counts[line] == 1 else f"{line} (x{counts[line]})" for line in dict.fromkeys(lines)]


def _child_setup_django(workdir: Path) -> None:
    """A minimal project: the apps django-helpdesk 2.6.1 needs, SQLite, locmem mail, then migrate."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    (workdir / "bench_dh_urls.py").write_text(
        "from django.urls import include, path\n"
        "urlpatterns = [path('helpdesk/', include('helpdesk.urls'))]\n")
    sys.path.insert(0, str(workdir))
    settings.configure(
        DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["*"], USE_TZ=True, TIME_ZONE="UTC",
        INSTALLED_APPS=[
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "django.contrib.sites", "django.contrib.humanize", "rest_framework", "helpdesk",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "db.sqlite3")}},
        ROOT_URLCONF="bench_dh_urls", SITE_ID=1, STATIC_URL="/static/",
        MEDIA_ROOT=str(workdir / "media"), DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                       "django.contrib.auth.context_processors.auth",
                                                       "django.contrib.messages.context_processors.messages"]}}],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="helpdesk@bench.example",
        LOGGING_CONFIG=None,  # no Django console handlers: the root collector sees everything
        # Teams mode (on by default) makes a migration depend on the optional pinax-teams app; the
        # intake never touches teams, so switch it off instead of installing more.
        HELPDESK_TEAMS_MODE_ENABLED=False,
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _child_imap(cfg: dict[str, Any]) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(cfg["host"], cfg["port"], timeout=30)
    conn.login(cfg["user"], cfg["password"])
    return conn


def _child_snapshot(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Message-ID, INTERNALDATE, Date header and \\Deleted flag of every mail in the folder, read with
    EXAMINE + BODY.PEEK so that looking changes nothing. Mails are matched to tickets by Message-ID
    (django-helpdesk stores it on the follow-up), so a mail without one counts as not imported."""
    conn = _child_imap(cfg)
    try:
        typ, data = conn.select(f'"{cfg["folder"]}"', readonly=True)
        if typ != "OK":
            raise RuntimeError(f"cannot EXAMINE {cfg['folder']!r}: {data!r}")
        if int(data[0]) > 0:
            typ, data = conn.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)])")
        else:
            typ, data = "OK", []
    finally:
        conn.logout()
    mails: list[dict[str, Any]] = []
    for item in data if typ == "OK" else []:
        if not isinstance(item, tuple):
            continue
        head, body = item
        headers = _parse_headers(body.decode("ascii", "replace"))
        internal = imaplib.Internaldate2tuple(head)
        date = None
        if "date" in headers:
            try:
                date = parsedate_to_datetime(headers["date"]).timestamp()
            except (TypeError, ValueError):
                date = None
        mails.append({"message_id": headers.get("message-id"), "date": date,
                      "internaldate": time.mktime(internal) if internal else None,
                      "deleted": b"\\Deleted" in head})
    return mails


def _parse_headers(block: str) -> dict[str, str]:
    """Lower-cased name -> unfolded value for a small header block."""
    headers: dict[str, str] = {}
    for line in re.sub(r"\r?\n[ \t]+", " ", block).splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _child_create_queue(cfg: dict[str, Any]) -> None:
    """One queue polling the mailbox over plain IMAP, checked on every call (interval 0) and logging
    warnings (the default, no logging type, silences even per-mail failures)."""
    from helpdesk.models import Queue

    Queue.objects.create(
        title="Bench", slug=_QUEUE_SLUG, email_address=f"{cfg['user']}@bench.example",
        allow_email_submission=True, email_box_type="imap", email_box_host=cfg["host"],
        email_box_port=cfg["port"], email_box_ssl=False, email_box_user=cfg["user"],
        email_box_pass=cfg["password"], email_box_imap_folder=cfg["folder"], email_box_interval=0,
        logging_type="warn")


def _child_progress() -> int:
    from helpdesk.models import FollowUp, Ticket

    return Ticket.objects.count() + FollowUp.objects.count()


def _child_process(cfg: dict[str, Any], errors: list[str]) -> tuple[float, int, bool]:
    """Call ``process_email()`` until ``expected`` tickets exist, a pass adds nothing, or time is up.
    Returns (seconds, passes, timed_out); only this loop is timed."""
    from helpdesk.email import process_email
    from helpdesk.models import Ticket

    def alarm(_signum: int, _frame: object) -> None:
        raise _Deadline

    signal.signal(signal.SIGALRM, alarm)
    passes, timed_out = 0, False
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, cfg["timeout_s"])
    try:
        while True:
            before = _child_progress()
            passes += 1
            try:
                process_email(quiet=False)
            except SystemExit:  # imap_sync() calls sys.exit() when login or SELECT is refused
                errors.append("process_email() called sys.exit() (IMAP login/select failed)")
                break
            if Ticket.objects.count() >= cfg["expected"] or _child_progress() == before:
                break
    except _Deadline:
        timed_out = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return time.perf_counter() - start, passes, timed_out


def _child_tickets() -> list[dict[str, Any]]:
    """Every ticket with the Message-ID of the mail that opened it (its first follow-up)."""
    from helpdesk.models import FollowUp, Ticket

    first_mail: dict[int, str] = {}
    for ticket_id, message_id in FollowUp.objects.order_by("id").values_list("ticket_id", "message_id"):
        if message_id:
            first_mail.setdefault(ticket_id, message_id)
    return [{"title": t.title, "description": t.description or "", "created": t.created.timestamp(),
             "message_id": first_mail.get(t.id)} for t in Ticket.objects.order_by("id")]


def _garbling(tickets: list[dict[str, Any]], expected_subjects: list[str] | None) -> dict[str, Any]:
    """Tickets whose title or description was damaged by decoding; with ``expected_subjects`` a title
    that matches none of them counts too (garbling that leaves no U+FFFD, e.g. a misaligned GBK pair)."""
    bad = {i for i, t in enumerate(tickets) if looks_garbled(t["title"]) or looks_garbled(t["description"])}
    unmatched = None
    if expected_subjects is not None:
        unmatched = unmatched_titles([t["title"] for t in tickets], expected_subjects)
        bad.update(unmatched)
    return {
        "tickets_with_replacement_chars": len(bad),
        "garbled_titles": sum(looks_garbled(t["title"]) for t in tickets),
        "garbled_descriptions": sum(looks_garbled(t["description"]) for t in tickets),
        "titles_not_matching_expected": None if unmatched is None else len(unmatched),
    }


def _timestamps(tickets: list[dict[str, Any]], before: list[dict[str, Any]],
                window: tuple[float, float]) -> dict[str, Any]:
    """Does ``Ticket.created`` say when the mail arrived or when the poller ran? Only mails that arrived
    over a minute before the run can tell the two apart; None when there are none."""
    arrived = {m["message_id"]: m["internaldate"] for m in before if m["message_id"] and m["internaldate"]}
    lags, comparable, in_window = [], 0, 0
    for t in tickets:
        internaldate = arrived.get(t["message_id"])
        if internaldate is None:
            continue
        lags.append(t["created"] - internaldate)
        if internaldate < window[0] - 60:
            comparable += 1
            in_window += window[0] - 1 <= t["created"] <= window[1] + 1
    spread = ({"min": round(min(lags), 1), "median": round(statistics.median(lags), 1), "max": round(max(lags), 1)}
              if lags else None)
    return {"created_is_processing_time": (in_window == comparable) if comparable else None,
            "created_minus_internaldate_s": spread}


def _mailbox_fate(tickets: list[dict[str, Any]], before: list[dict[str, Any]],
                  after: list[dict[str, Any]]) -> dict[str, Any]:
    """What happened to the mails on the server, matched to tickets and follow-ups by Message-ID."""
    from helpdesk.models import FollowUp

    imported = set(FollowUp.objects.exclude(message_id=None).values_list("message_id", flat=True))
    still_there = Counter(m["message_id"] for m in after)
    gone = Counter(m["message_id"] for m in before) - still_there
    opened = Counter(t["message_id"] for t in tickets if t["message_id"])
    return {
        "mails_before": len(before),
        "mails_left_in_mailbox": len(after),
        "mails_left_flagged_deleted": sum(m["deleted"] for m in after),
        "deleted_from_server": len(after) < len(before),
        "mails_lost": sum(n for mid, n in gone.items() if mid not in imported),
        "mails_not_imported": sum(n for mid, n in still_there.items() if mid not in imported),
        "duplicate_tickets": sum(n - 1 for n in opened.values()),
    }


def _child_report(cfg: dict[str, Any], run: tuple[float, int, bool], window: tuple[float, float],
                  before: list[dict[str, Any]], after: list[dict[str, Any]], errors: list[str]) -> dict[str, Any]:
    """The result. ``seconds`` covers the ``process_email()`` calls only and ``mails_per_s`` is tickets
    per second of that. Of the mails: ``mails_left_flagged_deleted`` were flagged \\Deleted but not
    expunged, ``mails_lost`` left the server without a ticket or follow-up, ``mails_not_imported`` are
    still there without one. ``tickets_with_replacement_chars`` counts tickets with a garbled title or
    description or (given expected subjects) an unexpected title. ``errors`` are the warnings and
    failures django-helpdesk logged (it reports per-mail failures in no other way), deduplicated."""
    from importlib.metadata import version

    seconds, passes, timed_out = run
    tickets = _child_tickets()
    return {
        "version": version("django-helpdesk"),
        "django_version": version("Django"),
        "tickets": len(tickets),
        "seconds": round(seconds, 3),
        "mails_per_s": round(len(tickets) / seconds, 2) if seconds > 0 else None,
        "passes": passes,
        "timed_out": timed_out,
        **_mailbox_fate(tickets, before, after),
        **_garbling(tickets, cfg.get("expected_subjects")),
        **_timestamps(tickets, before, window),
        "errors": _dedupe(errors),
    }


def _child_main(config_path: Path) -> int:
    """Entry point inside the venv: set up, snapshot, time the intake, snapshot again, report."""
    cfg = json.loads(config_path.read_text())
    collector = _Collector()
    logging.getLogger().addHandler(collector)
    _child_setup_django(config_path.parent)
    _child_create_queue(cfg)
    import helpdesk.email  # noqa: F401 - imported before the clock starts, like a running cron job would have
    before = _child_snapshot(cfg)
    errors: list[str] = []
    wall_start = time.time()
    run = _child_process(cfg, errors)
    window = (wall_start, time.time())
    after = _child_snapshot(cfg)
    report = _child_report(cfg, run, window, before, after, collector.lines + errors)
    print(_RESULT_PREFIX + json.dumps(report, ensure_ascii=False), flush=True)
    return 0


# -- self-check -------------------------------------------------------------------------------------

_UTF8_SUBJECTS = [
    "HIS 门诊挂号模块无法保存", "LIS 检验结果推送延迟", "PACS 影像调阅卡顿", "电子病历打印格式错乱",
    "医保结算接口报错 1102", "住院收费日结对不上", "护士站医嘱执行界面白屏", "药房发药单重复打印",
    "体检系统报告无法导出 PDF", "手麻系统与 HIS 数据不同步",
]
_ASCII_SUBJECTS = [
    "Printer queue stuck on ward 5", "VPN drops every 10 minutes", "Password reset for dr.li",
    "Backup job failed last night", "Re: Server room temperature alarm",
]
_GB2312_SUBJECTS = ["系统无法登录", "急诊科工作站蓝屏", "检验科条码打印机故障", "放射科网络中断", "财务报表数据缺失"]
# Real GBK characters outside GB2312 (喆 86B4, 镕 E946, 堃 88D2, 珺 AC42, 醫 E174), as Chinese mail
# clients send them while still labelling the mail gb2312. (綦 is often quoted as such an example,
# but it is in GB2312: F4EB.)
_GBK_SUBJECTS = ["王喆医生：检验报告打不开", "朱镕的处方无法打印", "张堃反映工作站死机", "李珺：醫保卡读不出", "王喆的排班表丢失"]


def _utf8_mail(subject: str, body: str, when: datetime, cte: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "刘芳 <liufang@hospital.example>"
    msg["To"] = "dj@bench.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="bench.example")
    msg.set_content(body, charset="utf-8", cte=cte)
    return msg.as_bytes()


def _gb2312_labelled_mail(subject: str, body: str, when: datetime, cte: str) -> bytes:
    """A mail labelled gb2312 whose bytes are GBK, subject as an RFC 2047 encoded word, body base64 or
    raw 8-bit (email's own encoders would refuse characters outside GB2312, so it is written by hand)."""
    payload = body.encode("gbk")
    encoded = base64.encodebytes(payload) if cte == "base64" else payload + b"\n"
    head = (f"From: zhangwei@hospital.example\nTo: dj@bench.example\n"
            f"Subject: =?gb2312?B?{base64.b64encode(subject.encode('gbk')).decode()}?=\n"
            f"Date: {format_datetime(when)}\nMessage-ID: {make_msgid(domain='bench.example')}\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=gb2312\n"
            f"Content-Transfer-Encoding: {cte}\n\n")
    return (head.encode("ascii") + encoded).replace(b"\n", b"\r\n")


def _self_check_mails(now: datetime) -> Iterator[tuple[bytes, str, datetime]]:
    """50 mails (raw, subject, arrival), all arrived 2 h to 1 h ago: 30 UTF-8 Chinese (base64 and 8-bit),
    10 ASCII, 5 gb2312-labelled GB2312 and 5 gb2312-labelled GBK (3 base64, 2 8-bit)."""
    base = now - timedelta(hours=2)
    n = 0

    def when() -> datetime:
        nonlocal n
        n += 1
        return base + timedelta(minutes=n)

    for i in range(30):
        subject = f"{_UTF8_SUBJECTS[i % len(_UTF8_SUBJECTS)]}（第{i + 1}次）"
        at = when()
        yield _utf8_mail(subject, f"您好，{subject}，请尽快处理。\n\n刘芳", at, "base64" if i % 3 else "8bit"), subject, at
    for i in range(10):
        subject = f"{_ASCII_SUBJECTS[i % len(_ASCII_SUBJECTS)]} #{i + 1}"
        at = when()
        yield _utf8_mail(subject, f"Hello,\n\n{subject}.\n\nThanks", at, "7bit"), subject, at
    for subject in _GB2312_SUBJECTS:
        at = when()
        yield _gb2312_labelled_mail(subject, f"您好：{subject}。", at, "base64"), subject, at
    for i, subject in enumerate(_GBK_SUBJECTS):
        at = when()
        yield _gb2312_labelled_mail(subject, f"您好：{subject}。", at, "base64" if i < 3 else "8bit"), subject, at


def _self_check() -> int:
    """Deliver the 50 mails to a private Dovecot, run django-helpdesk on them, print the result."""
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # so `tests.fakes` imports when run as a script
    from tests.fakes.mailserver import Dovecot

    print(f"preparing {DEFAULT_VENV} (django-helpdesk {DJANGO_HELPDESK_VERSION}) ...", flush=True)
    prepare_venv()
    with Dovecot(users={"dj": "secret"}, tls=False) as dv:
        subjects = []
        for raw, subject, at in _self_check_mails(datetime.now(UTC)):
            dv.deliver("dj", raw, internaldate=at)
            subjects.append(subject)
        result = run_django_helpdesk(dv.host, dv.port, "dj", "secret", expected=len(subjects),
                                     timeout_s=300, expected_subjects=subjects)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        left = dv.count("dj")
    problems = []
    if result["mails_left_in_mailbox"] != left:
        problems.append(f"mails_left_in_mailbox {result['mails_left_in_mailbox']} != server count {left}")
    if result["tickets"] == 0:
        problems.append("no tickets at all: the setup, not django-helpdesk, is probably broken")
    print("self-check " + ("FAILED: " + "; ".join(problems) if problems else "ok"))
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--child", type=Path, help="internal: run the measurement inside the venv")
    args = parser.parse_args(argv)
    return _child_main(args.child) if args.child else _self_check()


if __name__ == "__main__":
    sys.exit(main())
