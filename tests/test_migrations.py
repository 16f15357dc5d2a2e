"""The migrations build exactly the schema the models describe, both ways, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import bot.state  # noqa: F401  (every package's tables on the metadata)
import intake.journal  # noqa: F401
import intake.webchat  # noqa: F401
import tickets.models  # noqa: F401
from admin.migrate import MIGRATIONS, NotMigrated, check_current, head_revision, upgrade
from tickets.db import make_engine


def test_upgrade_downgrade_upgrade_leaves_no_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(NotMigrated):
        check_current(engine)
    upgrade(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db_url)
    command.downgrade(cfg, "base")
    upgrade(db_url)
    check_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []
    assert head_revision() == "0009"
    engine.dispose()
