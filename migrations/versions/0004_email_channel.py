"""email channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The mail ledger (every fetched mail, its fate and raw bytes), each mailbox's cursor,
mail attachments; hospitals' mail domains, people flagged for review, tickets from
unverified senders and tickets that follow a closed one, and channel evidence on messages.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mail_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mail_key', sa.String(length=300), nullable=False),
    sa.Column('content_hash', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.Column('mailbox', sa.String(length=64), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('from_addr', sa.String(length=254), nullable=False),
    sa.Column('from_name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('channel_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel_ts_source', sa.String(length=16), nullable=False),
    sa.Column('internaldate', sa.DateTime(timezone=True), nullable=True),
    sa.Column('date_header', sa.DateTime(timezone=True), nullable=True),
    sa.Column('skew_seconds', sa.Integer(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('noise', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('reason_zh', sa.String(length=500), nullable=False),
    sa.Column('new_thread', sa.Boolean(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('defects', sa.JSON(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('handled_by', sa.String(length=100), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mail_key')
    )
    with op.batch_alter_table('mail_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_item_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_mail_item_sender_ts', ['from_addr', 'channel_ts'], unique=False)
        batch_op.create_index('ix_mail_item_status', ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_item_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('mail_mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('last_poll_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=False),
    sa.Column('rescans', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('mail_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mail_item_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('inline', sa.Boolean(), nullable=False),
    sa.Column('refused', sa.String(length=200), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['mail_item_id'], ['mail_item.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mail_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attachment_mail_item_id'), ['mail_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_attachment_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_domains', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=True))

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_note', sa.String(length=200), nullable=False, server_default=''))

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_unverified', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('follows_ticket_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_ticket_follows_ticket_id', 'ticket', ['follows_ticket_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_follows_ticket_id', type_='foreignkey')
        batch_op.drop_column('follows_ticket_id')
        batch_op.drop_column('sender_unverified')

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('review_note')

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('meta')

    with op.batch_alter_table('hospital', schema=None) as batch_op:
        batch_op.drop_column('mail_domains')

    with op.batch_alter_table('mail_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_attachment_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_mail_attachment_mail_item_id'))

    op.drop_table('mail_attachment')
    op.drop_table('mail_mailbox')
    with op.batch_alter_table('mail_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_item_ticket_id'))
        batch_op.drop_index('ix_mail_item_status')
        batch_op.drop_index('ix_mail_item_sender_ts')
        batch_op.drop_index(batch_op.f('ix_mail_item_message_id'))

    op.drop_table('mail_item')
