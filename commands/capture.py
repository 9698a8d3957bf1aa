"""`/incident note`, the `Add to timeline` shortcut, pins, reactions, and Slack's channel events."""

from __future__ import annotations

from typing import Any

from bot.flows import notes
from bot.flows.base import Actor
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from commands import payload, target
from commands.context import Invocation, Reply, answer, run

SHORTCUT_ID = "add_to_timeline"


async def note(inv: Invocation, args: str) -> Reply:
    """Add a line to the timeline and echo it in the incident channel."""
    ref, text = target.ref_of(inv, args)
    if not text:
        return Reply(text=t("command.note.empty", inv.language))
    result = await run(inv.rt, notes.add_note, inv.actor, ref, text)
    return target.reply(inv, ref, result, "`/incident note INC-n <text>`")


def _event(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event inside an Events API envelope, and its once-only key."""
    event = body.get("event")
    return (event if isinstance(event, dict) else {}), f"event:{payload.text(body.get('event_id'))}"


async def shortcut(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The `Add to timeline` message shortcut: only what went wrong is told."""
    where = body.get("channel")
    channel = payload.text(where.get("id")) if isinstance(where, dict) else payload.text(where)
    message = payload.obj(body.get("message"))
    user = payload.user_of(body)
    result = await run(rt, notes.add_message, payload.button_actor(body), channel,
                       payload.text(message.get("ts")), via="shortcut", message=message,
                       response_url=body.get("response_url"))
    if result.done:
        return answer(rt, result)

    async def tell() -> None:
        await tell_person(rt.client, user, result.text, response_url=body.get("response_url"))

    return Reply(text="", after=[tell])


async def pin_added(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """A pinned message in an incident channel goes on the timeline."""
    event, request = _event(body)
    item = payload.obj(event.get("item"))
    message = payload.obj(item.get("message"))
    channel = payload.text(event.get("channel_id")) or payload.text(item.get("channel"))
    result = await run(rt, notes.add_message, Actor(payload.text(event.get("user")), None, request), channel,
                       payload.text(message.get("ts")), via="pin", message=message or None)
    return answer(rt, result)


async def reaction_added(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The configured reaction (default :pushpin:) on a message puts it on the timeline."""
    event, request = _event(body)
    item = payload.obj(event.get("item"))
    if event.get("reaction") != rt.settings.file.timeline_reaction or item.get("type") != "message":
        return None
    result = await run(rt, notes.add_message, Actor(payload.text(event.get("user")), None, request),
                       payload.text(item.get("channel")), payload.text(item.get("ts")), via="reaction")
    return answer(rt, result)


async def message_event(rt: Runtime, body: dict[str, Any]) -> None:
    """Edits and deletions of imported messages follow onto their timeline entries."""
    event, request = _event(body)
    channel = payload.text(event.get("channel"))
    if event.get("subtype") == "message_changed":
        changed = payload.obj(event.get("message"))
        ts, text = payload.text(changed.get("ts")), payload.text(changed.get("text"))
    elif event.get("subtype") == "message_deleted":
        ts, text = payload.text(event.get("deleted_ts")), None
    else:
        return
    async with rt.sessions() as session:
        await notes.follow_message(session, request, channel, ts, text)


async def member_event(rt: Runtime, body: dict[str, Any]) -> None:
    """Slack says someone joined or left a channel: the incident's membership follows."""
    event, request = _event(body)
    flow = notes.member_joined if event.get("type") == "member_joined_channel" else notes.member_left
    async with rt.sessions() as session:
        await flow(session, request, payload.text(event.get("channel")), payload.text(event.get("user")))
