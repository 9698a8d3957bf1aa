"""incident: when the problem was discovered (the law's clocks run from it) and its legal grade

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident') as batch:
        batch.add_column(sa.Column('discovered_at', bot.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('legal_grade', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incident') as batch:
        batch.drop_column('legal_grade')
        batch.drop_column('discovered_at')
