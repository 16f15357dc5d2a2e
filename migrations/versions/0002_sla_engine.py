"""sla engine: calendars, clocks, events, pauses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Business calendars (statutory days, confirmed years, hospitals' own days), each
ticket's clocks, the events and pauses that move them. Existing tickets get
``first_contact_at = reported_at``; ``helpdesk migrate`` then seeds the
statutory calendar and evaluates the open tickets' clocks.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_year',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('statutory_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('hospital_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospital.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hospital_id', 'day', name='uq_hospital_day')
    )
    with op.batch_alter_table('hospital_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hospital_day_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('ticket_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('target_seconds', sa.Integer(), nullable=False),
    sa.Column('clause', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_seconds', sa.Integer(), nullable=False),
    sa.Column('elapsed_seconds', sa.Integer(), nullable=False),
    sa.Column('breached', sa.Boolean(), nullable=False),
    sa.Column('calendar_confirmed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'name', name='uq_ticket_clock_name')
    )
    with op.batch_alter_table('ticket_clock', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_clock_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_clock_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_event_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.Column('ended_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ticket_pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_pause_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('covered_system', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount_yuan', sa.Numeric(precision=14, scale=2), nullable=True))

    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('working_hours', sa.JSON(), nullable=False,
                                      server_default=sa.text('\'{"mon-fri": ["08:00-18:00"]}\'')))

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cause', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=32), nullable=True))
    op.execute("UPDATE ticket SET first_contact_at = reported_at WHERE first_contact_at IS NULL")



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('hold_reason')
        batch_op.drop_column('cause')
        batch_op.drop_column('first_contact_at')

    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.drop_column('working_hours')

    with op.batch_alter_table('covered_system', schema=None) as batch_op:
        batch_op.drop_column('amount_yuan')

    with op.batch_alter_table('ticket_pause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_pause_ticket_id'))

    op.drop_table('ticket_pause')
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_event_ticket_id'))

    op.drop_table('ticket_event')
    with op.batch_alter_table('ticket_clock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_clock_ticket_id'))
        batch_op.drop_index('ix_ticket_clock_due')

    op.drop_table('ticket_clock')
    with op.batch_alter_table('hospital_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hospital_day_hospital_id'))

    op.drop_table('hospital_day')
    op.drop_table('statutory_day')
    op.drop_table('calendar_year')
