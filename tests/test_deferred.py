"""tickets.deferred: rows queued for one executemany behave as if written at once.

Real databases (SQLite file and PostgreSQL): the point is what the database holds and
what a query in the same transaction sees, savepoints included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, text
from sqlmodel import Session, col, select

from admin.migrate import migrate
from tickets import deferred, outbox
from tickets.audit import BOT, audit
from tickets.db import Database
from tickets.models import AuditLog, Hospital, Outbox, Person

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    migrate(db_url, NOW)
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def inserts(db: Database) -> list[tuple[str, bool]]:
    """(table, executemany) of every INSERT the engine sends."""
    seen: list[tuple[str, bool]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO"):
            seen.append((statement.split()[2].strip('"'), executemany))

    return seen


def _actions(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.exec(select(AuditLog.action).order_by(col(AuditLog.id))).all())


def test_queued_rows_go_out_as_one_statement_per_table_at_commit(db: Database,
                                                                 inserts: list[tuple[str, bool]]) -> None:
    with db.session() as session:
        for n in range(5):
            audit(session, BOT, f"test.{n}", NOW)
            outbox.enqueue(session, channel="webchat", recipient="7", text=f"第{n}条", now=NOW)
        assert deferred.waiting(session) == 10
        assert inserts == []
    assert sorted(inserts) == [("audit_log", True), ("outbox", True)]
    assert _actions(db) == [f"test.{n}" for n in range(5)]
    with db.session() as session:
        texts = session.exec(select(Outbox.text).order_by(col(Outbox.id))).all()
    assert texts == [f"第{n}条" for n in range(5)]  # a recipient's messages leave in the order written


def test_a_query_of_a_waiting_table_sees_the_rows_and_others_leave_them_waiting(db: Database) -> None:
    with db.session() as session:
        audit(session, BOT, "test.seen", NOW)
        session.exec(select(Hospital)).all()  # another table: nothing needs writing yet
        assert deferred.waiting(session) == 1
        assert session.exec(select(func.count()).select_from(AuditLog)
                            .where(AuditLog.action == "test.seen")).one() == 1
        assert deferred.waiting(session) == 0
        outbox.enqueue(session, channel="webchat", recipient="7", text="x", now=NOW)
        # text(): its tables cannot be told, so everything waiting is written first
        assert session.execute(text("SELECT count(*) FROM outbox")).scalar() == 1


def test_a_rolled_back_savepoint_takes_back_its_own_rows_only(db: Database) -> None:
    with db.session() as session:
        audit(session, BOT, "test.before", NOW)
        with pytest.raises(RuntimeError), session.begin_nested():
            audit(session, BOT, "test.inside", NOW)
            # a query inside the savepoint writes the earlier row too; the rollback undoes that write
            assert session.exec(select(func.count()).select_from(AuditLog)).one() >= 2
            raise RuntimeError("this entry fails")
        with session.begin_nested():
            audit(session, BOT, "test.after", NOW)
    assert [a for a in _actions(db) if a.startswith("test.")] == ["test.before", "test.after"]


def test_nested_savepoints_roll_back_to_their_own_mark(db: Database) -> None:
    with db.session() as session, session.begin_nested():
        audit(session, BOT, "test.outer", NOW)
        with pytest.raises(RuntimeError), session.begin_nested():
            audit(session, BOT, "test.inner", NOW)
            raise RuntimeError("inner fails")
        audit(session, BOT, "test.outer-again", NOW)
    assert [a for a in _actions(db) if a.startswith("test.")] == ["test.outer", "test.outer-again"]


def test_a_rolled_back_transaction_writes_nothing_and_the_session_starts_clean(db: Database) -> None:
    with Session(db.engine) as session:
        audit(session, BOT, "test.lost", NOW)
        session.rollback()
        assert deferred.waiting(session) == 0
        audit(session, BOT, "test.kept", NOW)
        session.commit()
    assert [a for a in _actions(db) if a.startswith("test.")] == ["test.kept"]


def test_a_row_naming_an_unflushed_object_gets_its_id_when_written(db: Database) -> None:
    with db.session() as session:
        person = Person(name="待写入", email="idof@example.cn", serves=[])
        session.add(person)  # pending: nothing flushes it before the commit
        deferred.insert_later(session, AuditLog.__table__, {  # type: ignore[attr-defined]
            "at": NOW, "actor_id": deferred.IdOf(person), "actor": "待写入", "ticket_id": None,
            "action": "test.idof", "detail": {}})
        assert person.id is None
    with db.session() as session:
        entry = session.exec(select(AuditLog).where(AuditLog.action == "test.idof")).one()
        stored = session.exec(select(Person).where(Person.email == "idof@example.cn")).one()
    assert entry.actor_id == stored.id is not None
