"""intake: slash commands stored before their ack and answered after it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'intake',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('channel_id', sa.String(length=32), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('response_url', sa.Text(), nullable=True),
        sa.Column('trigger_id', sa.String(length=200), nullable=True),
        sa.Column('received_at', bot.db.UTCDateTime(), nullable=False),
        sa.Column('answered_at', bot.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_intake_unanswered', 'intake', ['received_at'],
                    sqlite_where=sa.text('answered_at IS NULL'), postgresql_where=sa.text('answered_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_intake_unanswered', table_name='intake')
    op.drop_table('intake')
