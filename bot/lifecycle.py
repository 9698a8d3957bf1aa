"""Status changes and resolution: each one a timeline event, with the Slack redraws it needs."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.db import utcnow
from bot.models import Incident

SETTABLE = ("investigating", "identified", "monitoring", "resolved")


def may_resolve(holders: dict[str, str], managers: list[str], actor: str) -> bool:
    """Only the commander, or a configured incident manager, resolves (and closes)."""
    return actor == holders.get("commander") or actor in managers


async def change_status(
    session: AsyncSession, incident: Incident, status: str, *, by: str, note: str = ""
) -> bool:
    """Move the incident to `status`; False when it already is there (nothing recorded)."""
    assert incident.id is not None
    if status == incident.status:
        return False
    now = utcnow()
    timeline.record(
        session, incident.id, "status_changed", actor=by, text=f"{incident.status} → {status}" + (f": {note}" if note else ""),
        data={"from": incident.status, "to": status, "note": note}, at=now,
    )
    incident.status = status
    if status == "resolved":
        incident.resolved_at = now
        incident.resolution = note
        outbox.enqueue(session, incident.id, "cancel_reminders", wave=1)
        outbox.enqueue(session, incident.id, "post_review", wave=2)
    elif incident.resolved_at is not None and status != "closed":
        incident.resolved_at = None  # reopened
    session.add(incident)
    await outbox.enqueue_once(session, incident.id, "update_header", wave=1)
    await outbox.enqueue_once(session, incident.id, "set_topic", wave=1)
    return True
