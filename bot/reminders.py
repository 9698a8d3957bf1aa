"""Overdue steps: what happens when a step's time limit passes (fired by the scheduler)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline, timers
from bot.db import utcnow
from bot.discovery import latest as latest_discovery
from bot.milestones import acknowledged_at
from bot.models import Incident, Statement, Step
from bot.statements import service as statements
from bot.vocabulary import ACTIVE, Status


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
    if incident is None or incident.status not in ACTIVE or latest is None or latest.id != statement.id:
        return None
    timeline.record(session, incident.id or 0, "update_due", text=f"v{statement.version}",
                    data={"statement": statement.id, "version": statement.version})
    outbox.enqueue(session, incident.id, "post_update_reminder", statement_id=statement.id, version=statement.version)
    await session.commit()
    return incident.id


async def cadence_due(
    session: AsyncSession, incident_id: int, cadence_of: Callable[[str, str], float | None]
) -> int | None:
    """No update within the cadence: record it, remind commander and comms, plan the next check."""
    incident = await session.get(Incident, incident_id)
    cadence_minutes = cadence_of(incident.severity, incident.playbook) if incident else None
    if incident is None or incident.status not in ACTIVE or not cadence_minutes:
        return None
    events = await timeline.events(session, incident_id)
    due = timers.last_update(incident, events) + timedelta(minutes=cadence_minutes)
    if due > utcnow() + timedelta(seconds=1):
        outbox.enqueue(session, incident_id, "sync_timers")  # an update came meanwhile: just re-plan
    else:
        timeline.record(session, incident_id, "update_overdue", text=f"{cadence_minutes:g} min",
                        data={"cadence": cadence_minutes})
        outbox.enqueue(session, incident_id, "post_cadence_reminder", cadence=cadence_minutes)
        outbox.enqueue(session, incident_id, "sync_timers", wave=1)
    await session.commit()
    return incident_id


async def escalate(
    session: AsyncSession, incident_id: int, escalate_of: Callable[[str], float | None]
) -> int | None:
    """Still no commander after the configured time: tell the escalation people and leadership, once."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.status not in ACTIVE:
        return None
    minutes = escalate_of(incident.severity)
    events = await timeline.events(session, incident_id)
    if acknowledged_at(events) is not None or any(e.kind == "escalated" for e in events):
        return None
    timeline.record(session, incident_id, "escalated", text=f"no commander after {minutes:g} min" if minutes else "",
                    data={"minutes": minutes})
    outbox.enqueue(session, incident_id, "post_escalation", minutes=minutes)
    await session.commit()
    return incident_id


async def clock_due(session: AsyncSession, incident_id: int, index: int, percent: int) -> int | None:
    """A regulatory clock reached 50 %, 90 % or its deadline with its notification not done: remind legal."""
    events = await timeline.events(session, incident_id)
    states = timers.clocks(events)
    if index >= len(states):
        return None
    clock = states[index]
    if clock.stopped is not None or any(e.kind == "clock_reminder" and e.data.get("clock") == clock.clock
                                        and e.data.get("percent") == percent for e in events):
        return None
    if latest_discovery(events) is not None and clock.at_point(percent) > utcnow() + timedelta(seconds=1):
        # the discovery was corrected to a later moment after this reminder was planned: plan it again
        outbox.enqueue(session, incident_id, "sync_timers")
        await session.commit()
        return incident_id
    timeline.record(session, incident_id, "clock_reminder", text=f"{clock.name}: {percent}%",
                    data={"clock": clock.clock, "percent": percent, "deadline": clock.deadline.isoformat()})
    outbox.enqueue(session, incident_id, "post_clock_reminder", index=index, percent=percent)
    await session.commit()
    return incident_id


async def archive_due(session: AsyncSession, incident_id: int) -> int | None:
    """The closed incident's channel has waited its configured time: archive it."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.status != Status.CLOSED:
        return None
    outbox.enqueue(session, incident_id, "archive_channel")
    await session.commit()
    return incident_id
