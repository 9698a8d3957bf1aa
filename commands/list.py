"""`/incident list`: active incidents, newest first; private ones only to their people."""

from __future__ import annotations

from bot.flows import reads
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
        return Reply(text="目前没有进行中的事件。" if lang == "zh" else "No active incidents.")
    lines = []
    for incident in visible[:MAX_LINES]:
        lock = ":lock: " if incident.private else ""
        lines.append(
            f"{lock}*{incident.key}* {severity_label(incident.severity, lang)} · "
            f"{status_label(incident.status, lang)} · {clip(escape(incident.title), 120)} · "
            f"{channel_link(incident.channel_id, incident.channel_name)} · {when(incident.declared_at, inv.rt.settings.tz)}"
        )
    if len(visible) > MAX_LINES:
        rest = len(visible) - MAX_LINES
        lines.append(f"…另有 {rest} 个" if lang == "zh" else f"…and {rest} more")
    heading = f"*进行中的事件（{len(visible)}）*" if lang == "zh" else f"*Active incidents ({len(visible)})*"
    return Reply(text="\n".join([heading, *lines]))
