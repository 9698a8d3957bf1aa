"""Setting or correcting when the problem was discovered: the law's clocks and the time-to figures follow it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import discovery
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import t
from bot.milestones import duration
from bot.policy import Action
from bot.times import when


async def set_discovered(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, moment: datetime) -> Result:
    """Anyone inside the incident may say when the problem was discovered; not after the declaration, not more than
    discovery.LOOKBACK before it. The clocks' deadlines move with it (they are re-planned) and the header shows it."""
    entry = await enter(session, ctx, actor, ref, Action.SET_DISCOVERY)
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    problem = discovery.problem(moment, incident.declared_at)
    if problem is not None:
        text = t(f"discovery.problem.{problem.value}", lang, given=when(moment, ctx.tz),
                 declared=when(incident.declared_at, ctx.tz), days=discovery.LOOKBACK.days)
        return Result(Outcome.INVALID, text, entry.id)
    if not await discovery.change(session, incident, moment, by=actor.user, tz=ctx.tz):
        return Result(Outcome.UNCHANGED, t("discovery.unchanged", lang, key=incident.key, time=when(moment, ctx.tz)),
                      entry.id)
    before = duration(incident.declared_at - moment, lang)
    text = t("discovery.set", lang, key=incident.key, time=when(moment, ctx.tz), before=before)
    return await settle(session, Result(Outcome.DONE, text, entry.id))
