"""`/incident status`, `severity`, `resolve`, `close`, the Update status form and the Snooze button."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, Option, PlainTextInputElement, StaticSelectElement
from slack_sdk.models.views import View

from bot import lifecycle, outbox, roles, timeline, timers
from bot.i18n import pick
from bot.models import Incident
from bot.runtime import Runtime
from bot.severity import parse_severity, severity_label, status_label
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape
from commands import payload, target
from commands.context import Invocation, Reply, start_work

STATUS_FORM = "`/incident status investigating|identified|monitoring|resolved [note]`"
SEVERITY_FORM = "`/incident severity sev1|sev2|sev3|sev4 [reason]`"
STATUS_FORM_ID = "status_form"
SNOOZE_MINUTES = 15


async def _refuse(rt: Runtime, incident: Incident, by: str, action: str, zh: str, en: str) -> Reply:
    """Say privately why not, and record the refusal on the timeline."""
    text = pick(incident.language, zh, en)
    async with rt.sessions() as session:
        timeline.record(session, incident.id or 0, "refused", actor=by, text=text, data={"action": action})
        await session.commit()
    return Reply(text=text)


async def _is_manager(rt: Runtime, incident: Incident, by: str) -> bool:
    async with rt.sessions() as session:
        holders = await roles.holders(session, incident.id or 0)
    return lifecycle.may_resolve(holders, rt.settings.file.incident_managers, by)


async def apply_status(rt: Runtime, incident: Incident, status: str, *, by: str, note: str) -> Reply:
    """Resolving and closing are the commander's (or an incident manager's); the rest anyone inside may do."""
    lang = incident.language
    assert incident.id is not None
    if status in ("resolved", "closed") and not await _is_manager(rt, incident, by):
        return await _refuse(rt, incident, by, status, "只有应急指挥（或配置的事件经理）可以宣布解决或关闭。",
                             "Only the commander (or a configured incident manager) can resolve or close.")
    if status == "closed" and incident.status != "resolved":
        return Reply(text=pick(lang, "请先解决（`/incident resolve`）并完成复盘，再关闭。",
                               "Resolve first (`/incident resolve`) and hold the review, then close."))
    async with rt.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        changed = await lifecycle.change_status(session, row, status, by=by, note=note)
        await session.commit()
    label = status_label(status, lang)
    if not changed:
        return Reply(text=pick(lang, f"{incident.key} 已经是「{label}」，未做更改。", f"{incident.key} is already {label}; nothing changed."))
    return Reply(text=pick(lang, f"{incident.key} 状态：{label}", f"{incident.key} status: {label}"), after=start_work(rt, incident.id))


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
        return await _refuse(inv.rt, found.incident, inv.user_id, wanted, "只有事件频道里的人可以更新状态。",
                             "Only people in the incident channel can update the status.")
    return await apply_status(inv.rt, found.incident, wanted, by=inv.user_id, note=words[1].strip() if len(words) > 1 else "")


async def resolve(inv: Invocation, args: str) -> Reply:
    """Resolve, with an optional resolution; posts the post-incident review draft."""
    found = await target.find(inv, args, "`/incident resolve INC-n [resolution]`")
    if isinstance(found, Reply):
        return found
    return await apply_status(inv.rt, found.incident, "resolved", by=inv.user_id, note=found.args)


async def close(inv: Invocation, args: str) -> Reply:
    """Close after the review; the channel is archived after the configured delay."""
    found = await target.find(inv, args, "`/incident close INC-n`")
    if isinstance(found, Reply):
        return found
    return await apply_status(inv.rt, found.incident, "closed", by=inv.user_id, note=found.args)


async def severity(inv: Invocation, args: str) -> Reply:
    """Raise (anyone inside: if unsure, pick the higher) or lower (commander, with a reason) the severity."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident severity INC-n <sev> [reason]`")
    if isinstance(found, Reply):
        return found
    incident, words = found.incident, found.args.split(maxsplit=1)
    wanted = parse_severity(words[0]) if words else None
    if wanted is None:
        shown = f"`{escape(clip(words[0], 30))}` " if words else ""
        return Reply(text=pick(lang, f"{shown}不是有效级别。正确格式：{SEVERITY_FORM}", f"{shown}is not a severity. Right form: {SEVERITY_FORM}"))
    if not found.inside:
        return await _refuse(inv.rt, incident, inv.user_id, "change_severity", "只有事件频道里的人可以调整级别。",
                             "Only people in the incident channel can change the severity.")
    reason = words[1].strip() if len(words) > 1 else ""
    lowering = lifecycle.LEVELS.index(wanted) > lifecycle.LEVELS.index(incident.severity)
    if lowering and not await _is_manager(inv.rt, incident, inv.user_id):
        return await _refuse(inv.rt, incident, inv.user_id, "lower_severity", "只有应急指挥（或事件经理）可以降低级别。",
                             "Only the commander (or an incident manager) can lower the severity.")
    if lowering and not reason:
        return Reply(text=pick(lang, f"降级请写明原因：{SEVERITY_FORM}", f"Give the reason for lowering: {SEVERITY_FORM}"))
    async with inv.rt.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        events = await timeline.events(session, row.id or 0)
        started = {c.clock for c in timers.clocks(events)}
        change = await lifecycle.change_severity(session, row, wanted, by=inv.user_id, reason=reason,
                                                 playbook=inv.rt.playbooks.get(row.playbook),
                                                 tags=inv.rt.settings.file.regulatory, started_clocks=started)
        await session.commit()
    label = severity_label(wanted, lang)
    if change is None:
        return Reply(text=pick(lang, f"{incident.key} 已经是 {label}，未做更改。", f"{incident.key} is already {label}; nothing changed."))
    return Reply(text=pick(lang, f"{incident.key} 级别：{label}", f"{incident.key} severity: {label}"), after=start_work(inv.rt, incident.id))


def status_form(incident: Incident) -> View:
    """The header's Update status form: the new status and a note for the timeline."""
    lang = incident.language
    options = [Option(value=s, text=status_label(s, lang)) for s in (*lifecycle.SETTABLE, "closed")]
    current = next((o for o in options if o.value == incident.status), None)
    return View(
        type="modal", callback_id=STATUS_FORM_ID, title=pick(lang, "更新状态", "Update status"),
        submit=pick(lang, "更新", "Update"), close=pick(lang, "取消", "Cancel"),
        private_metadata=json.dumps({"incident": incident.id}),
        blocks=[
            InputBlock(block_id="status", label=pick(lang, "状态", "Status"),
                       element=StaticSelectElement(action_id="value", options=options, initial_option=current)),
            InputBlock(block_id="note", label=pick(lang, "说明", "Note"), optional=True,
                       element=PlainTextInputElement(action_id="value", multiline=True, max_length=3000)),
        ],
    )


async def open_status_form(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The header's Update status button: open the form after the ack."""
    incident_id = payload.row_id(payload.action_value(body))
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
    if incident is None:
        return None
    view = status_form(incident)

    async def show() -> None:
        try:
            await rt.client.views_open(trigger_id=body.get("trigger_id") or "", view=view.to_dict())
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            await tell_person(rt.client, payload.user_of(body), pick(
                incident.language, f"状态表单未能打开（Slack：{error}），请重试或使用 {STATUS_FORM}。",
                f"The status form did not open (Slack: {error}); try again or use {STATUS_FORM}."),
                response_url=body.get("response_url"))

    return Reply(text="", after=[show])


async def submit_status_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Apply the chosen status; a refusal is shown in the form, nothing changes."""
    view, by = body.get("view") or {}, payload.user_of(body)
    values = payload.values(view)
    chosen = payload.chosen(values, "status")
    note = payload.chosen(values, "note").strip()
    incident_id = payload.row_id(payload.metadata(view).get("incident"))
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
    if incident is None or chosen not in (*lifecycle.SETTABLE, "closed"):
        return {"response_action": "errors", "errors": {"status": "?"}}, None
    reply = await apply_status(rt, incident, chosen, by=by, note=note)
    if not reply.after and chosen != incident.status:
        return {"response_action": "errors", "errors": {"status": clip(reply.text, 150)}}, None
    return {}, reply


async def snooze_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Snooze 15 min on an update reminder: the next reminder comes later, and the timeline says so."""
    incident_id = payload.row_id(payload.action_value(body))
    by = payload.user_of(body)
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
        cadence = rt.cadence(incident.severity) if incident else None
        if incident is None or cadence is None:
            return None
        lifecycle.snooze(session, incident, by=by, minutes=SNOOZE_MINUTES, cadence=cadence)
        await outbox.enqueue_once(session, incident.id, "sync_timers")
        await session.commit()
    text = pick(incident.language, f"好的，{SNOOZE_MINUTES} 分钟后再提醒。", f"OK, the next reminder comes in {SNOOZE_MINUTES} min.")

    async def tell() -> None:
        await tell_person(rt.client, by, text, response_url=body.get("response_url"))

    return Reply(text="", after=[*start_work(rt, incident.id), tell])
