"""`/incident summary [INC-n]`: the manager's view, privately, from any channel, with a chart by DM."""

from __future__ import annotations

from bot.db import utcnow
from bot.flows import reads
from bot.slack.summary_view import render
from commands import target
from commands.context import Invocation, Reply, run, start_work


async def summary_(inv: Invocation, args: str) -> Reply:
    """One message with everything that matters; the timeline chart follows by direct message."""
    ref, _ = target.ref_of(inv, args)
    result = await run(inv.rt, reads.summary, inv.actor, ref)
    if not result.done:
        return target.reply(inv, ref, result, "`/incident summary INC-n`")
    facts = result.value
    playbook = inv.rt.playbooks.get(facts.incident.playbook)
    text = render(facts, inv.rt.settings.tz, utcnow(), inv.rt.cadence(facts.incident.severity, facts.incident.playbook),
                  inv.rt.context.roles_of(facts.incident.playbook, facts.holders),
                  graded=playbook is not None and playbook.graded)
    return Reply(text=text, after=start_work(inv.rt, result.incident_id))
