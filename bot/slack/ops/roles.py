"""The Slack side of role changes: check the person, brief them, tell the one replaced and the one who assigned."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot.flows import roles as flows_roles
from bot.i18n import t
from bot.models import Incident, SlackOp
from bot.roles import role_name
from bot.slack.errors import slack_error
from bot.slack.notify import tell_person
from bot.slack.ops.base import Operation, Outcome, SlackEnv, current_holders, dm
from bot.slack.text import Said, channel_link


async def _undo(env: SlackEnv, incident: Incident, op: SlackOp, why: str) -> Outcome:
    """Take the assignment back and tell the person who made it why (`ops.roles.<why>`, about the user)."""
    incident_id, role, user, lang = incident.id, op.args["role"], op.args["user"], incident.language
    assert incident_id is not None
    text = t("ops.roles.undone", lang, why=t(f"ops.roles.{why}", lang, user=user), role=role_name(role, lang),
             key=incident.key)

    async def apply(session: AsyncSession) -> None:
        if await flows_roles.undo(session, incident_id, role, user, op.args.get("previous")):
            outbox.enqueue(session, incident_id, "tell_assigner", wave=1, user=op.args["by"], text=text,
                           response_url=op.args.get("response_url"))

    return Outcome(apply=apply)


async def check_holder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """After an assignment: Slack must know the person as a human with an active account, else it is undone."""
    user = op.args["user"]
    try:
        info = (await env.client.users_info(user=user))["user"]
    except SlackApiError as exc:
        if slack_error(exc) != "user_not_found":
            raise
        return await _undo(env, incident, op, "no_such_user")
    if info.get("is_bot") or user == env.bot_user_id:
        return await _undo(env, incident, op, "is_bot")
    if info.get("deleted"):
        return await _undo(env, incident, op, "deactivated")
    incident_id, role, previous = incident.id or 0, op.args["role"], op.args.get("previous")

    async def apply(session: AsyncSession) -> None:
        flows_roles.welcome(session, incident_id, role, user, previous, by=op.args["by"])

    return Outcome(apply=apply)


async def tell_assigner(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Tell whoever made an assignment that it was undone, and why."""
    await tell_person(env.client, op.args["user"], op.args["text"], response_url=op.args.get("response_url"))
    return Outcome()


async def brief_role_holder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """DM the new holder their duties for this incident, from the playbook, with a link to the channel."""
    lang, role = incident.language, op.args["role"]
    if (await current_holders(env, incident.id or 0)).get(role) != op.args["user"]:
        return Outcome()  # undone, or handed on already: no briefing for a role they do not hold
    playbook = env.playbooks.get(incident.playbook)
    duty = playbook.duties[role].get(lang) if playbook and role in playbook.duties else ""
    title = Said(incident.title).clip(200) if not incident.private else ""
    text = t("ops.roles.briefing", lang, key=incident.key, title=title, role=role_name(role, lang),
             channel=channel_link(incident.channel_id, incident.channel_name))
    text += "\n" + (t("ops.roles.duties", lang, duty=duty) if duty else "")
    await dm(env, op.args["user"], text.strip(), op)
    return Outcome()


async def tell_previous_holder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Tell the previous holder who took over the role, so nobody keeps working a role they lost."""
    lang, role = incident.language, role_name(op.args["role"], incident.language)
    text = t("ops.roles.taken_over", lang, key=incident.key, role=role, new=op.args["new"], by=op.args["by"])
    await dm(env, op.args["user"], text, op)
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "check_holder": check_holder,
    "tell_assigner": tell_assigner,
    "brief_role_holder": brief_role_holder,
    "tell_previous_holder": tell_previous_holder,
}
