"""`/incident repair [INC-n]`: retry the Slack work that Slack refused earlier."""

from __future__ import annotations

from bot.flows import repair as repair_flow
from bot.flows.base import Outcome
from commands import target
from commands.context import Invocation, Reply, run, start_work


async def repair(inv: Invocation, args: str) -> Reply:
    """Put the incident's failed Slack operations back in the queue, and run whatever is queued."""
    ref, _ = target.ref_of(inv, args)
    result = await run(inv.rt, repair_flow.repair, inv.actor, ref)
    if result.outcome in (Outcome.DONE, Outcome.UNCHANGED):  # nothing failed, but queued work may be waiting
        return Reply(text=result.text, after=start_work(inv.rt, result.incident_id))
    return target.reply(inv, ref, result, "`/incident repair INC-n`")
