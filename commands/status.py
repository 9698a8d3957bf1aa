"""`/incident status`, `severity`, `resolve`, `close`, the Update status form and the Snooze button."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, Option, PlainTextInputElement, StaticSelectElement
from slack_sdk.models.views import View

from bot.flows import lifecycle as lifecycle_flows
from bot.flows.base import Actor, Outcome, Ref, may
from bot.i18n import t
from bot.models import Incident
from bot.policy import Action
from bot.runtime import Runtime
from bot.severity import parse_severity, status_label
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape
from bot.vocabulary import SETTABLE, Status
from commands import payload, target
from commands.context import Invocation, Reply, answer, run

STATUS_FORM = "`/incident status investigating|identified|monitoring|resolved [note]`"
SEVERITY_FORM = "`/incident severity sev1|sev2|sev3|sev4 [reason]`"
STATUS_FORM_ID = "status_form"


async def status(inv: Invocation, args: str) -> Reply:
    """Set the status, with an optional note."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    words = rest.split(maxsplit=1)
    wanted = words[0].lower() if words else ""
    if wanted not in SETTABLE:
        if not words:
            return Reply(text=t("command.status.missing", lang, form=STATUS_FORM))
        return Reply(text=t("command.status.not_settable", lang, given=escape(clip(words[0], 30)), form=STATUS_FORM))
    note = words[1].strip() if len(words) > 1 else ""
    result = await run(inv.rt, lifecycle_flows.set_status, inv.actor, ref, wanted, note)
    return target.reply(inv, ref, result, "`/incident status INC-n <status> [note]`")


async def resolve(inv: Invocation, args: str) -> Reply:
    """Resolve, with an optional resolution; posts the post-incident review draft."""
    ref, resolution = target.ref_of(inv, args)
    result = await run(inv.rt, lifecycle_flows.set_status, inv.actor, ref, "resolved", resolution)
    return target.reply(inv, ref, result, "`/incident resolve INC-n [resolution]`")


async def close(inv: Invocation, args: str) -> Reply:
    """Close after the review; the channel is archived after the configured delay."""
    ref, note = target.ref_of(inv, args)
    result = await run(inv.rt, lifecycle_flows.set_status, inv.actor, ref, "closed", note)
    return target.reply(inv, ref, result, "`/incident close INC-n`")


async def severity(inv: Invocation, args: str) -> Reply:
    """Raise (anyone inside: if unsure, pick the higher) or lower (commander, with a reason) the severity."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    words = rest.split(maxsplit=1)
    wanted = parse_severity(words[0]) if words else None
    if wanted is None:
        if not words:
            return Reply(text=t("command.severity.missing", lang, form=SEVERITY_FORM))
        return Reply(text=t("command.severity.not_severity", lang, given=escape(clip(words[0], 30)), form=SEVERITY_FORM))
    reason = words[1].strip() if len(words) > 1 else ""
    result = await run(inv.rt, lifecycle_flows.set_severity, inv.actor, ref, wanted, reason)
    if result.outcome is Outcome.INVALID:
        return Reply(text=f"{result.text} {SEVERITY_FORM}")
    return target.reply(inv, ref, result, "`/incident severity INC-n <sev> [reason]`")


def status_form(incident: Incident) -> View:
    """The header's Update status form: the new status and a note for the timeline."""
    lang = incident.language
    options = [Option(value=s, text=status_label(s, lang)) for s in (*SETTABLE, Status.CLOSED)]
    current = next((o for o in options if o.value == incident.status), None)
    return View(
        type="modal", callback_id=STATUS_FORM_ID, title=t("command.status.form_title", lang),
        submit=t("command.status.form_submit", lang), close=t("command.cancel", lang),
        private_metadata=json.dumps({"incident": incident.id}),
        blocks=[
            InputBlock(block_id="status", label=t("command.status.field_status", lang),
                       element=StaticSelectElement(action_id="value", options=options, initial_option=current)),
            InputBlock(block_id="note", label=t("command.status.field_note", lang), optional=True,
                       element=PlainTextInputElement(action_id="value", multiline=True, max_length=3000)),
        ],
    )


async def open_status_form(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The header's Update status button: open the form after the ack, for someone inside the incident."""
    user = payload.user_of(body)
    async with rt.sessions() as session:
        seen = await may(session, rt.context, Actor(user), Ref(id=payload.row_id(payload.action_value(body))),
                         Action.SET_STATUS)
    if not seen.done:
        return _tell(rt, user, seen.text, body)
    incident = seen.value
    view = status_form(incident)

    async def show() -> None:
        try:
            await rt.client.views_open(trigger_id=body.get("trigger_id") or "", view=view.to_dict())
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            text = t("command.status.form_failed", incident.language, error=error, form=STATUS_FORM)
            await tell_person(rt.client, user, text, response_url=body.get("response_url"))

    return Reply(text="", after=[show])


async def submit_status_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Apply the chosen status; a refusal is shown in the form, nothing changes."""
    view = body.get("view") or {}
    values = payload.values(view)
    chosen = payload.chosen(values, "status")
    if not Status.known(chosen):
        return {"response_action": "errors", "errors": {"status": t("command.status.pick", rt.language)}}, None
    actor = payload.form_actor(body)
    ref = Ref(id=payload.row_id(payload.metadata(view).get("incident")))
    result = await run(rt, lifecycle_flows.set_status, actor, ref, chosen, payload.chosen(values, "note").strip())
    if result.outcome in (Outcome.DONE, Outcome.UNCHANGED, Outcome.REPEAT):
        return {}, answer(rt, result)
    return {"response_action": "errors", "errors": {"status": clip(result.text, 150)}}, None


async def snooze_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """Snooze 15 min on an update reminder: the next reminder comes later, and the timeline says so."""
    user = payload.user_of(body)
    actor = payload.button_actor(body)
    result = await run(rt, lifecycle_flows.snooze, actor, Ref(id=payload.row_id(payload.action_value(body))))
    reply = _tell(rt, user, result.text, body)
    reply.after = [*answer(rt, result).after, *reply.after]
    return reply


def _tell(rt: Runtime, user: str, text: str, body: dict[str, Any]) -> Reply:
    """Say something privately to whoever pressed a button, after the ack."""

    async def tell() -> None:
        await tell_person(rt.client, user, text, response_url=body.get("response_url"))

    return Reply(text="", after=[tell])
