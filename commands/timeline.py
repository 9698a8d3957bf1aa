"""`/incident timeline [INC-n]`: the whole dated timeline, privately, page by page."""

from __future__ import annotations

from typing import Any

from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import incidents, timeline
from bot.models import Incident
from bot.runtime import Runtime
from bot.slack.timeline_view import ENTRIES_PER_PAGE, page_blocks, pages, sections
from commands import payload, target
from commands.context import Invocation, Reply


async def _page(rt: Runtime, incident: Incident, number: int) -> tuple[str, list[Any]]:
    """Page `number` of the timeline, read as one slice: the same cost on a short or a huge timeline."""
    assert incident.id is not None
    async with rt.sessions() as session:
        entries = await timeline.count(session, incident.id)
        total = pages(entries)
        number = min(max(number, 0), total - 1)
        events = await timeline.window(session, incident.id, number * ENTRIES_PER_PAGE, ENTRIES_PER_PAGE)
    text = f"{incident.key} timeline, page {number + 1} of {total}"
    return text, page_blocks(incident, sections(events, rt.settings.tz, incident.language), number, total, entries)


async def timeline_(inv: Invocation, args: str) -> Reply:
    """The first page; the buttons lead through the rest, so nothing is cut."""
    found = await target.find(inv, args, "`/incident timeline INC-n`")
    if isinstance(found, Reply):
        return found
    text, blocks = await _page(inv.rt, found.incident, 0)
    return Reply(text=text, blocks=blocks)


async def page_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Next / Previous: replace the private message with the asked page (after the ack)."""
    user = payload.user_of(body)
    incident_text, _, page_text = payload.action_value(body).partition(":")
    incident_id, page = payload.row_id(incident_text), payload.row_id(page_text)  # a page out of range shows the nearest
    if not incident_id or not isinstance(body.get("response_url"), str):
        return None
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id)
        if incident is None or incident.id is None:
            return None
        if incident.private and user not in (await incidents.insiders(session, [incident.id]))[incident.id]:
            return None
    text, blocks = await _page(rt, incident, page)

    async def show() -> None:
        await AsyncWebhookClient(body["response_url"]).send(
            text=text, blocks=[b.to_dict() for b in blocks], response_type="ephemeral", replace_original=True
        )

    return Reply(text="", after=[show])
