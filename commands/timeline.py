"""`/incident timeline [INC-n]`: the whole dated timeline, privately, page by page."""

from __future__ import annotations

from typing import Any

from bot import timeline
from bot.flows import reads
from bot.flows.base import Actor, Ref
from bot.i18n import t
from bot.models import Incident
from bot.runtime import Runtime
from bot.slack.notify import respond, tell_person
from bot.slack.timeline_view import ENTRIES_PER_PAGE, page_blocks, pages, sections
from commands import payload, target
from commands.context import Invocation, Reply


async def _page(rt: Runtime, incident: Incident, number: int) -> tuple[str, list[Any]]:
    """Page `number` of the timeline, read as one slice: the same cost on a short or a huge timeline."""
    assert incident.id is not None
    async with rt.reads() as session:
        entries = await timeline.count(session, incident.id)
        total = pages(entries)
        number = min(max(number, 0), total - 1)
        events = await timeline.window(session, incident.id, number * ENTRIES_PER_PAGE, ENTRIES_PER_PAGE)
    text = t("command.timeline.page", incident.language, key=incident.key, page=number + 1, total=total)
    return text, page_blocks(incident, sections(events, rt.settings.tz, incident.language), number, total, entries)


async def timeline_(inv: Invocation, args: str) -> Reply:
    """The first page; the buttons lead through the rest, so nothing is cut."""
    ref, _ = target.ref_of(inv, args)
    async with inv.rt.reads() as session:
        seen = await reads.see(session, inv.rt.context, inv.actor, ref)
    if not seen.done:
        return target.reply(inv, ref, seen, "`/incident timeline INC-n`")
    text, blocks = await _page(inv.rt, seen.value, 0)
    return Reply(text=text, blocks=blocks)


async def page_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Next / Previous: replace the private message with the asked page (after the ack)."""
    user = payload.user_of(body)
    incident_text, _, page_text = payload.action_value(body).partition(":")
    incident_id, page = payload.row_id(incident_text), payload.row_id(page_text)  # a page out of range shows the nearest
    async with rt.reads() as session:
        seen = await reads.see(session, rt.context, Actor(user), Ref(id=incident_id))
    if not seen.done or not isinstance(body.get("response_url"), str):

        async def tell() -> None:
            await tell_person(rt.client, user, seen.text, response_url=body.get("response_url"))

        return Reply(text="", after=[tell] if seen.text else [])
    text, blocks = await _page(rt, seen.value, page)

    async def show() -> None:
        await respond(body["response_url"], text=text, blocks=[b.to_dict() for b in blocks],
                      response_type="ephemeral", replace_original=True)

    return Reply(text="", after=[show])
