"""The Slack side of alerts: a resolved alert suggests that the commander resolve; a re-fire says so."""

from __future__ import annotations

from bot.i18n import t
from bot.models import Incident, SlackOp
from bot.slack.ops.base import Operation, Outcome, SlackEnv, already_posted, need_channel, op_metadata
from bot.slack.text import clip, escape
from bot.vocabulary import ACTIVE


def suggestion(title: str, language: str) -> str:
    """The suggestion in the incident's language: it advises, the commander decides."""
    return t("ops.alerts.resolved", language, name=clip(escape(title), 300))


async def _post_once(env: SlackEnv, incident: Incident, op: SlackOp, text: str) -> Outcome:
    """Post in the channel once (a retried attempt finds its own message); nothing once people resolved."""
    channel = need_channel(incident)
    if incident.status in ACTIVE and not await already_posted(env, channel, op):
        await env.client.chat_postMessage(channel=channel, text=text, metadata=op_metadata(op))
    return Outcome()


async def suggest_resolve(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Suggest resolving; never change the status."""
    return await _post_once(env, incident, op, suggestion(str(op.args.get("title") or "?"), incident.language))


def refired(title: str, count: int, language: str) -> str:
    """Alerts of an open incident fire again: the channel hears it, even after a "resolved" suggestion."""
    return t("ops.alerts.refired", language, name=clip(escape(title), 300), count=count)


async def tell_refire(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Say that alerts fire again."""
    text = refired(str(op.args.get("title") or "?"), int(op.args.get("count") or 0), incident.language)
    return await _post_once(env, incident, op, text)


OPERATIONS: dict[str, Operation] = {
    "suggest_resolve": suggest_resolve,
    "tell_refire": tell_refire,
}
