"""membership: who is in an incident's channel now

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import bot.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BOT_ACTOR = "yingji"


def upgrade() -> None:
    op.create_table(
        'membership',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('since', bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id']),
        sa.PrimaryKeyConstraint('incident_id', 'user_id'),
    )
    _backfill()


def _backfill() -> None:
    """Existing incidents: their declarers, current role holders and everyone the bot invited are members."""
    bind = op.get_bind()
    members: set[tuple[int, str]] = set()
    for incident_id, user in bind.execute(sa.text("SELECT id, declared_by FROM incident")):
        members.add((incident_id, user))
    for incident_id, user in bind.execute(sa.text(
            "SELECT incident_id, user_id FROM roleassignment WHERE ended_at IS NULL")):
        members.add((incident_id, user))
    for incident_id, data in bind.execute(sa.text(
            "SELECT incident_id, data FROM timelineevent WHERE kind = 'members_invited'")):
        invited = (json.loads(data) if isinstance(data, str) else data or {}).get("invited", [])
        members.update((incident_id, user) for user in invited if isinstance(user, str))
    rows = [{"incident_id": i, "user_id": u[:32], "since": datetime.now(UTC).replace(tzinfo=None)
             if bind.dialect.name == "sqlite" else datetime.now(UTC)}
            for i, u in sorted(members) if u and u != BOT_ACTOR]
    if rows:
        op.bulk_insert(sa.table('membership', sa.column('incident_id', sa.Integer()), sa.column('user_id', sa.String()),
                                sa.column('since', sa.DateTime(timezone=True))), rows)


def downgrade() -> None:
    op.drop_table('membership')
