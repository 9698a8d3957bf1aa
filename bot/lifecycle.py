"""Status, severity, resolution and closing: each one a timeline event, with the Slack work it needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import discovery, outbox, timeline
from bot.db import lock_row, utcnow
from bot.models import Incident
from bot.playbooks import Clock, Playbook
from bot.vocabulary import Severity, Status

LEVELS = tuple(Severity)  # sev1 (highest) … sev4


async def _after_change(session: AsyncSession, incident: Incident) -> None:
    """Redraw what shows the state and re-plan the timers."""
    assert incident.id is not None
    await outbox.enqueue_once(session, incident.id, "update_header", wave=1)
    await outbox.enqueue_once(session, incident.id, "set_topic", wave=1)
    await outbox.enqueue_once(session, incident.id, "sync_timers", wave=1)


async def change_status(
    session: AsyncSession, incident: Incident, status: str, *, by: str, note: str = ""
) -> bool:
    """Move the incident to `status`; False when it already is there (nothing recorded)."""
    assert incident.id is not None
    await lock_row(session, Incident, incident.id)  # concurrent changes take turns; the later sees the earlier
    if status == incident.status:
        return False
    now = utcnow()
    timeline.record(
        session, incident.id, "status_changed", actor=by, text=f"{incident.status} → {status}" + (f": {note}" if note else ""),
        data={"from": incident.status, "to": status, "note": note}, at=now,
    )
    incident.status = status
    if status == Status.RESOLVED:
        incident.resolved_at = now
        incident.resolution = note
        outbox.enqueue(session, incident.id, "cancel_reminders", wave=1)
        outbox.enqueue(session, incident.id, "post_review", wave=2)
    elif status == Status.CLOSED:
        incident.closed_at = now
        if incident.drill:
            outbox.enqueue(session, incident.id, "post_scorecard", wave=2)
    elif incident.resolved_at is not None:
        incident.resolved_at = None  # reopened
    session.add(incident)
    await _after_change(session, incident)
    return True


def start_clock(session: AsyncSession, incident: Incident, playbook: Playbook, clock: Clock, start: datetime) -> None:
    """Record that `clock` runs from `start`: its deadline and the step that stops it."""
    assert incident.id is not None
    deadline = start + timedelta(minutes=clock.minutes)
    step = next((s.id for s in playbook.steps if s.clock == clock.id), None)
    timeline.record(
        session, incident.id, "clock_started", text=clock.name.get(incident.language),
        data={"clock": clock.id, "basis": clock.basis, "minutes": clock.minutes, "immediate": clock.immediate,
              "started": start.isoformat(), "deadline": deadline.isoformat(), "step": step},
    )


def start_clocks(session: AsyncSession, incident: Incident, playbook: Playbook, tags: list[str],
                 already: set[str] | None = None) -> list[str]:
    """Start the playbook's regulatory clocks that apply (by severity and the deployment's tags), from discovery (发现或
    获知: the law counts from it), or from declaration when nobody said when the problem was discovered."""
    assert incident.id is not None
    started = []
    start = discovery.start(incident)
    for clock in playbook.clocks_for(incident.severity, tags):
        if already and clock.id in already:
            continue
        start_clock(session, incident, playbook, clock, start)
        started.append(clock.id)
    return started


async def change_severity(
    session: AsyncSession, incident: Incident, severity: str, *, by: str, reason: str,
    playbook: Playbook | None, tags: list[str], started_clocks: set[str],
) -> str | None:
    """Record a severity change; returns "raised", "lowered", or None when unchanged."""
    assert incident.id is not None
    await lock_row(session, Incident, incident.id)  # concurrent changes take turns; the later sees the earlier
    if severity == incident.severity:
        return None
    raised = LEVELS.index(severity) < LEVELS.index(incident.severity)
    timeline.record(
        session, incident.id, "severity_changed", actor=by,
        text=f"{incident.severity} → {severity}" + (f": {reason}" if reason else ""),
        data={"from": incident.severity, "to": severity, "reason": reason, "raised": raised},
    )
    incident.severity = severity
    session.add(incident)
    if raised and playbook is not None:
        # Clocks another raise started while this one waited for the lock are not started twice.
        running = await timeline.events(session, incident.id, kinds=["clock_started"])
        start_clocks(session, incident, playbook, tags, already=started_clocks | {str(e.data["clock"]) for e in running})
    if raised and severity in (Severity.SEV1, Severity.SEV2):
        outbox.enqueue(session, incident.id, "notify_leadership", wave=1, severity=severity, by=by)
    await _after_change(session, incident)
    return "raised" if raised else "lowered"


def snooze(session: AsyncSession, incident: Incident, *, by: str, minutes: float, cadence: float) -> datetime:
    """Push the next update reminder back; the snooze is on the timeline like everything else."""
    assert incident.id is not None
    until = utcnow() + timedelta(minutes=minutes)
    timeline.record(session, incident.id, "cadence_snoozed", actor=by, text=f"{minutes:g} min",
                    data={"until": until.isoformat(), "cadence": cadence, "minutes": minutes})
    return until
