"""`/incident status <status> [note]` and `/incident resolve [resolution]`."""

from __future__ import annotations

from bot.i18n import pick
from bot import lifecycle, roles, timeline
from bot.runtime import Runtime
from bot.models import Incident
from bot.severity import status_label
from bot.slack.text import clip, escape
from commands import target
from commands.context import Invocation, Reply, start_work

STATUS_FORM = "`/incident status investigating|identified|monitoring|resolved [note]`"



async def apply_status(rt: Runtime, incident: Incident, status: str, *, by: str, note: str) -> Reply:
    """Check permission for resolving, record the change, and start the redraws."""
    lang = incident.language
    assert incident.id is not None
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident.id, populate_existing=True) or incident
        if status == "resolved":
            holders = await roles.holders(session, incident.id)
            if not lifecycle.may_resolve(holders, rt.settings.file.incident_managers, by):
                refusal = pick(lang, "只有应急指挥（或配置的事件经理）可以宣布解决。",
                               "Only the commander (or a configured incident manager) can resolve.")
                timeline.record(session, incident.id, "refused", actor=by, text=refusal, data={"action": "resolve"})
                await session.commit()
                return Reply(text=refusal)
        changed = await lifecycle.change_status(session, incident, status, by=by, note=note)
        await session.commit()
    label = status_label(status, lang)
    if not changed:
        return Reply(text=pick(lang, f"{incident.key} 已经是「{label}」，未做更改。", f"{incident.key} is already {label}; nothing changed."))
    incident_id = incident.id
    return Reply(text=pick(lang, f"{incident.key} 状态：{label}", f"{incident.key} status: {label}"), after=start_work(rt, incident_id))


async def status(inv: Invocation, args: str) -> Reply:
    """Set the status, with an optional note."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident status INC-n <status> [note]`")
    if isinstance(found, Reply):
        return found
    words = found.args.split(maxsplit=1)
    wanted = words[0].lower() if words else ""
    if wanted not in lifecycle.SETTABLE:
        shown = f"`{escape(clip(words[0], 30))}` " if words else ""
        return Reply(text=pick(lang, f"{shown}不是可设置的状态。正确格式：{STATUS_FORM}", f"{shown}is not a status you can set. Right form: {STATUS_FORM}"))
    if not found.inside:
        return Reply(text=pick(lang, "只有事件频道里的人可以更新状态。", "Only people in the incident channel can update the status."))
    return await apply_status(inv.rt, found.incident, wanted, by=inv.user_id, note=words[1].strip() if len(words) > 1 else "")


async def resolve(inv: Invocation, args: str) -> Reply:
    """Resolve, with an optional resolution; posts the post-incident review draft."""
    found = await target.find(inv, args, "`/incident resolve INC-n [resolution]`")
    if isinstance(found, Reply):
        return found
    return await apply_status(inv.rt, found.incident, "resolved", by=inv.user_id, note=found.args)
