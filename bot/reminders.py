"""Overdue steps: what happens when a step's time limit passes (fired by the scheduler)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.db import utcnow
from bot.models import Incident, Statement, Step
from bot.severity import ACTIVE_STATUSES
from bot.statements import service as statements


async def step_due(session: AsyncSession, step_id: int) -> int | None:
    """Record that an open step is overdue and queue its one reminder; returns the incident to kick."""
    step = await session.get(Step, step_id, with_for_update=True)
    if step is None or step.done_at is not None or step.reminded_at is not None:
        return None
    now = utcnow()
    step.reminded_at = now
    session.add(step)
    timeline.record(
        session,
        step.incident_id,
        "step_overdue",
        text=f"{step.number}. {step.title}",
        data={"step": step.number, "owner_role": step.owner_role, "due_at": step.due_at.isoformat() if step.due_at else None},
        at=now,
    )
    outbox.enqueue(session, step.incident_id, "post_step_reminder", step_id=step_id)
    await session.commit()
    return step.incident_id


async def statement_update_due(session: AsyncSession, statement_id: int) -> int | None:
    """If this is still the latest approved statement of an active incident, record that an update is due."""
    statement = await session.get(Statement, statement_id)
    if statement is None:
        return None
    incident = await session.get(Incident, statement.incident_id)
    latest = await statements.latest_approved(session, statement.incident_id)
    if incident is None or incident.status not in ACTIVE_STATUSES or latest is None or latest.id != statement.id:
        return None
    timeline.record(session, incident.id or 0, "update_due", text=f"v{statement.version}",
                    data={"statement": statement.id, "version": statement.version})
    outbox.enqueue(session, incident.id, "post_update_reminder", statement_id=statement.id, version=statement.version)
    await session.commit()
    return incident.id
