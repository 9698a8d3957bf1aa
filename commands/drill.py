"""`/incident drill <playbook>`: run a playbook for real, marked and announced as a drill."""

from __future__ import annotations

from bot.i18n import pick
from bot.incidents import DeclareRequest
from bot.slack.text import clip, escape
from commands.context import Invocation, Reply
from commands.declare import declared_reply, known_playbooks, record


async def drill(inv: Invocation, args: str) -> Reply:
    """Declare a drill of the playbook at its default severity; it never counts in the metrics."""
    lang = inv.language
    words = args.split(maxsplit=1)
    playbook = inv.rt.playbooks.get(words[0].lower()) if words else None
    if playbook is None:
        shown = f"`{escape(clip(words[0], 60))}` " if words else ""
        return Reply(text=pick(lang, f"{shown}不是预案。正确格式：`/incident drill <playbook>`\n可用预案：\n{known_playbooks(inv.rt, lang)}",
                               f"{shown}is not a playbook. Right form: `/incident drill <playbook>`\nPlaybooks:\n{known_playbooks(inv.rt, lang)}"))
    name = playbook.name.get(lang)
    title = (words[1].strip() if len(words) > 1 else "") or pick(lang, f"演练：{name}", f"Drill: {name}")
    request = DeclareRequest(
        title=title, playbook=playbook.slug, severity=playbook.default_severity, declared_by=inv.user_id,
        private=playbook.private, language=lang, default_holders=inv.rt.default_holders(playbook.slug),
        origin_channel_id=inv.channel_id, response_url=inv.response_url,
        dedup_key=f"slash:{inv.trigger_id}" if inv.trigger_id else None, drill=True,
    )
    return declared_reply(inv.rt, await record(inv.rt, request), lang)
