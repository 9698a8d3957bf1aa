"""Repair: put the Slack work that Slack refused earlier back in the queue."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import t
from bot.policy import Action


async def repair(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """Retry the incident's given-up operations; anyone inside may ask."""
    entry = await enter(session, ctx, actor, ref, Action.REPAIR)
    if isinstance(entry, Result):
        return entry
    key, lang = entry.incident.key, entry.language
    count = await outbox.retry_failed(session, entry.id)
    if count == 0:
        return await settle(session, Result(Outcome.UNCHANGED, t("flow.repair.nothing", lang, key=key), entry.id))
    text = t("flow.repair.retrying", lang, key=key, count=count)
    return await settle(session, Result(Outcome.DONE, text, entry.id))
