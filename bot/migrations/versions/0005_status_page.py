"""the status page: statements withdrawn from it, and scheduled maintenance windows with their own timeline

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('statement') as batch:
        batch.add_column(sa.Column('withdrawn_at', bot.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('withdrawn_by', sa.String(length=32), nullable=True))
    op.create_table('maintenance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('text', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('drafted_by', sa.String(length=32), nullable=False),
    sa.Column('drafted_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=32), nullable=True),
    sa.Column('approved_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=32), nullable=True),
    sa.Column('cancelled_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('maintenance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_status'), ['status'], unique=False)
    op.create_table('maintenanceevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('maintenance_id', sa.Integer(), nullable=False),
    sa.Column('at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['maintenance_id'], ['maintenance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('maintenanceevent', schema=None) as batch_op:
        batch_op.create_index('ix_maintenanceevent_window_at', ['maintenance_id', 'at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('maintenanceevent', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenanceevent_window_at')
    op.drop_table('maintenanceevent')
    with op.batch_alter_table('maintenance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_status'))
    op.drop_table('maintenance')
    with op.batch_alter_table('statement') as batch:
        batch.drop_column('withdrawn_by')
        batch.drop_column('withdrawn_at')
