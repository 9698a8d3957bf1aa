"""Which incident a command is about: the channel's own, or the key given first (INC-42)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import incidents
from bot.models import Incident
from bot.slack.text import clip, escape
from commands.context import Invocation, Reply

KEY = re.compile(r"^INC-\d{1,9}$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """The incident, the rest of the arguments, and whether the person is inside it."""

    incident: Incident
    args: str
    inside: bool


async def find(inv: Invocation, args: str, right_form: str) -> Target | Reply:
    """Resolve the incident or explain, specifically, why there is none; private ones stay hidden from outsiders."""
    lang = inv.language
    words = args.split(maxsplit=1)
    async with inv.rt.sessions() as session:
        if words and KEY.match(words[0]):
            incident = await incidents.by_key(session, words[0])
            rest = words[1] if len(words) > 1 else ""
        else:
            incident = await incidents.by_channel(session, inv.channel_id)
            rest = args
            if incident is None:
                return Reply(text=(
                    f"这里不是事件频道。请在事件频道里运行，或先写事件编号：{right_form}"
                    if lang == "zh" else
                    f"This is not an incident channel. Run it in the incident's channel, or give the key first: {right_form}"
                ))
        inside = False
        if incident is not None and incident.id is not None:
            inside = inv.channel_id == incident.channel_id or inv.user_id in (
                await incidents.insiders(session, [incident.id])
            )[incident.id]
    if incident is None or (incident.private and not inside):
        shown = escape(clip(words[0], 20)) if words else ""
        return Reply(text=f"找不到事件 {shown}。" if lang == "zh" else f"There is no incident {shown}.")
    return Target(incident, rest.strip(), inside)
