"""`/incident summary [INC-n]`: the manager's view, privately, from any channel, with a chart by DM."""

from __future__ import annotations

from bot import outbox, summary
from bot.db import utcnow
from bot.slack.summary_view import render
from commands import target
from commands.context import Invocation, Reply, start_work


async def summary_(inv: Invocation, args: str) -> Reply:
    """One message with everything that matters; the timeline chart follows by direct message."""
    found = await target.find(inv, args, "`/incident summary INC-n`")
    if isinstance(found, Reply):
        return found
    incident = found.incident
    assert incident.id is not None
    async with inv.rt.sessions() as session:
        facts = await summary.gather(session, incident)
        outbox.enqueue(session, incident.id, "send_chart", user=inv.user_id)
        await session.commit()
    incident_id = incident.id
    return Reply(text=render(facts, inv.rt.settings.tz, utcnow(), inv.rt.cadence(incident.severity)), after=start_work(inv.rt, incident_id))
