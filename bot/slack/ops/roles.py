"""The Slack side of role changes: check the person, assign, invite, brief them, tell the one handing over."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, roles
from bot.i18n import pick
from bot.models import Incident, SlackOp
from bot.roles import role_name
from bot.slack.errors import slack_error
from bot.slack.notify import tell_person
from bot.slack.ops.base import Operation, Outcome, SlackEnv, dm
from bot.slack.text import channel_link, clip


async def _refuse(env: SlackEnv, incident: Incident, op: SlackOp, why_zh: str, why_en: str) -> Outcome:
    """Tell the person who asked that nothing changed, and why."""
    text = pick(incident.language, f"{why_zh}（{incident.key} 未做任何更改）", f"{why_en} ({incident.key}: nothing changed)")
    await tell_person(env.client, op.args["by"], text, response_url=op.args.get("response_url"))
    return Outcome()


async def assign_role(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Check the person with users.info, then record the assignment and queue what follows from it."""
    role, user, by = op.args["role"], op.args["user"], op.args["by"]
    try:
        info = (await env.client.users_info(user=user))["user"]
    except SlackApiError as exc:
        if slack_error(exc) != "user_not_found":
            raise
        return await _refuse(env, incident, op, f"Slack 里找不到用户 {user}", f"Slack has no user {user}")
    if info.get("is_bot") or user == env.bot_user_id:
        return await _refuse(env, incident, op, f"<@{user}> 是机器人，不能担任角色", f"<@{user}> is a bot and cannot hold a role")
    if info.get("deleted"):
        return await _refuse(env, incident, op, f"<@{user}> 的账号已停用", f"<@{user}> is deactivated")
    incident_id = incident.id
    assert incident_id is not None

    async def apply(session: AsyncSession) -> None:
        previous = await roles.assign(session, incident_id, role, user, by=by)
        if previous == user:
            return
        outbox.enqueue(session, incident_id, "invite", users=[user])
        outbox.enqueue(session, incident_id, "brief_role_holder", user=user, role=role)
        if previous:
            outbox.enqueue(session, incident_id, "tell_previous_holder", user=previous, role=role, new=user, by=by)
        await outbox.enqueue_once(session, incident_id, "update_header", wave=1)
        await outbox.enqueue_once(session, incident_id, "refresh_checklist", wave=1)
        if role == "commander":
            await outbox.enqueue_once(session, incident_id, "sync_timers", wave=1)  # no escalation any more

    return Outcome(apply=apply)


async def brief_role_holder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """DM the new holder their duties for this incident, from the playbook, with a link to the channel."""
    lang, role = incident.language, op.args["role"]
    playbook = env.playbooks.get(incident.playbook)
    duty = playbook.duties[role].get(lang) if playbook and role in playbook.duties else ""
    title = clip(incident.title, 200) if not incident.private else ""
    text = pick(
        lang,
        f"你现在是 *{incident.key}* {title} 的*{role_name(role, lang)}*：{channel_link(incident.channel_id, incident.channel_name)}\n"
        + (f"本事件中你的职责：{duty}" if duty else ""),
        f"You are now *{role_name(role, lang)}* for *{incident.key}* {title}: {channel_link(incident.channel_id, incident.channel_name)}\n"
        + (f"Your duties in this incident: {duty}" if duty else ""),
    )
    await dm(env, op.args["user"], text.strip(), op)
    return Outcome()


async def tell_previous_holder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Tell the previous holder who took over the role, so nobody keeps working a role they lost."""
    lang, role = incident.language, role_name(op.args["role"], incident.language)
    text = pick(
        lang,
        f"{incident.key} 的{role}已由 <@{op.args['new']}> 接任（<@{op.args['by']}> 交接）。",
        f"<@{op.args['new']}> has taken over {role} of {incident.key} (handed over by <@{op.args['by']}>).",
    )
    await dm(env, op.args["user"], text, op)
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "assign_role": assign_role,
    "brief_role_holder": brief_role_holder,
    "tell_previous_holder": tell_previous_holder,
}
