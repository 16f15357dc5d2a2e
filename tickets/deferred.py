"""Append-only rows written together, later in the same transaction.

Audit entries, outbox rows, and a new ticket's clock rows and timers are never read back
by the code that writes them. Inserting each at once cost the mail intake of issue 5 a
round trip and an ORM object apiece (about fifteen of the 28 statements of every new
ticket). They wait here, per session, and go out as one ``executemany`` per table:

* before any statement of the session that names one of the waiting tables (a query
  always sees them; a statement whose tables cannot be told, such as ``text()``, counts
  as naming all of them),
* before the outermost transaction commits;

and a savepoint rolled back takes its own rows back with it, exactly as if they had been
written inside it. So for every caller the rows behave as written at once; only the
number of statements changes.

Rows written this way must not be needed by id (nothing can point at them), and must
not be able to violate a constraint that a savepoint was meant to contain: they are
inserted when the batch's outermost transaction commits, where one failure fails all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.util import find_tables

_KEY = "deferred_rows"


@dataclass
class _Queue:
    """The session's rows in the order written; ``rows[:written]`` are in the database."""

    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    written: int = 0
    tables: set[Table] = field(default_factory=set)  # of the rows not written yet (a superset after a rollback)
    # Objects tickets.db.insert_all wrote with a plain INSERT and put in the session as loaded:
    # the ORM does not know they are new, so a savepoint rolled back would leave them behind.
    attached: list[Any] = field(default_factory=list)
    # A savepoint's view when it began: (len(rows), written, len(attached)). Rolling it back
    # removes its own rows, makes the rows written during it (which the database just took
    # back) waiting again, and takes the objects attached during it out of the session.
    marks: dict[SessionTransaction, tuple[int, int, int]] = field(default_factory=dict)

    def pending(self) -> list[tuple[Table, dict[str, Any]]]:
        return self.rows[self.written:]


def _queue(session: Session) -> _Queue:
    queue = session.info.get(_KEY)
    if queue is None:
        queue = session.info[_KEY] = _Queue()
    return queue


@dataclass(frozen=True)
class IdOf:
    """A column value that is the id of an ORM object maybe not flushed yet, read when the row is written.

    An outbox row names the message it delivers; waiting for the message's id would cost
    a flush per new ticket (issue 5). The session is flushed before such a row is written.
    """

    obj: Any


def insert_later(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Queue ``row`` for ``table``; it is inserted before anything could see it missing."""
    if session.get_transaction() is None:
        session.begin()  # the row belongs to a transaction: a rollback must find it to take it back
    queue = _queue(session)
    queue.rows.append((table, row))
    queue.tables.add(table)


def attached(session: Session, obj: Any) -> None:
    """``obj`` was inserted outside the ORM and added as loaded: forget it if its savepoint rolls back."""
    _queue(session).attached.append(obj)


def write_now(session: Session) -> None:
    """Insert the waiting rows: one ``executemany`` per table (and set of columns), in order."""
    queue = session.info.get(_KEY)
    if queue is None or queue.written == len(queue.rows):
        return
    pending = queue.pending()
    if any(isinstance(value, IdOf) for _table, row in pending for value in row.values()):
        session.flush()
        pending = [(table, {k: v.obj.id if isinstance(v, IdOf) else v for k, v in row.items()})
                   for table, row in pending]
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, row in pending:
        groups.setdefault((table, tuple(row)), []).append(row)
    queue.written = len(queue.rows)
    queue.tables = set()
    connection = session.connection()
    for (table, _columns), batch in groups.items():
        connection.execute(table.insert(), batch)


def waiting(session: Session) -> int:
    """How many rows wait (for tests and checks)."""
    queue = session.info.get(_KEY)
    return len(queue.rows) - queue.written if queue else 0


def _names_waiting_table(statement: ClauseElement, tables: set[Table]) -> bool:
    found = find_tables(statement, check_columns=True, include_aliases=True, include_joins=True,
                        include_selects=True, include_crud=True)
    named = {t for t in found if isinstance(t, Table)}
    if not named:
        return True  # text() or something we cannot read: assume it may look
    return bool(named & tables)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    queue = state.session.info.get(_KEY)
    if queue is None or queue.written == len(queue.rows):
        return
    if _names_waiting_table(state.statement, queue.tables):
        write_now(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Fired for a savepoint's commit too: rows wait for the outermost one.
    if not session.in_nested_transaction():
        write_now(session)


@event.listens_for(Session, "after_transaction_create")
def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        queue = _queue(session)
        queue.marks[transaction] = (len(queue.rows), queue.written, len(queue.attached))


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    queue = session.info.get(_KEY)
    if queue is None or previous_transaction not in queue.marks:
        return
    length, written, kept = queue.marks.pop(previous_transaction)
    del queue.rows[length:]
    queue.written = min(queue.written, written)
    for obj in queue.attached[kept:]:
        if obj in session:
            session.expunge(obj)
    del queue.attached[kept:]
    queue.tables = {table for table, _row in queue.pending()}


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    # (A savepoint's mark stays until the outermost transaction ends: after_soft_rollback,
    # which needs it, runs after this hook.)
    # Committed (before_commit wrote everything) or rolled back: the next transaction starts afresh.
    if transaction.parent is None and _KEY in session.info:
        del session.info[_KEY]
