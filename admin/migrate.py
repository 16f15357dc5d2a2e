"""Schema migrations (Alembic): apply them, and check that a database is current."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from tickets.calendars import seed_statutory
from tickets.clocks import recompute_open
from tickets.db import Database
from tickets.duties import schedule_all

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NotMigrated(RuntimeError):
    """The database schema is behind the code."""


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(_config(url), revision)


def migrate(url: str, now: datetime) -> list[int]:
    """Bring the schema to head, add statutory-calendar years the table lacks, re-evaluate open clocks,
    schedule the contracts' duties.

    Returns the calendar years added (a new chinesecalendar release brings the next year).
    """
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            added = seed_statutory(session, now)
            recompute_open(session, now, reason="migrated")
            schedule_all(session, now)  # contract duties of every contract (issue 6), new policies included
    finally:
        db.dispose()
    return added


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_current(engine: Engine) -> None:
    """Raise :class:`NotMigrated` unless the database is at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise NotMigrated(f"database revision {current or 'none'} != code revision {head}")
