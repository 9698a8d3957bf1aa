"""The Slack side of the timeline: echo notes in the channel, import messages with their permalinks."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import capture
from bot.i18n import t
from bot.models import Incident, SlackOp, TimelineEvent
from bot.slack.errors import slack_error
from bot.slack.notify import tell_person
from bot.slack.ops.base import Operation, Outcome, SlackEnv, already_posted, need_channel, op_metadata
from bot.slack.text import Said


async def post_note(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Echo a note in the channel so everyone sees it was recorded."""
    channel = need_channel(incident)
    async with env.sessions() as session:
        event = await session.get(TimelineEvent, op.args["event_id"])
    if event is None or await already_posted(env, channel, op):
        return Outcome()
    key = "ops.timeline.action_item" if event.kind == "action_item" else "ops.timeline.note"
    text = t(key, incident.language, actor=event.actor, text=format(Said(event.text), "3500"))
    await env.client.chat_postMessage(channel=channel, text=text, metadata=op_metadata(op))
    return Outcome()


async def _fetch(env: SlackEnv, channel: str, ts: str) -> dict[str, Any] | None:
    """The message at `ts`, top-level or in a thread."""
    history = await env.client.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)
    for message in history.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    replies = await env.client.conversations_replies(channel=channel, ts=ts, limit=1)
    for message in replies.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    return None


async def import_message(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Bring a Slack message onto the timeline with its author, time, text, files and permalink."""
    channel, ts, via, by = op.args["channel"], op.args["ts"], op.args["via"], op.args["by"]
    message = op.args.get("message") or await _fetch(env, channel, ts)
    if message is None:
        return Outcome()
    try:
        permalink = str((await env.client.chat_getPermalink(channel=channel, message_ts=ts))["permalink"])
    except SlackApiError as exc:
        if slack_error(exc) != "message_not_found":
            raise
        return Outcome()
    incident_id = incident.id
    assert incident_id is not None
    slack_message = capture.SlackMessage.from_slack(channel, message, permalink)
    if op.args.get("response_url"):
        await tell_person(env.client, by, t("ops.timeline.imported", incident.language, key=incident.key),
                          response_url=op.args["response_url"])

    async def apply(session: AsyncSession) -> None:
        await capture.import_message(session, incident_id, slack_message, via=via, by=by)

    return Outcome(apply=apply)


OPERATIONS: dict[str, Operation] = {
    "post_note": post_note,
    "import_message": import_message,
}
