"""Reading an incident: only what the person may see, and nothing of a private one they are outside of."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, incidents, membership, outbox
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter
from bot.models import Incident
from bot.policy import Action
from bot.summary import gather


async def see(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """The incident (as the result's value) if this person may see it; else the answer for a missing one."""
    entry = await enter(session, ctx, actor, ref, Action.VIEW)
    if isinstance(entry, Result):
        return entry
    return Result(Outcome.DONE, incident_id=entry.id, value=entry.incident)


async def summary(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """The summary's facts (the value) for someone who may see the incident; the chart follows them by DM,
    once per request (a replay shows the summary again without a second chart)."""
    entry = await enter(session, ctx, actor, ref, Action.VIEW)
    if isinstance(entry, Result):
        return entry
    facts = await gather(session, entry.incident)
    if not actor.request or await deliveries.claim(session, actor.request):
        outbox.enqueue(session, entry.id, "send_chart", user=actor.user)
    await session.commit()
    return Result(Outcome.DONE, incident_id=entry.id, value=facts)


async def active(session: AsyncSession, user: str) -> list[Incident]:
    """Active incidents, newest first: the public ones, and the private ones this person is inside."""
    found = await incidents.active(session)
    inside = await membership.insiders(session, [i.id for i in found if i.private and i.id is not None])
    return [i for i in found if not i.private or user in inside.get(i.id or 0, set())]
