"""The manager's summary: everything that matters about one incident, derived from stored data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import roles, steps, timeline
from bot.milestones import Milestones, milestones
from bot.models import Incident, Statement, Step, TimelineEvent
from bot.vocabulary import CADENCE_MINUTES, Severity, Status

# The events that move an incident along: milestones, clocks, role changes, statements. Notes, imported
# messages and alerts (the bulk of a long timeline) are not among them.
MILESTONE_KINDS = (
    "declared", "role_assigned", "status_changed", "severity_changed", "step_done", "clock_started",
    "clock_reminder", "statement_approved", "statement_published", "update_overdue", "cadence_snoozed",
    "escalated", "drill_scored", "discovered_set", "legal_grade_set", "clock_stopped",
)
KEY_KINDS = (
    "declared", "role_assigned", "status_changed", "severity_changed", "step_done", "step_overdue", "note",
    "action_item", "message", "statement_approved", "statement_published",
)
LATEST = 5


@dataclass(frozen=True)
class Facts:
    """Everything the summary, the report and the chart are drawn from, read once."""

    incident: Incident
    events: list[TimelineEvent]
    steps: list[Step]
    holders: dict[str, str]
    statement: Statement | None
    milestones: Milestones
    latest: list[TimelineEvent]


async def _latest(session: AsyncSession, incident_id: int) -> list[TimelineEvent]:
    """The newest key events, oldest of them first, straight from the index."""
    result = await session.exec(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, col(TimelineEvent.kind).in_(KEY_KINDS))
        .order_by(col(TimelineEvent.at).desc(), col(TimelineEvent.id).desc())
        .limit(LATEST)
    )
    return list(reversed(result.all()))


async def gather(session: AsyncSession, incident: Incident, *, full: bool = False) -> Facts:
    """Read what the summary needs (milestone events only), or with `full` the whole timeline for reports.

    A summary reads a bounded set of rows whatever the timeline's length: a 50,000-event incident
    is mostly notes and messages, which only the review and the export need.
    """
    assert incident.id is not None
    events = await timeline.events(session, incident.id, kinds=None if full else MILESTONE_KINDS)
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
        latest=await _latest(session, incident.id),
    )


def next_update_due(facts: Facts, cadence: float | None = None) -> datetime | None:
    """When the public should next hear from us: the cadence (default: the severity's) after the last update."""
    cadence = cadence if cadence is not None else CADENCE_MINUTES[Severity(facts.incident.severity)]
    if cadence is None or facts.incident.status in (Status.RESOLVED, Status.CLOSED):
        return None
    moments = [facts.incident.declared_at] + [
        e.at for e in facts.events if e.kind in ("status_changed", "statement_approved", "statement_published")
    ]
    return max(moments) + timedelta(minutes=cadence)
