"""Database plumbing shared by every package: engine, sessions, UTC timestamps.

The product runs on one SQLite file by default and on PostgreSQL beyond one
machine; both must behave the same, so the dialect differences live here and
nowhere else:

* SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` transactions, so that
  concurrent writers in one process wait for each other instead of failing with
  "database is locked" when a read transaction tries to upgrade to a write;
  and ``synchronous=FULL``, because a message we acknowledged to WeCom is one
  WeCom will never send again.
* Timestamps are stored as UTC and always come back timezone-aware, even from
  SQLite, which has no timezone type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Session, create_engine

from tickets import deferred  # noqa: F401  (its session hooks must be registered wherever sessions are)

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The real clock. Code that decides on time takes a ``now`` argument instead."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {value!r}")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite stores text; keep it naive-UTC there so string order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the per-dialect settings described above."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so that we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a message acknowledged to WeCom must survive a power cut, not only a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine plus a transactional session scope.

    Every state change of the product happens inside one ``with db.session()``
    block: it commits when the block ends and rolls back if it raises.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def insert_all(session: Session, objects: list[Any], *, key: str) -> None:
    """INSERT new rows of one model in one statement; they come back with ids, in the session.

    For rows whose id is needed at once (a ticket's number goes into its acknowledgement):
    an ORM flush per row costs a unit-of-work cycle each, and the inbound worker opens a
    batch of tickets at a time (issue 5). The objects end up as if loaded from the
    database: persistent, in the session's identity map, with nothing pending.

    ``key``: a column whose values differ among ``objects``; the ids are matched back by it.
    (Asking SQLAlchemy to keep the parameters' order instead makes it send one statement
    per row on SQLite, whose RETURNING promises no order.)
    """
    if not objects:
        return
    table = type(objects[0]).__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    rows = [{name: getattr(obj, name) for name in columns} for obj in objects]
    by_key = {row[key]: obj for row, obj in zip(rows, objects, strict=True)}
    if len(by_key) != len(objects):
        raise ValueError(f"insert_all: {key} is not distinct among the {table.name} rows")
    for new_id, value in session.execute(insert(table).returning(table.c.id, table.c[key]), rows):
        obj = by_key.pop(value)
        obj.id = new_id
        make_transient_to_detached(obj)
        session.add(obj)
        deferred.attached(session, obj)
    if by_key:  # pragma: no cover - the database answered fewer rows than it was given
        raise RuntimeError(f"insert_all: no id came back for {len(by_key)} {table.name} rows")


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any], conflict: list[str]) -> bool:
    """INSERT a row unless one with the same ``conflict`` key exists; True if inserted.

    This is how deduplication works everywhere (WeCom ``MsgId``, mail
    Message-ID, hotline call id): the database's unique key decides, so two
    processes racing on the same message cannot both win.
    """
    dialect = session.get_bind().dialect.name
    table = model.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        # psycopg reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING: ask for the new row instead.
        stmt = _insert_unless_conflict(dialect, table, tuple(conflict), returning=True)
        return session.execute(stmt, values).first() is not None
    return bool(session.execute(_insert_unless_conflict(dialect, table, tuple(conflict)), values).rowcount)


def insert_returning_id(session: Session, model: type, values: dict[str, Any], conflict: list[str]) -> int | None:
    """:func:`insert_ignoring_conflict` that answers the new row's id (None: the key was taken)."""
    table = model.__table__  # type: ignore[attr-defined]
    stmt = _insert_unless_conflict(session.get_bind().dialect.name, table, tuple(conflict), returning=True)
    return session.execute(stmt, values).scalar()


@lru_cache(maxsize=64)
def _insert_unless_conflict(dialect: str, table: Table, conflict: tuple[str, ...], *, returning: bool = False) -> Any:
    """The statement, built once and given the values as parameters.

    Values written into the statement (``.values(**row)``) made SQLAlchemy build and hash
    a new statement for every mail, raw bytes included: most of the journal's cost in
    issue 5's intake benchmark. Parameters keep one compiled statement per table.
    """
    if dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    elif dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    else:  # pragma: no cover - only two exist
        raise RuntimeError(f"unsupported database dialect {dialect}")
    return stmt.returning(*table.primary_key.columns) if returning else stmt


def skip_locked(session: Session) -> dict[str, Any]:
    """Options for ``select().with_for_update`` that let workers share a queue.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``. SQLite has no row locks; there the
    ``BEGIN IMMEDIATE`` transaction already serialises the workers.
    """
    if session.get_bind().dialect.name == "postgresql":
        return {"skip_locked": True}
    return {}
