"""The Slack side of a declaration, one small idempotent function per outbox operation."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import incidents, membership, timeline, timers
from bot.i18n import has, t
from bot.models import Incident, SlackOp
from bot.naming import channel_name
from bot.slack import blocks
from bot.slack.channels import find_by_name
from bot.slack.error_codes import ErrorKind
from bot.slack.errors import classify, slack_error
from bot.slack.ops.base import (
    Blocked,
    Operation,
    Outcome,
    SlackEnv,
    already_posted,
    current_holders,
    need_channel,
    op_metadata,
)
from bot.slack.ops.steps import schedule_open_steps
from bot.slack.text import channel_link, unescape


async def provision(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """After the ack: copy the checklist, start the clocks, assign default roles, schedule the step reminders and the
    timers, queue the Slack work: all in the transaction that records this operation."""
    playbook = env.playbooks.get(incident.playbook)
    if playbook is None:
        raise Blocked(f"playbook {incident.playbook} is no longer loaded")
    args = op.args

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Incident, incident.id)
        assert row is not None and row.id is not None
        await incidents.provision(session, row, playbook, default_holders=args.get("default_holders") or {},
                                  announce_channel=_announce_channel(env, args),
                                  regulatory=list(args.get("regulatory") or []))
        await schedule_open_steps(env, session, row.id)
        await _start_timers(env, session, row)

    return Outcome(apply=apply)


def _announce_channel(env: SlackEnv, args: dict[str, Any]) -> str | None:
    """Where the declaration said it is announced (one queued by an older version said only whether it is)."""
    if "announce_channel" in args:
        return args["announce_channel"] or None
    return env.announce_channel_id if args.get("announce") else None


async def _start_timers(env: SlackEnv, session: AsyncSession, incident: Incident) -> None:
    """The new incident's timers (cadence, escalation, its clocks' reminders), planned by timers.wanted from its first
    events as sync_timers plans them, but in provision's own transaction: no read and no operation of their own."""
    assert incident.id is not None
    events = await timeline.events(session, incident.id)
    for timer in timers.wanted(incident, events, cadence_minutes=env.cadence_of(incident.severity, incident.playbook),
                               escalate_after_minutes=env.escalate_of(incident.severity),
                               archive_after_days=env.archive_after_days):
        await env.schedule(timer.job_id, timer.at, timer.kind, *timer.args)


async def _find_own_channel(env: SlackEnv, name: str) -> str | None:
    """A channel by this name that the bot created (an earlier attempt that crashed before recording it)."""
    channel = await find_by_name(env.client, name, archived=True)
    return str(channel["id"]) if channel and channel.get("creator") == env.bot_user_id else None


async def create_channel(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Create the channel; on name_taken adopt our own half-made channel or add a suffix."""
    if incident.channel_id:
        return Outcome()
    assert incident.id is not None and incident.channel_name is not None
    name = incident.channel_name
    for attempt in range(2, 50):
        try:
            response = await env.client.conversations_create(name=name, is_private=incident.private)
            channel_id = str(response["channel"]["id"])
            break
        except SlackApiError as exc:
            if slack_error(exc) != "name_taken":
                raise
        own = await _find_own_channel(env, name)
        if own and not await env.channel_taken(own, incident.id):
            channel_id = own
            break
        prefix = f"{env.channel_prefix}-drill" if incident.drill else env.channel_prefix
        name = channel_name(prefix, incident.id, incident.title, incident.declared_at, env.tz,
                            private=incident.private, attempt=attempt)
    else:
        raise RuntimeError("no free channel name after 48 attempts")
    return Outcome(
        updates={"channel_id": channel_id, "channel_name": name},
        event="channel_created",
        text=f"#{name}",
        data={"channel": channel_id, "name": name, "private": incident.private},
    )


async def set_topic(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Topic: severity, status, key and title, so the sidebar tells the state at a glance."""
    topic = blocks.topic(incident)
    await env.client.conversations_setTopic(channel=need_channel(incident), topic=topic)
    return Outcome(event="topic_set", text=unescape(topic))  # the timeline keeps it as people read it


async def set_purpose(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Purpose: what the channel is for and which playbook it runs."""
    purpose = blocks.purpose(incident, env.playbook_name(incident.playbook, incident.language))
    await env.client.conversations_setPurpose(channel=need_channel(incident), purpose=purpose)
    return Outcome(event="purpose_set", text=unescape(purpose))


ALREADY_IN = "already_in_channel"


def _refused_person(exc: SlackApiError) -> bool:
    """Whether Slack turned an invite down because of a person (a guest, a deactivated account), not the call."""
    return classify(exc).kind is ErrorKind.PERSON


async def _invite_each(env: SlackEnv, channel: str, users: list[str]) -> tuple[list[str], dict[str, str]]:
    """Invite one at a time, after a batch invite was refused because of someone: who got in, who did not and why."""
    invited: list[str] = []
    refused: dict[str, str] = {}
    for user in users:
        try:
            await env.client.conversations_invite(channel=channel, users=user)
            invited.append(user)
        except SlackApiError as exc:
            if _refused_person(exc):
                refused[user] = str(slack_error(exc))
            elif slack_error(exc) != ALREADY_IN:
                raise
    return invited, refused


async def invite(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Invite the declarer and role holders; a guest or a deactivated account keeps only themselves out."""
    channel = need_channel(incident)
    users = [u for u in op.args.get("users", []) if u != env.bot_user_id]
    if not users:
        return Outcome()
    invited: list[str] = users
    refused: dict[str, str] = {}  # user → Slack's error about them
    try:
        await env.client.conversations_invite(channel=channel, users=",".join(users))
    except SlackApiError as exc:
        if not _refused_person(exc) and slack_error(exc) != ALREADY_IN:
            raise
        invited, refused = await _invite_each(env, channel, users)
    incident_id = incident.id
    assert incident_id is not None
    present = [u for u in users if u not in refused]  # invited now, or already there

    async def record_members(session: AsyncSession) -> None:
        await membership.join(session, incident_id, present)

    if not invited and not refused:
        return Outcome(apply=record_members)  # everyone was already there
    text = " ".join(f"<@{u}>" for u in invited)
    if refused:
        text = f"{text}\n{_not_invited(refused, incident.language)}".strip()
    return Outcome(event="members_invited", text=text, data={"invited": invited, "refused": refused},
                   apply=record_members)


def _not_invited(refused: dict[str, str], language: str) -> str:
    """Who Slack would not add to the channel, and why, for people to read."""
    people = "; ".join(f"<@{user}> ({_reason(code, language)})" for user, code in refused.items())
    return t("declare.not_invited", language, people=people)


def _reason(code: str, language: str) -> str:
    """Slack's refusal of a person in words, where the bot has them; else Slack's code."""
    return t(f"refused.{code}", language) if has(f"refused.{code}") else code


async def post_header(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Post the header message that later changes update in place."""
    if incident.header_ts:
        return Outcome()
    assert incident.id is not None
    channel = need_channel(incident)
    ts = await already_posted(env, channel, op)
    if ts is None:
        response = await env.client.chat_postMessage(
            channel=channel,
            text=blocks.header_text(incident),
            blocks=await _header(env, incident),
            metadata=op_metadata(op),
        )
        ts = str(response["ts"])
    return Outcome(updates={"header_ts": ts}, event="header_posted", text=unescape(blocks.header_text(incident)), data={"ts": ts})


async def _header(env: SlackEnv, incident: Incident) -> list[dict]:
    assert incident.id is not None
    holders = await current_holders(env, incident.id)
    name = env.playbook_name(incident.playbook, incident.language)
    playbook = env.playbooks.get(incident.playbook)
    graded = playbook is not None and playbook.graded
    roles = env.roles_of(incident.playbook, holders)
    return [b.to_dict() for b in blocks.header_blocks(incident, holders, name, env.tz, roles, graded=graded)]


async def update_header(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Redraw the header in place from the current state; before it is posted there is nothing to do."""
    if incident.header_ts and incident.channel_id:
        await env.client.chat_update(
            channel=incident.channel_id, ts=incident.header_ts,
            text=blocks.header_text(incident), blocks=await _header(env, incident),
        )
    return Outcome()


async def pin_header(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Pin the header so it stays at hand however long the channel grows."""
    if not incident.header_ts:
        raise Blocked("the header message was not posted")
    try:
        await env.client.pins_add(channel=need_channel(incident), timestamp=incident.header_ts)
    except SlackApiError as exc:
        if slack_error(exc) != "already_pinned":
            raise
    return Outcome(event="header_pinned", text=blocks.header_title(incident), data={"ts": incident.header_ts})


async def announce(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Tell the announce channel the declaration chose; a private incident gives only its key and severity."""
    channel = str(op.args.get("channel") or env.announce_channel_id or "")  # (older versions queued no channel)
    if not channel:
        return Outcome()
    need_channel(incident)
    ts = await already_posted(env, channel, op)
    if ts is None:
        response = await env.client.chat_postMessage(
            channel=channel,
            text=blocks.announcement_text(incident),
            blocks=[b.to_dict() for b in blocks.announcement_blocks(incident)],
            metadata=op_metadata(op),
            unfurl_links=False,
        )
        ts = str(response["ts"])
    return Outcome(
        event="announced", text=f"<#{channel}>", data={"channel": channel, "ts": ts}
    )


async def tell_declarer_ready(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Tell the person who declared that the channel is ready (privately), and who Slack would not let in."""
    channel = need_channel(incident)
    text = t("declare.ready", incident.language, key=incident.key, channel=channel_link(channel))
    async with env.sessions() as session:
        invites = await timeline.events(session, incident.id or 0, kinds=["members_invited"])
    refused = {user: str(code) for event in invites for user, code in (event.data.get("refused") or {}).items()}
    if refused:
        text += "\n:warning: " + _not_invited(refused, incident.language)
    await env.tell(incident, text)
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "provision": provision,
    "create_channel": create_channel,
    "set_topic": set_topic,
    "set_purpose": set_purpose,
    "invite": invite,
    "post_header": post_header,
    "pin_header": pin_header,
    "update_header": update_header,
    "announce": announce,
    "tell_declarer_ready": tell_declarer_ready,
}
