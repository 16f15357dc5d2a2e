"""Real mail servers on loopback for tests: Debian's Dovecot (IMAP + LMTP) and an aiosmtpd sink.

``Dovecot`` writes a private configuration into a fresh temporary directory (nothing
from ``/etc/dovecot``, no root-owned paths), listens on free 127.0.0.1 ports and keeps
its mail as Maildir under that directory. The master runs in the foreground
(``dovecot -F``) as a child of the test process, in its own process group, so
``stop()`` can always take the whole tree down. As a normal user it runs as that
user; as root (CI) it is started as ``nobody``/``nogroup`` instead, so the very same
rootless configuration is used in both cases (see /work/shared/reference/
email-and-calendar.md, section A6).

Mail is put in with IMAP APPEND, which sets INTERNALDATE to a chosen time — the
product uses INTERNALDATE as the report time, so tests deliver mail "received an
hour ago" with ``deliver(..., internaldate=now - 1h)``. ``deliver_lmtp`` goes through
Dovecot's LMTP instead (INTERNALDATE = now, like a real MTA hand-off).
Gotcha (verified): Dovecot silently replaces an INTERNALDATE *in the future* with the
delivery time, so ``deliver`` refuses one — a test clock pinned ahead of the machine's
real clock cannot be used for INTERNALDATE; derive dates from ``datetime.now(UTC)``.
Startup takes ~0.1 s and stopping ~0.02-0.1 s, so the fixture is per test.

``SmtpSink`` is an aiosmtpd ``Controller`` (its own thread and event loop) that
records every message and can be told to refuse the next N deliveries with a chosen
4xx/5xx reply, at RCPT or DATA.

Fixtures ``dovecot`` and ``smtp_sink`` are defined here; a test module re-exports them
with ``dovecot = mailserver.dovecot`` (an import works too, but ruff then reports F811 on
every test parameter of that name). Where Dovecot is not installed the ``dovecot`` fixture skips with the reason, except under
``CI=true`` where it fails (same rule as tests/test_browser.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import email
import email.policy
import grp
import imaplib
import ipaddress
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOVECOT_BIN = "/usr/sbin/dovecot"
DOVECOT_LIBEXEC = "/usr/lib/dovecot"  # imap (dovecot-imapd) and lmtp (dovecot-lmtpd) live here
HOST = "127.0.0.1"

__all__ = [
    "Dovecot", "DovecotError", "ReceivedMail", "RejectedMail", "SmtpSink", "StoredMail", "TlsFiles",
    "dovecot", "dovecot_unavailable", "free_port", "make_tls_files", "parse_internaldate", "require_dovecot",
    "smtp_sink",
]


# -- helpers ----------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _greeting(port: int, context: ssl.SSLContext | None = None) -> bytes:
    """The first line a server on ``port`` sends (b"" when nothing listens or it says nothing)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as raw:
            sock = context.wrap_socket(raw, server_hostname=HOST) if context else raw
            return sock.recv(512).split(b"\r\n")[0]
    except OSError:
        return b""


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for ``localhost``/``127.0.0.1`` signed by it."""

    ca_cert: Path
    cert: Path  # server certificate (PEM)
    key: Path  # its private key (PEM, unencrypted)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the throwaway CA (hostname checked: use 127.0.0.1)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate a CA and a server certificate (EC P-256, valid 30 days) into ``directory``.

    A separate CA (rather than one self-signed leaf) keeps strict X.509 checks of newer
    Pythons/OpenSSL happy.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helpdesk test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


# -- Dovecot ----------------------------------------------------------------------------------------

class DovecotError(RuntimeError):
    """Dovecot did not start, or an IMAP operation of the helper failed (message has the log tail)."""


def dovecot_unavailable() -> str | None:
    """Why Dovecot cannot run here, or None when it can."""
    needed = [DOVECOT_BIN, f"{DOVECOT_LIBEXEC}/imap", f"{DOVECOT_LIBEXEC}/lmtp"]
    missing = [p for p in needed if not os.access(p, os.X_OK)]
    if missing:
        return (f"Dovecot not installed ({', '.join(missing)} missing): "
                "apt-get install dovecot-imapd dovecot-lmtpd, or run .ci/install-debian-test-deps as root")
    return None


@dataclass(frozen=True)
class StoredMail:
    """One message as the server holds it (read with EXAMINE + BODY.PEEK[], so nothing changes)."""

    uid: int
    internaldate: datetime
    flags: frozenset[str]
    raw: bytes


_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}
_INTERNALDATE = re.compile(rb'INTERNALDATE "\s?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"')


def parse_internaldate(line: bytes) -> datetime:
    """The INTERNALDATE in a FETCH response line, as an aware datetime (locale-independent)."""
    m = _INTERNALDATE.search(line)
    if not m:
        raise ValueError(f"no INTERNALDATE in {line[:200]!r}")
    day, mon, year, hh, mm, ss, sign, tzh, tzm = (g.decode() for g in m.groups())
    offset = timedelta(hours=int(tzh), minutes=int(tzm)) * (-1 if sign == "-" else 1)
    return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))


def _imap_date(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("internaldate must be timezone-aware (e.g. datetime.now(UTC) - timedelta(hours=1))")
    return f'"{when.day:02d}-{list(_MONTHS)[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} {when:%z}"'


def _quote(mailbox: str) -> str:
    if not mailbox.isascii():
        raise ValueError("non-ASCII folder names need modified UTF-7; not supported by this helper")
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _group_members(pgid: int) -> list[int]:
    """Running processes of a process group (zombies do not count)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


try:
    _PRCTL: Any = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
except (OSError, AttributeError):  # pragma: no cover - not glibc/Linux
    _PRCTL = None


def _set_pdeathsig() -> None:
    """Runs in the child between fork and exec: SIGTERM the master when the test process dies, so
    a killed pytest leaves no Dovecot behind (the master then stops its children itself)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class Dovecot:
    """A private Dovecot (IMAP, optional IMAPS, LMTP) on loopback. Use as a context manager
    (leaving it stops the server and deletes its directory), or ``start()`` / ``close()``.

    Attributes once started: ``host``, ``port`` (IMAP, plain + STARTTLS when ``tls``),
    ``ssl_port`` (IMAPS, None without ``tls``), ``lmtp_port``, ``users`` (name -> password),
    ``tls`` (``TlsFiles`` or None; ``tls.client_context()`` trusts the server), ``directory``.
    Users log in as ``name`` or ``name@any.domain`` (``auth_username_format = %Ln``).
    """

    def __init__(self, users: Mapping[str, str] | None = None, *, tls: bool = True,
                 startup_timeout: float = 10.0) -> None:
        self.users: dict[str, str] = dict(users if users is not None else {"helpdesk": "secret"})
        self.host = HOST
        self.port = 0
        self.ssl_port: int | None = None
        self.lmtp_port = 0
        self.tls: TlsFiles | None = None
        self.directory: Path | None = None
        self._want_tls = tls
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        if os.geteuid() == 0:
            self._run_as: tuple[str, str] | None = ("nobody", "nogroup")
            uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        else:
            self._run_as = None
            uid, gid = os.getuid(), os.getgid()
        self._uid, self._gid = uid, gid

    # -- lifecycle --

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "dovecot.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no log)"

    def start(self) -> Dovecot:
        reason = dovecot_unavailable()
        if reason:
            raise DovecotError(reason)
        if self.directory is None:
            base = tempfile.gettempdir()
            # unix socket paths under base_dir must stay well under 108 bytes
            self.directory = Path(tempfile.mkdtemp(prefix="dovecot-", dir=base if len(base) < 40 else "/tmp"))
            os.chmod(self.directory, 0o755)
            for sub in ("mail", "home", "state"):
                (self.directory / sub).mkdir()
            if self._want_tls:
                self.tls = make_tls_files(self.directory / "tls")
        for attempt in range(3):  # a picked port can be taken in between: retry with new ones
            try:
                self._start_once()
                return self
            except DovecotError as exc:
                self.stop()
                if "in use" in str(exc) and attempt < 2:
                    continue
                self.close()
                raise
            except BaseException:
                self.close()  # never leave a daemon or a directory behind
                raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        assert self.directory is not None
        self.port, self.lmtp_port = free_port(), free_port()
        self.ssl_port = free_port() if self.tls else None
        self._write_users()
        (self.directory / "dovecot.conf").write_text(self._config())
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()
        self._chown_tree()
        kwargs: dict[str, Any] = {}
        if self._run_as:
            kwargs.update(user=self._run_as[0], group=self._run_as[1], extra_groups=[])
        if threading.current_thread() is threading.main_thread():
            # PR_SET_PDEATHSIG fires when the forking *thread* exits: only safe from the main thread.
            kwargs["preexec_fn"] = _set_pdeathsig
        stderr_path = self.directory / "dovecot.stderr"
        with open(stderr_path, "wb") as stderr:  # a file, not a pipe nobody drains
            self._proc = subprocess.Popen(
                [DOVECOT_BIN, "-F", "-c", str(self.directory / "dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True, cwd=self.directory, **kwargs)
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._proc.poll() is not None:
                err = stderr_path.read_text(errors="replace")
                raise DovecotError(f"dovecot exited at startup: {err.strip()}\n{self.log_tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise DovecotError(f"dovecot did not greet on {self.port}/{self.lmtp_port}/{self.ssl_port} "
                                   f"within {self._startup_timeout}s\n"
                                   f"{self.log_tail()}")
            time.sleep(0.02)

    def _ready(self) -> bool:
        """Dovecot itself answers on every port (not merely *something*: a port taken by another
        program would also accept connections)."""
        if not _greeting(self.port).startswith(b"* OK") or b"Dovecot" not in _greeting(self.lmtp_port):
            return False
        if self.ssl_port and self.tls:
            return _greeting(self.ssl_port, self.tls.client_context()).startswith(b"* OK")
        return True

    def stop(self) -> None:
        """Stop the master and every child (SIGTERM, then SIGKILL to the process group)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the master leads its own group
        # SIGTERM to the whole group: usually everything is gone within ~20 ms. When a child has just
        # exited the master sometimes waits a 1 s tick before it reaps and exits: then SIGKILL it
        # (a disposable instance; leftover zombies are reaped by init within seconds).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=5)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and _group_members(pgid):
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def close(self) -> None:
        """``stop()`` and delete the directory with all mail."""
        self.stop()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    # -- configuration --

    def _config(self) -> str:
        d = self.directory
        user = pwd.getpwuid(self._uid).pw_name
        group = grp.getgrgid(self._gid).gr_name
        if self.tls:
            tls = (f"ssl = yes\nssl_cert = <{self.tls.cert}\nssl_key = <{self.tls.key}\n"
                   "ssl_min_protocol = TLSv1.2\n")
            imaps = f"  inet_listener imaps {{\n    address = {HOST}\n    port = {self.ssl_port}\n    ssl = yes\n  }}\n"
        else:
            tls = "ssl = no\n"
            imaps = "  inet_listener imaps {\n    port = 0\n  }\n"
        return f"""# written by tests/fakes/mailserver.py — private test instance
protocols = imap lmtp
listen = {HOST}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{tls}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {self._uid}
last_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{d}/mail/%n
mail_fsync = never
mail_max_userip_connections = 1000
auth_failure_delay = 0
lmtp_save_to_detail_mailbox = no
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
{imaps}}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
"""

    def _write_users(self) -> None:
        assert self.directory is not None
        lines = []
        for name, password in self.users.items():
            if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or any(c in password for c in ":\n"):
                raise ValueError(f"unsupported user name or password for the passwd-file: {name!r}")
            lines.append(f"{name}:{{PLAIN}}{password}::::{self.directory}/home/{name}\n")
        tmp = self.directory / "users.tmp"
        tmp.write_text("".join(lines))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.directory / "users")  # passwd-file is re-read when it changes

    def _chown_tree(self) -> None:
        if not self._run_as or self.directory is None:
            return
        for root, dirs, files in os.walk(self.directory):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(root, name), self._uid, self._gid)
        os.chown(self.directory, self._uid, self._gid)

    def add_user(self, name: str, password: str) -> None:
        """Add (or change) a user while the server runs."""
        with self._lock:
            self.users[name] = password
            if self.directory is not None:
                self._write_users()
                self._chown_tree()

    # -- mail operations (synchronous imaplib; ``a``-prefixed versions run them in a thread) --

    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib ``imaplib`` connection (helper side, not the product's client)."""
        if not self.running:
            raise DovecotError("dovecot is not running")
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            self._ok(conn.login(user, self.users[user]), "LOGIN")
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def _ok(self, resp: tuple[str, list[Any]], what: str) -> list[Any]:
        typ, data = resp
        if typ != "OK":
            raise DovecotError(f"{what} failed: {typ} {data!r}\n{self.log_tail(10)}")
        return data

    def create_folder(self, user: str, folder: str) -> None:
        with self.imap(user) as conn:
            typ, data = conn.create(_quote(folder))
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(x for x in data if isinstance(x, bytes)):
                raise DovecotError(f"CREATE {folder} failed: {data!r}")

    def deliver(self, user: str, raw: bytes, internaldate: datetime | None = None, folder: str = "INBOX",
                flags: str = "") -> int:
        """APPEND ``raw`` to ``folder`` (created if missing) with INTERNALDATE ``internaldate``
        (aware datetime, not in the future; default now). ``flags`` e.g. ``"\\\\Seen"``. Returns the new UID."""
        if isinstance(raw, str):
            raise TypeError("raw must be bytes (the message exactly as it sits on the server)")
        date = None
        if internaldate is not None:
            date = _imap_date(internaldate)
            if internaldate > datetime.now(UTC) + timedelta(seconds=1):
                raise ValueError(f"internaldate {internaldate} is in the future: Dovecot silently replaces "
                                 "future INTERNALDATEs with the delivery time (pin test clocks to the past)")
        if folder.upper() != "INBOX":
            self.create_folder(user, folder)
        with self.imap(user) as conn:
            data = self._ok(conn.append(_quote(folder), f"({flags})" if flags else None, date, raw), "APPEND")
        m = re.search(rb"APPENDUID \d+ (\d+)", b" ".join(x for x in data if isinstance(x, bytes)))
        if not m:
            raise DovecotError(f"no APPENDUID in {data!r}")
        return int(m.group(1))

    def deliver_lmtp(self, rcpt: str, raw: bytes, mail_from: str = "sender@example.org") -> None:
        """Hand ``raw`` to Dovecot's LMTP for one recipient (``user`` or ``user@domain``), like an MTA.
        INTERNALDATE becomes the delivery time. One recipient per transaction (see reference A6)."""
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(mail_from, [rcpt], raw)

    def _status(self, user: str, folder: str, item: str) -> int:
        with self.imap(user) as conn:
            data = self._ok(conn.status(_quote(folder), f"({item})"), "STATUS")
        m = re.search(rf"{item} (\d+)".encode(), data[0])
        if not m:
            raise DovecotError(f"no {item} in {data!r}")
        return int(m.group(1))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        return self._status(user, folder, "UIDVALIDITY")

    def uidnext(self, user: str, folder: str = "INBOX") -> int:
        return self._status(user, folder, "UIDNEXT")

    def count(self, user: str, folder: str = "INBOX") -> int:
        return self._status(user, folder, "MESSAGES")

    def messages(self, user: str, folder: str = "INBOX") -> list[StoredMail]:
        """Every message of ``folder`` in UID order, read-only (EXAMINE, BODY.PEEK[])."""
        with self.imap(user) as conn:
            self._ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            data = self._ok(conn.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])"), "UID FETCH")
        out = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, raw = item
            uid = re.search(rb"UID (\d+)", head)
            flags = re.search(rb"FLAGS \(([^)]*)\)", head)
            if not uid or not flags:
                raise DovecotError(f"unexpected FETCH line {head!r}")
            out.append(StoredMail(int(uid.group(1)), parse_internaldate(head),
                                  frozenset(flags.group(1).decode().split()), bytes(raw)))
        return sorted(out, key=lambda m: m.uid)

    def flags(self, user: str, uid: int, folder: str = "INBOX") -> set[str]:
        """The flags of message ``uid`` (read with EXAMINE, so this does not change them)."""
        with self.imap(user) as conn:
            self._ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            data = self._ok(conn.uid("FETCH", str(uid), "(FLAGS)"), "UID FETCH")
        for line in data:
            if isinstance(line, bytes) and (m := re.search(rb"FLAGS \(([^)]*)\)", line)):
                return set(m.group(1).decode().split())
        raise DovecotError(f"no message with UID {uid} in {user}/{folder}")

    def set_flags(self, user: str, uid: int, flags: str, folder: str = "INBOX") -> None:
        """``UID STORE uid +FLAGS (flags)`` — e.g. a human reading the mail in their own client."""
        with self.imap(user) as conn:
            self._ok(conn.select(_quote(folder)), "SELECT")
            self._ok(conn.uid("STORE", str(uid), "+FLAGS", f"({flags})"), "UID STORE")

    def _maildir(self, user: str, folder: str) -> Path:
        assert self.directory is not None
        root = self.directory / "mail" / user
        return root if folder.upper() == "INBOX" else root / f".{folder}"  # Maildir++ layout

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Make the server forget the folder's UIDs, as when a mailbox is rebuilt or restored.

        The messages stay (same bytes, INTERNALDATE and flags) but get a new UIDVALIDITY and
        UIDs renumbered from 1 — so ``uid > last_uid`` alone would miss them. Returns the new
        UIDVALIDITY. Works on INBOX too (which IMAP cannot DELETE). Clients with the folder
        selected at that moment should reconnect, as they would in real life.
        """
        before = self.uidvalidity(user, folder)
        path = self._maildir(user, folder)
        with self._lock:
            for name in os.listdir(path):
                if name == "dovecot-uidlist" or name.startswith("dovecot.index"):
                    (path / name).unlink()
        after = self.uidvalidity(user, folder)
        if after == before:
            raise DovecotError(f"UIDVALIDITY of {user}/{folder} did not change ({before})")
        return after

    async def adeliver(self, user: str, raw: bytes, internaldate: datetime | None = None,
                       folder: str = "INBOX", flags: str = "") -> int:
        return await asyncio.to_thread(self.deliver, user, raw, internaldate, folder, flags)

    async def acount(self, user: str, folder: str = "INBOX") -> int:
        return await asyncio.to_thread(self.count, user, folder)

    async def aflags(self, user: str, uid: int, folder: str = "INBOX") -> set[str]:
        return await asyncio.to_thread(self.flags, user, uid, folder)


# -- SMTP sink --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # exactly as received after the DATA dot-unstuffing (CRLF line ends)
    message: EmailMessage  # email.policy.default on LF-normalised raw: msg["Subject"] is decoded text
    peer: Any
    tls: bool  # arrived over STARTTLS or implicit TLS
    login: str | None  # the AUTH user, when the sink requires AUTH


@dataclass(frozen=True)
class RejectedMail:
    stage: Literal["RCPT", "DATA"]
    reply: str
    mail_from: str
    rcpt_tos: list[str]


@dataclass
class _Failure:
    remaining: int
    code: int
    text: str
    stage: Literal["RCPT", "DATA"]


@dataclass
class _SinkState:
    received: list[ReceivedMail] = field(default_factory=list)
    rejected: list[RejectedMail] = field(default_factory=list)
    failure: _Failure | None = None


class SmtpSink:
    """An aiosmtpd server on a free loopback port recording every message.

    ``tls``: ``"none"``; ``"starttls"`` (STARTTLS offered on the port; ``require_starttls``
    makes it mandatory); ``"ssl"`` (implicit TLS, as on port 465). ``auth``: user -> password;
    when given, AUTH PLAIN/LOGIN is required before MAIL. ``fail_next(n, code)`` refuses the
    next ``n`` deliveries. Messages: ``sink.messages``; waiting: ``wait_for(n)`` /
    ``await sink.await_messages(n)``.
    """

    def __init__(self, *, tls: Literal["none", "starttls", "ssl"] = "none", require_starttls: bool = False,
                 auth: Mapping[str, str] | None = None) -> None:
        self.host = HOST
        self.port = 0
        self.tls_mode = tls
        self.tls: TlsFiles | None = None
        self._require_starttls = require_starttls
        self._auth = dict(auth) if auth else None
        self._state = _SinkState()
        self._cond = threading.Condition()
        self._controller: Controller | None = None
        self._dir: Path | None = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SmtpSink:
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": True, "decode_data": False}
        if self.tls_mode != "none":
            self._dir = Path(tempfile.mkdtemp(prefix="smtpsink-"))
            self.tls = make_tls_files(self._dir)
            if self.tls_mode == "starttls":
                kwargs.update(tls_context=self.tls.server_context(), require_starttls=self._require_starttls)
            else:
                kwargs["ssl_context"] = self.tls.server_context()
        if self._auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.tls_mode == "starttls")
        last: Exception | None = None
        for _attempt in range(3):
            self.port = free_port()
            controller = _SinkController(_Handler(self), hostname=self.host, port=self.port, **kwargs)
            try:
                controller.start()
            except Exception as exc:  # port taken in between: try another
                last = exc
                with contextlib.suppress(Exception):
                    controller.stop()
                continue
            self._controller = controller
            return self
        raise RuntimeError(f"SmtpSink could not start: {last}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _authenticate(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self._auth is not None and self._auth.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    # -- control --

    def fail_next(self, n: int = 1, code: int = 451, text: str | None = None,
                  stage: Literal["RCPT", "DATA"] = "DATA") -> None:
        """Refuse the next ``n`` deliveries with ``code`` (4xx temporary, 5xx permanent).

        At ``"DATA"`` one refusal per message (the whole transaction); at ``"RCPT"`` one per
        RCPT command. Refused mail is not recorded in ``messages`` but in ``rejected``.
        """
        if not (400 <= code <= 599):
            raise ValueError("code must be 4xx or 5xx")
        text = text or ("4.3.0 Temporary failure, try again later" if code < 500 else "5.7.1 Rejected")
        with self._cond:
            self._state.failure = _Failure(n, code, text, stage) if n > 0 else None

    def _take_failure(self, stage: str) -> str | None:
        with self._cond:
            f = self._state.failure
            if f is None or f.stage != stage or f.remaining <= 0:
                return None
            f.remaining -= 1
            if f.remaining == 0:
                self._state.failure = None
            return f"{f.code} {f.text}"

    def _record(self, mail: ReceivedMail | RejectedMail) -> None:
        with self._cond:
            if isinstance(mail, ReceivedMail):
                self._state.received.append(mail)
            else:
                self._state.rejected.append(mail)
            self._cond.notify_all()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._cond:
            return list(self._state.received)

    @property
    def rejected(self) -> list[RejectedMail]:
        with self._cond:
            return list(self._state.rejected)

    def clear(self) -> None:
        with self._cond:
            self._state.received.clear()
            self._state.rejected.clear()

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[ReceivedMail]:
        """Block until at least ``n`` messages arrived; AssertionError after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._state.received) >= n, timeout):
                raise AssertionError(f"SmtpSink: {len(self._state.received)} of {n} messages after {timeout}s")
            return list(self._state.received)

    async def await_messages(self, n: int = 1, timeout: float = 5.0) -> list[ReceivedMail]:
        """``wait_for`` without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if len(self._state.received) >= n:
                    return list(self._state.received)
            if time.monotonic() > deadline:
                raise AssertionError(f"SmtpSink: {len(self.messages)} of {n} messages after {timeout}s")
            await asyncio.sleep(0.01)


class _SinkSMTP(SMTPServer):
    """aiosmtpd's SMTP allowing AUTH without STARTTLS quietly (it warns on every connection
    otherwise): a loopback sink, and with implicit TLS the session *is* encrypted."""

    def __init__(self, *args: Any, auth_require_tls: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, auth_require_tls=True, **kwargs)
        self._auth_require_tls = auth_require_tls


class _SinkController(Controller):
    def factory(self) -> SMTPServer:
        return _SinkSMTP(self.handler, **self.SMTP_kwargs)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.sink._take_failure("RCPT")
        if reply:
            self.sink._record(RejectedMail("RCPT", reply, envelope.mail_from or "", [address]))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        reply = self.sink._take_failure("DATA")
        if reply:
            self.sink._record(RejectedMail("DATA", reply, envelope.mail_from or "", list(envelope.rcpt_tos)))
            return reply
        raw = envelope.original_content or b""
        # parsed from LF line ends so get_content() gives "\n" text like the source; raw keeps CRLF
        msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.sink._record(ReceivedMail(envelope.mail_from or "", list(envelope.rcpt_tos), bytes(raw), msg,
                                       session.peer, tls, login))
        return "250 OK: queued"


# -- fixtures ---------------------------------------------------------------------------------------

def require_dovecot() -> None:
    """Skip the calling test (with the reason) where Dovecot is missing; fail instead under CI=true."""
    reason = dovecot_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the Dovecot tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh Dovecot with user ``helpdesk`` / password ``secret`` (IMAP, IMAPS, LMTP)."""
    require_dovecot()
    server = Dovecot({"helpdesk": "secret"})
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain-SMTP ``SmtpSink`` (no TLS, no AUTH). Build ``SmtpSink(tls=..., auth=...)`` for more."""
    with SmtpSink() as sink:
        yield sink
