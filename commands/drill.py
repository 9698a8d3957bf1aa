"""`/incident drill <playbook>`: run a playbook for real, marked and announced as a drill."""

from __future__ import annotations

from bot.i18n import t
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
        playbooks = known_playbooks(inv.rt, lang)
        if not words:
            return Reply(text=t("command.drill.playbook_missing", lang, playbooks=playbooks))
        return Reply(text=t("command.drill.not_playbook", lang, given=escape(clip(words[0], 60)), playbooks=playbooks))
    name = playbook.name.get(lang)
    title = (words[1].strip() if len(words) > 1 else "") or t("command.drill.title", lang, name=name)
    request = DeclareRequest(
        title=title, playbook=playbook.slug, severity=playbook.default_severity, declared_by=inv.user_id,
        private=playbook.private, language=lang, default_holders=inv.rt.default_holders(playbook.slug),
        origin_channel_id=inv.channel_id, response_url=inv.response_url,
        dedup_key=f"slash:{inv.trigger_id}" if inv.trigger_id else None, drill=True,
    )
    return declared_reply(inv.rt, await record(inv.rt, request), lang)
