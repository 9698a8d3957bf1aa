"""`/incident note`, the `Add to timeline` shortcut, pins and reactions in an incident channel."""

from __future__ import annotations

import re
from typing import Any

from bot import capture, deliveries, incidents, outbox
from bot.i18n import pick
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from commands import payload, target
from commands.context import Invocation, Reply, start_work

NOTE_FORM = "`/incident note <text>`（`action: …` 标为行动项）"
NOTE_FORM_EN = "`/incident note <text>` (start with `action:` for an action item)"
SHORTCUT_ID = "add_to_timeline"
TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,9}$")  # a Slack message ts: seconds.micros



async def note(inv: Invocation, args: str) -> Reply:
    """Add a line to the timeline and echo it in the incident channel."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident note INC-n <text>`")
    if isinstance(found, Reply):
        return found
    if not found.args:
        return Reply(text=pick(lang, f"请写下要记录的内容。正确格式：{NOTE_FORM}", f"Write what to record. Right form: {NOTE_FORM_EN}"))
    if not found.inside:
        return Reply(text=pick(lang, "只有事件频道里的人可以记录。", "Only people in the incident channel can add notes."))
    incident = found.incident
    assert incident.id is not None
    async with inv.rt.sessions() as session:
        event = capture.add_note(session, incident.id, found.args, by=inv.user_id)
        await session.flush()
        outbox.enqueue(session, incident.id, "post_note", event_id=event.id)
        await session.commit()
    incident_id = incident.id
    kind = pick(lang, "行动项", "action item") if event.kind == "action_item" else pick(lang, "记录", "note")
    return Reply(text=pick(lang, f"已记入 {incident.key} 的时间线（{kind}）。", f"Recorded on {incident.key}'s timeline ({kind})."),
                 after=start_work(inv.rt, incident_id))


async def queue_import(
    rt: Runtime, *, channel: str, ts: str, via: str, by: str, dedup_key: str | None,
    message: dict[str, Any] | None = None, response_url: str | None = None,
) -> int | None:
    """Durably queue the import of one message of an incident channel; returns the incident to kick."""
    if not channel or not TS.match(ts) or by == rt.bot_user_id:
        return None
    async with rt.sessions() as session:
        incident = await incidents.by_channel(session, channel)
        if incident is None or incident.id is None:
            return None
        if dedup_key and not await deliveries.claim(session, dedup_key):
            return None
        outbox.enqueue(session, incident.id, "import_message", channel=channel, ts=ts, via=via, by=by,
                       message=message, response_url=response_url)
        await session.commit()
        return incident.id


def _kick(rt: Runtime, incident_id: int | None) -> Reply | None:
    if incident_id is None:
        return None

    return Reply(text="", after=start_work(rt, incident_id))


async def shortcut(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The `Add to timeline` message shortcut."""
    where = body.get("channel")
    channel = payload.text(where.get("id")) if isinstance(where, dict) else payload.text(where)
    message = body.get("message") or {}
    user = payload.user_of(body)
    incident_id = await queue_import(
        rt, channel=channel, ts=payload.text(message.get("ts")), via="shortcut", by=user,
        dedup_key=f"shortcut:{body.get('trigger_id')}", message=message, response_url=body.get("response_url"),
    )
    if incident_id is None:
        text = pick(rt.language, "只能把事件频道里的消息加入时间线。", "Only messages in an incident channel can be added to a timeline.")

        async def tell() -> None:
            await tell_person(rt.client, user, text, response_url=body.get("response_url"))

        return Reply(text="", after=[tell])
    return _kick(rt, incident_id)


async def pin_added(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """A pinned message in an incident channel goes on the timeline."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    message = item.get("message") or {}
    incident_id = await queue_import(
        rt, channel=payload.text(event.get("channel_id")) or payload.text(item.get("channel")),
        ts=payload.text(message.get("ts")), via="pin", by=payload.text(event.get("user")),
        dedup_key=f"event:{body.get('event_id')}", message=message or None,
    )
    return _kick(rt, incident_id)


async def reaction_added(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The configured reaction (default :pushpin:) on a message puts it on the timeline."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    if event.get("reaction") != rt.settings.file.timeline_reaction or item.get("type") != "message":
        return None
    incident_id = await queue_import(
        rt, channel=payload.text(item.get("channel")), ts=payload.text(item.get("ts")), via="reaction",
        by=payload.text(event.get("user")), dedup_key=f"event:{body.get('event_id')}",
    )
    return _kick(rt, incident_id)


async def message_event(rt: Runtime, body: dict[str, Any]) -> None:
    """Edits and deletions of imported messages follow onto their timeline entries."""
    event = body.get("event") or {}
    subtype = event.get("subtype")
    if subtype not in ("message_changed", "message_deleted"):
        return
    channel = payload.text(event.get("channel"))
    async with rt.sessions() as session:
        if not channel or await incidents.by_channel(session, channel) is None:
            return
        if not await deliveries.claim(session, f"event:{body.get('event_id')}"):
            return
        if subtype == "message_changed":
            changed = event.get("message") or {}
            await capture.message_changed(session, channel, payload.text(changed.get("ts")), text=payload.text(changed.get("text")))
        else:
            await capture.message_changed(session, channel, payload.text(event.get("deleted_ts")), text=None, deleted=True)
        await session.commit()
