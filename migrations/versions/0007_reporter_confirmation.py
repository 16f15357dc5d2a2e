"""The reporter's side of the loop (issue 6): confirmation, closing and the reporter's score on tickets.

Revision ID: 0007
Revises: 0006

``resolved_at`` (the latest resolution), ``confirmed_at`` (the reporter's 已解决),
``closed_at`` and ``close_reason`` (confirmed / auto / admin), ``rating`` (1–5) and
``rating_comment``. Tickets already resolved get their latest resolution's time.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('rating', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rating_comment', sa.String(length=500), nullable=False, server_default=''))
    op.execute(
        "UPDATE ticket SET resolved_at = (SELECT max(e.at) FROM ticket_event e "
        "WHERE e.ticket_id = ticket.id AND e.name = 'resolved') WHERE status = 'resolved'"
    )


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating')
        batch_op.drop_column('close_reason')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('resolved_at')
