"""The manager's summary: everything that matters about one incident, derived from stored data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import roles, steps, timeline
from bot.milestones import Milestones, milestones
from bot.models import Incident, Statement, Step, TimelineEvent
from bot.severity import SEVERITIES



@dataclass(frozen=True)
class Facts:
    """Everything the summary, the report and the chart are drawn from, read once."""

    incident: Incident
    events: list[TimelineEvent]
    steps: list[Step]
    holders: dict[str, str]
    statement: Statement | None
    milestones: Milestones


async def gather(session: AsyncSession, incident: Incident) -> Facts:
    """Read an incident's timeline, steps, roles and latest approved statement."""
    assert incident.id is not None
    events = await timeline.events(session, incident.id)
    approved = await session.exec(
        select(Statement)
        .where(Statement.incident_id == incident.id, col(Statement.approved_at).is_not(None))
        .order_by(col(Statement.approved_at).desc())
    )
    return Facts(
        incident=incident,
        events=events,
        steps=await steps.all_steps(session, incident.id),
        holders=await roles.holders(session, incident.id),
        statement=approved.first(),
        milestones=milestones(incident, events),
    )


def next_update_due(facts: Facts) -> datetime | None:
    """When the public should next hear from us: the severity's cadence after the last update."""
    cadence = SEVERITIES[facts.incident.severity].cadence_minutes
    if cadence is None or facts.incident.status in ("resolved", "closed"):
        return None
    moments = [facts.incident.declared_at] + [
        e.at for e in facts.events if e.kind in ("status_changed", "statement_approved", "statement_published")
    ]
    return max(moments) + timedelta(minutes=cadence)
