"""Overdue steps: what happens when a step's time limit passes (fired by the scheduler)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.db import utcnow
from bot.models import Step


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
