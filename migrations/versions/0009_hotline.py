"""Hotline channel (issue 7): switchboard prefixes, call-only tickets, proposed severity, API tokens.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('switchboard_prefixes', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('written_report_pending', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('proposed_severity', sa.String(length=32), nullable=False, server_default=''))
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('token_hash'),
    )


def downgrade() -> None:
    op.drop_table('api_token')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('proposed_severity')
        batch_op.drop_column('written_report_pending')
    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.drop_column('switchboard_prefixes')
