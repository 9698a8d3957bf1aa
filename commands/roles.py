"""`/incident role`, `/incident roles`, and the header's Assign roles form."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, UserSelectElement
from slack_sdk.models.views import View

from bot import outbox, roles, timeline
from bot.config import ROLES
from bot.i18n import pick
from bot.milestones import duration, time_to_acknowledge
from bot.models import Incident
from bot.roles import role_name
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape, mention, when
from bot.timeline import events
from commands import payload, target
from commands.context import Invocation, Reply, start_work

log = logging.getLogger(__name__)

FORM = "`/incident role <role> @person`"
FORM_ID = "assign_roles_form"
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")



def _roles_list(lang: str) -> str:
    return ", ".join(f"`{role}` ({role_name(role, lang)})" for role in ROLES)


def _held_by_another(incident: Incident, role: str, holder: str) -> str:
    """Why a held role was not handed over."""
    return pick(
        incident.language,
        f"{role_name(role, incident.language)}目前由 {mention(holder)} 担任；只有本人或应急指挥可以交接。",
        f"{role_name(role, incident.language)} is held by {mention(holder)}; only they or the commander can hand it over.",
    )


async def _record_refusals(rt: Runtime, incident: Incident, by: str, refusals: list[tuple[str, str, str]]) -> None:
    """Put each refused assignment (why, role, person) on the timeline, as every refusal is."""
    async with rt.sessions() as session:
        for text, role, user in refusals:
            timeline.record(session, incident.id or 0, "refused", actor=by, text=text,
                            data={"action": "assign_role", "role": role, "user": user})
        await session.commit()


async def request_assignment(
    rt: Runtime, incident: Incident, role: str, user: str, *, by: str, response_url: str | None
) -> str | None:
    """Check who may do it, then queue the assignment; returns a refusal (recorded on the timeline) or None."""
    assert incident.id is not None
    async with rt.sessions() as session:
        holders = await roles.holders(session, incident.id)
        if not roles.may_assign(holders, role, by):
            refusal = _held_by_another(incident, role, holders[role])
            timeline.record(session, incident.id, "refused", actor=by, text=refusal,
                            data={"action": "assign_role", "role": role, "user": user})
            await session.commit()
            return refusal
        outbox.enqueue(session, incident.id, "assign_role", role=role, user=user, by=by, response_url=response_url)
        await session.commit()
    return None


async def role(inv: Invocation, args: str) -> Reply:
    """Give a role to a person: `/incident role comms @li.na`."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident role INC-n <role> @person`")
    if isinstance(found, Reply):
        return found
    incident, words = found.incident, found.args.split()
    if not words:
        return Reply(text=pick(lang, f"请写角色和人。正确格式：{FORM}\n角色：{_roles_list(lang)}",
                               f"Name a role and a person. Right form: {FORM}\nRoles: {_roles_list(lang)}"))
    name = words[0].lower()
    if name not in ROLES:
        return Reply(text=pick(lang, f"没有 `{escape(clip(words[0], 30))}` 这个角色。角色：{_roles_list(lang)}",
                               f"There is no role `{escape(clip(words[0], 30))}`. Roles: {_roles_list(lang)}"))
    match = MENTION.match(words[1]) if len(words) > 1 else None
    if match is None:
        given = escape(clip(words[1], 40)) if len(words) > 1 else ""
        return Reply(text=pick(
            lang,
            f"请用 @ 提及一个 Slack 成员{f'（`{given}` 不是成员提及）' if given else ''}。正确格式：{FORM}",
            f"Mention a Slack member with @{f' (`{given}` is not a mention)' if given else ''}. Right form: {FORM}",
        ))
    user = match.group(1)
    if user == inv.rt.bot_user_id:
        return Reply(text=pick(lang, "yingji 是机器人，不能担任角色。", "yingji is a bot and cannot hold a role."))
    if not found.inside:
        refusal = pick(lang, "只有事件频道里的人可以指定角色。", "Only people in the incident channel can assign roles.")
        await _record_refusals(inv.rt, incident, inv.user_id, [(refusal, name, user)])
        return Reply(text=refusal)
    refusal = await request_assignment(inv.rt, incident, name, user, by=inv.user_id, response_url=inv.response_url)
    if refusal:
        return Reply(text=refusal)
    incident_id = incident.id
    return Reply(text=pick(lang, f"正在把{role_name(name, lang)}交给 {mention(user)}（{incident.key}）…",
                           f"Giving {role_name(name, lang)} of {incident.key} to {mention(user)}…"), after=start_work(inv.rt, incident_id))


async def roles_(inv: Invocation, args: str) -> Reply:
    """Who holds which role, and how long it took to get a commander."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident roles INC-n`")
    if isinstance(found, Reply):
        return found
    incident = found.incident
    assert incident.id is not None
    async with inv.rt.sessions() as session:
        holders = await roles.holders(session, incident.id)
        history = await events(session, incident.id)
    since = {e.data.get("role"): e.at for e in history if e.kind == "role_assigned"}
    lines = [f"*{incident.key} · {'角色' if lang == 'zh' else 'Roles'}*"]
    for name in ROLES:
        who = holders.get(name)
        held = f"{mention(who)} ({pick(lang, '自', 'since')} {when(since[name], inv.rt.settings.tz)})" if who else pick(lang, "待指定", "unassigned")
        lines.append(f"• {role_name(name, lang)}: {held}")
    tta = time_to_acknowledge(incident.declared_at, history)
    label = pick(lang, "响应用时（到指定应急指挥）", "Time to acknowledge (first commander)")
    lines.append(f"{label}: {duration(tta, lang) if tta is not None else pick(lang, '尚无应急指挥', 'no commander yet')}")
    return Reply(text="\n".join(lines))


def assign_form(incident: Incident, holders: dict[str, str]) -> View:
    """One user picker per role, prefilled with the current holders."""
    lang = incident.language
    blocks = []
    for name in ROLES:
        element = UserSelectElement(action_id="user", initial_user=holders.get(name))
        blocks.append(InputBlock(block_id=name, label=role_name(name, lang), element=element, optional=True))
    return View(
        type="modal",
        callback_id=FORM_ID,
        title=pick(lang, "指定角色", "Assign roles"),
        submit=pick(lang, "保存", "Save"),
        close=pick(lang, "取消", "Cancel"),
        private_metadata=json.dumps({"incident": incident.id}),
        blocks=blocks,
    )


async def open_assign_form(rt: Runtime, body: dict[str, Any]) -> None:
    """The header's Assign roles button: open the form (after the ack)."""
    user = payload.user_of(body)
    incident_id = payload.row_id(payload.action_value(body))
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
        holders = await roles.holders(session, incident_id) if incident else {}
    if incident is None:
        return
    try:
        await rt.client.views_open(trigger_id=body.get("trigger_id", ""), view=assign_form(incident, holders).to_dict())
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        log.warning("assign roles form did not open: %s", error)
        await tell_person(rt.client, user, pick(incident.language, f"角色表单未能打开（Slack：{error}），请重试或使用 {FORM}。",
                                                  f"The roles form did not open (Slack: {error}); try again or use {FORM}."),
                          response_url=body.get("response_url"))


async def submit_assign_form(rt: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Queue an assignment for every changed role; a handover the person may not make is refused in the form."""
    view = body.get("view") or {}
    by = payload.user_of(body)
    incident_id = payload.row_id(payload.metadata(view).get("incident"))
    async with rt.sessions() as session:
        incident = await session.get(Incident, incident_id) if incident_id else None
        holders = await roles.holders(session, incident_id) if incident else {}
    if incident is None:
        return {"response_action": "errors", "errors": {ROLES[0]: "This incident no longer exists."}}, None
    values = payload.values(view)
    wanted = {name: payload.chosen(values, name, "user") for name in ROLES}
    changes = {name: user for name, user in wanted.items() if user and user != holders.get(name)}
    errors, refusals = {}, []
    for name, user in changes.items():
        if user == rt.bot_user_id:
            errors[name] = pick(incident.language, "机器人不能担任角色", "A bot cannot hold a role")
        elif not roles.may_assign(holders, name, by):
            errors[name] = pick(incident.language, "只有当前负责人或应急指挥可以交接", "Only the holder or the commander can hand this over")
            refusals.append((_held_by_another(incident, name, holders[name]), name, user))
    if refusals:
        await _record_refusals(rt, incident, by, refusals)
    if errors:
        return {"response_action": "errors", "errors": errors}, None
    for name, user in changes.items():
        refusal = await request_assignment(rt, incident, name, user, by=by, response_url=None)
        if refusal:
            return {"response_action": "errors", "errors": {name: clip(refusal, 150)}}, None

    return {}, Reply(text="", after=start_work(rt, incident_id))
