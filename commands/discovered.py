"""`/incident discovered <when>`: set or correct when the problem was discovered."""

from __future__ import annotations

from bot import discovery
from bot.db import utcnow
from bot.flows import discovery as discovery_flow
from bot.i18n import t
from bot.slack.text import clip, escape
from commands import target
from commands.context import Invocation, Reply, run
from commands.usage import form_of


async def discovered(inv: Invocation, args: str) -> Reply:
    """`HH:MM` (today, in the team's time zone), `YYYY-MM-DD HH:MM`, or `-90m` / `-3h` (before now)."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    if not rest:
        return Reply(text=t("discovery.missing", lang, form=form_of("discovered")))
    moment = discovery.parse(rest, utcnow(), inv.rt.settings.tz)
    if moment is None:
        return Reply(text=t("discovery.unreadable", lang, given=escape(clip(rest, 40)), form=form_of("discovered")))
    result = await run(inv.rt, discovery_flow.set_discovered, inv.actor, ref, moment)
    return target.reply(inv, ref, result, "`/incident discovered INC-n <when>`")
