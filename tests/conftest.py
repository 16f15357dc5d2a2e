"""Shared fixtures: real databases (a SQLite file and the machine's PostgreSQL),
a pinned clock, the product's runtime with demo data, and a live server.

PostgreSQL tests run where ``HELPDESK_TEST_POSTGRES_URL`` names a server
(``.ci/run`` sets it); elsewhere they skip with that reason, visibly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from admin.app import build_runtime, create_app
from admin.demo import load_demo
from admin.migrate import migrate
from admin.runtime import Runtime
from admin.settings import Settings
from tests.fakes.wecom_server import LoopbackServer
from tickets import Database

PG_ENV = "HELPDESK_TEST_POSTGRES_URL"


class FakeClock:
    """A clock tests set and advance; the product never sleeps on it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 1, 30, tzinfo=UTC))  # Monday 09:30 in Shanghai


def _postgres_server_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)")
    return url


def _admin_dsn() -> str:
    """The PostgreSQL server's maintenance database, for CREATE/DROP DATABASE."""
    return make_url(_postgres_server_url()).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards (skips with the reason where none is configured)."""
    server = make_url(_postgres_server_url())
    name = f"hd_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = _admin_dsn()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, created for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpdesk.db'}"
        return
    with postgres_database() as url:
        yield url


@dataclass
class Env:
    settings: Settings
    runtime: Runtime
    clock: FakeClock
    admin_password: str

    @property
    def db(self) -> Database:
        return self.runtime.db


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    # The knowledge base is off unless a test turns it on: the ticket flows are tested on their own.
    values: dict[str, object] = {"var_dir": tmp_path / "var", "database_url": db_url, "secret_key": "test-secret",
                                 "workers": False, "kb_enabled": False}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def make_env(tmp_path: Path, db_url: str, clock: FakeClock, **overrides: object) -> Env:
    """A migrated database with the demo data, as ``helpdesk migrate`` and ``helpdesk demo`` leave it.

    Migrating and loading the demo take seconds and depend only on the database kind and the
    instant; the first test of each (kind, instant) builds them, later ones copy the result
    (SQLite: the backup API; PostgreSQL: CREATE DATABASE … TEMPLATE), which keeps the suite
    well inside its time budget.
    """
    settings = make_settings(tmp_path, db_url, **overrides)
    settings.ensure_var_dir()
    now = clock()
    key = (make_url(db_url).get_backend_name(), now.isoformat())
    password = _TEMPLATES.restore(key, db_url, settings.var_dir)
    if password is None:
        migrate(settings.database_url, now)
    runtime = build_runtime(settings, clock=clock)
    if password is None:
        with runtime.db.session() as session:
            _, password = load_demo(session, settings.var_dir, now)
        runtime.db.dispose()  # a PostgreSQL template must have no open connections
        _TEMPLATES.keep(key, db_url, settings.var_dir, password)
    return Env(settings=settings, runtime=runtime, clock=clock, admin_password=password)


class _Templates:
    """Migrated demo databases kept for the session, by (database kind, instant)."""

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.kept: dict[tuple[str, str], tuple[str, str, bytes]] = {}  # key -> (copy, password, var file)
        self.pg_names: list[str] = []
        atexit.register(self.clear)

    def keep(self, key: tuple[str, str], db_url: str, var_dir: Path, password: str) -> None:
        cred = (var_dir / "demo_admin_password").read_bytes()
        if key[0] == "sqlite":
            if self.dir is None:
                self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-test-templates-"))
            copy = self.dir / f"{len(self.kept)}.db"
            with contextlib.closing(sqlite3.connect(make_url(db_url).database or "")) as src, \
                    contextlib.closing(sqlite3.connect(copy)) as dst:
                src.backup(dst)
            self.kept[key] = (str(copy), password, cred)
        elif key[0] == "postgresql":
            name = f"hd_tmpl_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(db_url).database}"')
            self.pg_names.append(name)
            self.kept[key] = (name, password, cred)

    def restore(self, key: tuple[str, str], db_url: str, var_dir: Path) -> str | None:
        """Make ``db_url`` a copy of the kept database; its demo admin password, or None if none is kept."""
        if key not in self.kept:
            return None
        copy, password, cred = self.kept[key]
        if key[0] == "sqlite":
            with contextlib.closing(sqlite3.connect(copy)) as src, \
                    contextlib.closing(sqlite3.connect(make_url(db_url).database or "")) as dst:
                src.backup(dst)
        else:
            name = make_url(db_url).database
            with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{copy}"')
        (var_dir / "demo_admin_password").write_bytes(cred)
        return password

    def clear(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.pg_names:
            with contextlib.suppress(Exception), psycopg.connect(_admin_dsn(), autocommit=True) as conn:
                for name in self.pg_names:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_TEMPLATES = _Templates()


@pytest.fixture
def env(tmp_path: Path, db_url: str, clock: FakeClock) -> Iterator[Env]:
    """Migrated database with the demo data, WeCom off, workers not running (tests drive them)."""
    e = make_env(tmp_path, db_url, clock)
    yield e
    e.db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_server(env: Env) -> LoopbackServer:
    """The real app (workers running) on a loopback port; use as a context manager."""
    return LoopbackServer(create_app(env.settings, runtime=env.runtime), lifespan="on")


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy (for work done by background workers)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
