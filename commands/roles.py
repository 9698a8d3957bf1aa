"""`/incident role`, `/incident roles`, and the header's Assign roles form."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, UserSelectElement
from slack_sdk.models.views import View

from bot import discovery, roles
from bot.flows import reads
from bot.flows import roles as role_flows
from bot.flows.base import Actor, Outcome, Ref
from bot.i18n import t
from bot.milestones import duration, time_to_acknowledge
from bot.models import Incident
from bot.roles import role_name
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape, mention, when
from bot.timeline import events
from bot.vocabulary import Role
from commands import payload, target
from commands.context import Invocation, Reply, run, start_work

log = logging.getLogger(__name__)

FORM = "`/incident role <role> @person`"
FORM_ID = "assign_roles_form"
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def _roles_list(lang: str) -> str:
    """Every role of this deployment; an incident's own list is told when a role is not one of its roles."""
    return roles.listing(roles.all_roles(), lang)


async def role(inv: Invocation, args: str) -> Reply:
    """Give a role to a person: `/incident role comms @li.na`."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    words = rest.split()
    if not words:
        return Reply(text=t("command.role.missing", lang, form=FORM, roles=_roles_list(lang)))
    name = words[0].lower()  # whether it is one of this incident's roles, the flow decides
    match = MENTION.match(words[1]) if len(words) > 1 else None
    if match is None:
        given = escape(clip(words[1], 40)) if len(words) > 1 else ""
        if not given:
            return Reply(text=t("command.role.mention_needed", lang, form=FORM))
        return Reply(text=t("command.role.not_a_mention", lang, given=given, form=FORM))
    result = await run(inv.rt, role_flows.assign, inv.actor, ref, {name: match.group(1)}, response_url=inv.response_url)
    return target.reply(inv, ref, result, "`/incident role INC-n <role> @person`")


async def roles_(inv: Invocation, args: str) -> Reply:
    """Who holds which role, and how long it took to get a commander."""
    lang = inv.language
    ref, _ = target.ref_of(inv, args)
    async with inv.rt.reads() as session:
        seen = await reads.see(session, inv.rt.context, inv.actor, ref)
        if not seen.done:
            return target.reply(inv, ref, seen, "`/incident roles INC-n`")
        incident = seen.value
        holders = await roles.holders(session, incident.id)
        history = await events(session, incident.id)
    since = {e.data.get("role"): e.at for e in history if e.kind == "role_assigned"}
    lines = [t("command.roles.heading", lang, key=incident.key)]
    for name in inv.rt.context.roles_of(incident.playbook, holders):
        who = holders.get(name)
        held = (t("command.roles.held", lang, who=mention(who), since=when(since[name], inv.rt.settings.tz)) if who
                else t("command.roles.unassigned", lang))
        lines.append(f"• {role_name(name, lang)}: {held}")
    tta = time_to_acknowledge(discovery.start(incident), history)
    took = duration(tta, lang) if tta is not None else t("command.roles.no_commander", lang)
    lines.append(t("command.roles.time_to_acknowledge", lang, duration=took))
    return Reply(text="\n".join(lines))


def assign_form(incident: Incident, holders: dict[str, str], names: list[str]) -> View:
    """One user picker per role of the incident (`names`, see bot/roles.py), prefilled with the current holders."""
    lang = incident.language
    blocks = []
    for name in names:
        element = UserSelectElement(action_id="user", initial_user=holders.get(name))
        blocks.append(InputBlock(block_id=name, label=role_name(name, lang), element=element, optional=True))
    return View(
        type="modal",
        callback_id=FORM_ID,
        title=t("command.roles.form_title", lang),
        submit=t("command.save", lang),
        close=t("command.cancel", lang),
        private_metadata=json.dumps({"incident": incident.id}),
        blocks=blocks,
    )


async def open_assign_form(rt: Runtime, body: dict[str, Any]) -> None:
    """The header's Assign roles button: open the form (after the ack) for someone inside the incident."""
    user = payload.user_of(body)
    result = await run(rt, role_flows.open_assign, Actor(user), Ref(id=payload.row_id(payload.action_value(body))))
    if not result.done:
        await tell_person(rt.client, user, result.text, response_url=body.get("response_url"))
        return
    incident, holders = result.value
    form = assign_form(incident, holders, rt.context.roles_of(incident.playbook, holders))
    try:
        await rt.client.views_open(trigger_id=body.get("trigger_id", ""), view=form.to_dict())
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        log.warning("assign roles form did not open: %s", error)
        text = t("command.roles.form_failed", incident.language, error=error, form=FORM)
        await tell_person(rt.client, user, text, response_url=body.get("response_url"))


async def submit_assign_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Give every role whose picker changed; a refusal is shown in the form and nothing changes."""
    view = body.get("view") or {}
    values = payload.values(view)
    ref = Ref(id=payload.row_id(payload.metadata(view).get("incident")))
    wanted = {name: payload.chosen(values, name, "user") for name in values}  # the flow refuses a role not the incident's
    async with rt.reads() as session:
        seen = await reads.see(session, rt.context, Actor(payload.user_of(body)), ref)
        holders = await roles.holders(session, seen.incident_id) if seen.done and seen.incident_id else {}
    changes = {name: user for name, user in wanted.items() if user and user != holders.get(name)}
    if seen.done and not changes:
        return {}, None
    actor = payload.form_actor(body)
    result = await run(rt, role_flows.assign, actor, ref, changes) if seen.done else seen
    if result.outcome in (Outcome.DONE, Outcome.UNCHANGED, Outcome.REPEAT):
        return {}, Reply(text="", after=start_work(rt, result.incident_id) if result.done else [])
    field = next(iter(changes), Role.COMMANDER)
    return {"response_action": "errors", "errors": {field: clip(result.text, 150)}}, None
