"""Contract duties (issue 6): each contract's recurring obligations as dated rows, and their reports.

Revision ID: 0006
Revises: 0005

``duty``: one row per contract, duty and period (quarterly inspection, backup-restore
test, quarterly deliverables, annual acceptance), with its due instant, its state and
the penalty a miss costs. ``duty_report``: the files uploaded to close a duty, kept in
the database like mail attachments, so that every web worker can serve them and an
upload commits together with the duty it closes.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('duty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('clause', sa.String(length=300), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=100), nullable=False),
    sa.Column('missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_filename', sa.String(length=255), nullable=False),
    sa.Column('report_size', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('penalty_yuan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name='fk_duty_contract_id_contract'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contract_id', 'key', 'period_start', name='uq_duty_period'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.create_index('ix_duty_contract_due', ['contract_id', 'due_at'], unique=False)
        batch_op.create_index('ix_duty_status_due', ['status', 'due_at'], unique=False)

    op.create_table('duty_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('duty_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['duty_id'], ['duty.id'], name='fk_duty_report_duty_id_duty'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('duty_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_report_duty_id'), ['duty_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('duty_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_report_duty_id'))

    op.drop_table('duty_report')
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_status_due')
        batch_op.drop_index('ix_duty_contract_due')

    op.drop_table('duty')
