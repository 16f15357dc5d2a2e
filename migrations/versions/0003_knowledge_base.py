"""knowledge base

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Articles with their version history, the synonym table admins edit, the
feedback that tells which articles keep failing, and the reporter messages the
bot keeps while the knowledge base is trying (bot_conversation.pending).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kb_synonym',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=50), nullable=False),
    sa.Column('canonical', sa.String(length=50), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('term')
    )
    op.create_table('kb_article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=True),
    sa.Column('system_label', sa.String(length=200), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('review_note', sa.String(length=300), nullable=False),
    sa.Column('source_ticket_id', sa.Integer(), nullable=True),
    sa.Column('vectors', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospital.id'], ),
    sa.ForeignKeyConstraint(['source_ticket_id'], ['ticket.id'], ),
    sa.ForeignKeyConstraint(['system_id'], ['covered_system.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_article_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kb_article_key'), ['key'], unique=True)
        batch_op.create_index(batch_op.f('ix_kb_article_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_kb_article_system_id'), ['system_id'], unique=False)

    op.create_table('kb_article_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_article.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_article_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_article_version_article_id'), ['article_id'], unique=False)

    op.create_table('kb_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_article.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_feedback_article_id'), ['article_id'], unique=False)

    with op.batch_alter_table('bot_conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.JSON(), server_default='[]', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('bot_conversation', schema=None) as batch_op:
        batch_op.drop_column('pending')

    with op.batch_alter_table('kb_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_feedback_article_id'))

    op.drop_table('kb_feedback')
    with op.batch_alter_table('kb_article_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_article_version_article_id'))

    op.drop_table('kb_article_version')
    with op.batch_alter_table('kb_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_article_system_id'))
        batch_op.drop_index(batch_op.f('ix_kb_article_status'))
        batch_op.drop_index(batch_op.f('ix_kb_article_key'))
        batch_op.drop_index(batch_op.f('ix_kb_article_hospital_id'))

    op.drop_table('kb_article')
    op.drop_table('kb_synonym')
