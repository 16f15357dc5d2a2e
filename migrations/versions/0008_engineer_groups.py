"""Engineers' groups (issue 6): who serves which hospital, a hospital's own group, card payloads.

The vendor's people who exist before this migration could work every ticket;
they keep doing so (``serves = ["*"]``) until an administrator narrows it.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('serves', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engineer_chatid', sa.String(length=64), nullable=False, server_default=''))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
    op.execute("UPDATE person SET serves = '[\"*\"]' WHERE hospital_id IS NULL AND role IN ('engineer', 'manager')")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('payload')
    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.drop_column('engineer_chatid')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('serves')
