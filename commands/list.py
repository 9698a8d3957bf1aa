"""`/incident list`: active incidents, newest first; private ones only to their people."""

from __future__ import annotations

from bot.flows import reads
from bot.i18n import t
from bot.severity import severity_label, status_label
from bot.slack.text import channel_link, clip, escape, when
from commands.context import Invocation, Reply

MAX_LINES = 40


async def list_(inv: Invocation, args: str) -> Reply:
    """One line per active incident the person may see."""
    lang = inv.language
    async with inv.rt.reads() as session:
        visible = await reads.active(session, inv.user_id)
    if not visible:
        return Reply(text=t("command.list.none", lang))
    lines = []
    for incident in visible[:MAX_LINES]:
        lock = ":lock: " if incident.private else ""
        lines.append(
            f"{lock}*{incident.key}* {severity_label(incident.severity, lang)} · "
            f"{status_label(incident.status, lang)} · {clip(escape(incident.title), 120)} · "
            f"{channel_link(incident.channel_id, incident.channel_name)} · {when(incident.declared_at, inv.rt.settings.tz)}"
        )
    if len(visible) > MAX_LINES:
        lines.append(t("command.list.more", lang, count=len(visible) - MAX_LINES))
    heading = t("command.list.heading", lang, count=len(visible))
    return Reply(text="\n".join([heading, *lines]))
