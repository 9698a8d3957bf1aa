"""The Slack side of maintenance windows: post the review message, redraw it at every change, talk in its thread.
A window belongs to no incident: these run in the workspace's queue, and what they draw with comes in their args."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import maintenance as service
from bot import timeline
from bot.i18n import t
from bot.models import Incident, Maintenance, SlackOp
from bot.slack.error_codes import ErrorKind
from bot.slack.errors import classify
from bot.slack.maintenance_view import fallback, review_blocks
from bot.slack.ops.base import GAVE_UP, Blocked, Operation, Outcome, SlackEnv, already_posted, dm, op_metadata
from bot.slack.text import channel_link
from bot.vocabulary import Language

# Slack's answers when the bot cannot post in the channel the command was typed in (a private channel it was never
# invited to, an archived one): the review goes to the announce channel instead, and the drafter is told.
NOT_THERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "method_not_supported_for_channel_type"})


async def _drawn(env: SlackEnv, op: SlackOp) -> tuple[Maintenance, str, list[dict]]:
    """The window as it is now, and its review message (fallback text and blocks) in the op's language."""
    async with env.sessions() as session:
        window = await session.get(Maintenance, op.args["maintenance_id"])
        if window is None:
            raise Blocked(f"maintenance window {op.args['maintenance_id']} no longer exists")
        asked = await service.latest_change_request(session, window.id or 0)
    lang = str(op.args.get("language") or Language.ZH)
    blocks = review_blocks(window, lang=lang, tz=env.tz, names=dict(op.args.get("names") or {}),
                           change_request=(asked.actor, asked.text) if asked else None)
    return window, fallback(window, lang), [block.to_dict() for block in blocks]


async def _post_in(env: SlackEnv, channel: str, op: SlackOp, text: str, blocks: list[dict]) -> str:
    """Post once in `channel`, joining it first when it is public; a retry finds what an earlier attempt posted."""
    try:
        await env.client.conversations_join(channel=channel)
    except SlackApiError as exc:
        if exc.response.get("error") != "method_not_supported_for_channel_type":  # private: the bot must be invited
            raise
    ts = await already_posted(env, channel, op)
    if ts is None:
        response = await env.client.chat_postMessage(channel=channel, text=text, blocks=blocks, metadata=op_metadata(op))
        ts = str(response["ts"])
    return ts


async def post_maintenance(env: SlackEnv, incident: Incident | None, op: SlackOp) -> Outcome:
    """Post the review message where the window was asked for; its thread is the review."""
    window, text, blocks = await _drawn(env, op)
    if window.message_ts:
        return Outcome()
    wanted, announce = window.channel_id or env.announce_channel_id, env.announce_channel_id
    if not wanted:
        raise Blocked("no channel to review the maintenance window in")
    try:
        channel, ts = wanted, await _post_in(env, wanted, op, text, blocks)
    except SlackApiError as exc:
        if exc.response.get("error") not in NOT_THERE or not announce or announce == wanted:
            raise
        channel, ts = announce, await _post_in(env, announce, op, text, blocks)
        unsaid = await _tell_moved(env, op, window, channel)
    else:
        unsaid = None
    window_id = window.id

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Maintenance, window_id)
        assert row is not None
        row.channel_id, row.message_ts = channel, ts
        session.add(row)
        if unsaid is not None:  # the review is up; only the drafter's notice of where could not be sent
            service.record(session, row.id or 0, GAVE_UP, actor=timeline.BOT_ACTOR, text=f"{op.kind}: {unsaid}",
                           data={"op": op.kind, "op_id": op.id, "error": unsaid, "part": "moved"})

    return Outcome(apply=apply)


async def _tell_moved(env: SlackEnv, op: SlackOp, window: Maintenance, channel: str) -> str | None:
    """Tell the drafter where the review went; Slack's code when it will never take that DM (the review stands: the
    refusal goes on the window's timeline instead of failing a post that is up). Passing trouble is retried."""
    lang = str(op.args.get("language") or Language.ZH)
    try:
        await dm(env, window.drafted_by, t("maintenance.moved", lang, n=window.id, channel=channel_link(channel)), op)
    except SlackApiError as exc:
        failure = classify(exc)
        if failure.kind in (ErrorKind.RATELIMITED, ErrorKind.TRANSIENT):
            raise
        return failure.error
    return None


async def redraw_maintenance(env: SlackEnv, incident: Incident | None, op: SlackOp) -> Outcome:
    """Update the review message in place after an approval, a change request or a cancellation."""
    window, text, blocks = await _drawn(env, op)
    if window.message_ts and window.channel_id:
        await env.client.chat_update(channel=window.channel_id, ts=window.message_ts, text=text, blocks=blocks)
    return Outcome()


async def maintenance_thread(env: SlackEnv, incident: Incident | None, op: SlackOp) -> Outcome:
    """A line in the review thread: who did what to the window."""
    async with env.sessions() as session:
        window = await session.get(Maintenance, op.args["maintenance_id"])
    if window is None or not window.message_ts or not window.channel_id:
        raise Blocked("the maintenance review message was not posted")
    if await already_posted(env, window.channel_id, op):
        return Outcome()
    await env.client.chat_postMessage(channel=window.channel_id, thread_ts=window.message_ts, text=op.args["text"],
                                      metadata=op_metadata(op))
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "post_maintenance": post_maintenance,
    "redraw_maintenance": redraw_maintenance,
    "maintenance_thread": maintenance_thread,
}
