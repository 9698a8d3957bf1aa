"""What people put on the timeline: notes, and messages of the channel (shortcut, pin, reaction), with
their later edits and deletions; and who is in the channel, as Slack tells it."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import capture, deliveries, incidents, membership, outbox
from bot.flows.base import Actor, Context, Outcome, Ref, Result, asker, enter, settle
from bot.i18n import t
from bot.policy import Action

TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")  # a Slack message ts: seconds.micros


async def add_note(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, text: str) -> Result:
    """A line on the timeline (`action: …` makes an action item), echoed in the channel."""
    entry = await enter(session, ctx, actor, ref, Action.NOTE)
    if isinstance(entry, Result):
        return entry
    lang = entry.language
    event = capture.add_note(session, entry.id, text, by=actor.user)
    await session.flush()
    outbox.enqueue(session, entry.id, "post_note", event_id=event.id, **asker(actor))
    kind = "action_item" if event.kind == "action_item" else "note"
    text = t(f"flow.notes.recorded.{kind}", lang, key=entry.incident.key)
    return await settle(session, Result(Outcome.DONE, text, entry.id))


async def add_message(session: AsyncSession, ctx: Context, actor: Actor, channel: str, ts: str, *, via: str,
                      message: dict[str, Any] | None = None, response_url: str | None = None) -> Result:
    """Queue the import of one message of an incident channel (shortcut, pin or reaction)."""
    refused = Result(Outcome.INVALID, t("flow.notes.not_incident_message", ctx.language))
    if not channel or not TS.match(ts) or actor.user in ("", ctx.bot_user_id):
        return refused
    entry = await enter(session, ctx, actor, Ref(channel=channel), Action.CAPTURE)
    if isinstance(entry, Result):
        return refused if entry.outcome is Outcome.NOT_FOUND else entry
    outbox.enqueue(session, entry.id, "import_message", channel=channel, ts=ts, via=via, by=actor.user,
                   message=message, response_url=response_url)
    return await settle(session, Result(Outcome.DONE, incident_id=entry.id))


async def follow_message(session: AsyncSession, request: str, channel: str, ts: str, text: str | None) -> Result:
    """An imported message was edited (text) or deleted (None): its timeline entry follows, the old text kept."""
    incident = await incidents.by_channel(session, channel) if channel else None
    if incident is None or not await deliveries.claim(session, request):
        return Result(Outcome.UNCHANGED)
    await capture.message_changed(session, channel, ts, text=text, deleted=text is None)
    return await settle(session, Result(Outcome.DONE, incident_id=incident.id))


async def member_joined(session: AsyncSession, request: str, channel: str, user: str) -> Result:
    """Slack says a person joined an incident's channel (invited, or on their own)."""
    incident = await incidents.by_channel(session, channel) if channel and user else None
    if incident is None or incident.id is None or not await deliveries.claim(session, request):
        return Result(Outcome.UNCHANGED)
    await membership.join(session, incident.id, [user])
    return await settle(session, Result(Outcome.DONE, incident_id=incident.id))


async def member_left(session: AsyncSession, request: str, channel: str, user: str) -> Result:
    """Slack says a person left or was removed from an incident's channel: from now on they are outside it."""
    incident = await incidents.by_channel(session, channel) if channel and user else None
    if incident is None or incident.id is None or not await deliveries.claim(session, request):
        return Result(Outcome.UNCHANGED)
    await membership.leave(session, incident.id, user)
    return await settle(session, Result(Outcome.DONE, incident_id=incident.id))
