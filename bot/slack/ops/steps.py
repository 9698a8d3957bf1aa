"""The Slack side of the checklist: post it in parts, redraw a part in place, remind when a step is late."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot import steps as step_service
from bot.db import lock_row
from bot.i18n import t
from bot.models import Incident, SlackOp, Step
from bot.roles import role_name
from bot.slack.checklist import checklist_blocks, checklist_text, parts
from bot.slack.ops.base import (
    Operation,
    Outcome,
    SlackEnv,
    already_posted,
    current_holders,
    need_channel,
    op_metadata,
)
from bot.slack.text import clip, escape, mention
from bot.vocabulary import Role


def _grading(env: SlackEnv, incident: Incident) -> frozenset[str]:
    """The steps of the incident's playbook that ask for the legal grade."""
    playbook = env.playbooks.get(incident.playbook)
    return playbook.grading_steps() if playbook is not None else frozenset()


async def _parts(env: SlackEnv, incident_id: int) -> list[list[Step]]:
    async with env.sessions() as session:
        return parts(await step_service.all_steps(session, incident_id))


async def post_checklist(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Post the checklist, split under Slack's block limit, and remember which message holds which step."""
    incident_id = incident.id
    assert incident_id is not None
    channel = need_channel(incident)
    chunks = await _parts(env, incident_id)
    holders = await current_holders(env, incident_id)
    posted: dict[int, str] = {}
    drawn: dict[int, bool] = {}  # step id → shown done, in the messages this attempt posted
    for part, chunk in enumerate(chunks):
        ts = chunk[0].message_ts or await already_posted(env, channel, op, part)
        if ts is None:
            response = await env.client.chat_postMessage(
                channel=channel,
                text=checklist_text(incident, chunk),
                blocks=[b.to_dict() for b in checklist_blocks(incident, chunk, holders, env.tz, part=part, total=len(chunks),
                                                          grading=_grading(env, incident))],
                metadata=op_metadata(op, part),
            )
            ts = str(response["ts"])
            drawn.update({step.id or 0: step.done_at is not None for step in chunk})
        posted.update({step.id or 0: ts for step in chunk})

    async def apply(session: AsyncSession) -> None:
        # Under the incident's lock, as a step's completion: a step completed since it was drawn either finds its
        # message's ts (and queues the redraw itself) or is found here. A message an earlier attempt posted is
        # redrawn too: what it shows is not known.
        await lock_row(session, Incident, incident_id)
        stale: set[str] = set()
        for step_id, ts in posted.items():
            row = await session.get(Step, step_id)
            assert row is not None
            row.message_ts = ts
            session.add(row)
            if drawn.get(step_id) != (row.done_at is not None):
                stale.add(ts)
        for ts in sorted(stale):
            outbox.enqueue(session, incident_id, "refresh_checklist", ts=ts)

    return Outcome(
        event="checklist_posted",
        text=f"{len(posted)}",
        data={"messages": sorted(set(posted.values())), "steps": len(posted)},
        apply=apply,
    )


async def refresh_checklist(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Redraw the message holding `ts` (or every message) in place; an unposted part is drawn fresh later."""
    assert incident.id is not None
    chunks = await _parts(env, incident.id)
    wanted = op.args.get("ts")
    holders = await current_holders(env, incident.id)
    for part, chunk in enumerate(chunks):
        ts = chunk[0].message_ts
        if (wanted is not None and ts != wanted) or not ts or not incident.channel_id:
            continue
        await env.client.chat_update(
            channel=incident.channel_id, ts=ts, text=checklist_text(incident, chunk),
            blocks=[b.to_dict() for b in checklist_blocks(incident, chunk, holders, env.tz, part=part, total=len(chunks),
                                                          grading=_grading(env, incident))],
        )
    return Outcome()


async def schedule_open_steps(env: SlackEnv, session: AsyncSession, incident_id: int) -> None:
    """A reminder for every open step, scheduled from the caller's transaction (the runner writes the jobs with it)."""
    for step in await step_service.all_steps(session, incident_id):
        if step.done_at is None and step.reminded_at is None and step.due_at is not None:
            await env.schedule(f"step:{step.id}", step.due_at, "step_due", step.id or 0)


async def schedule_reminders(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Put a reminder for every open step in the persistent job store again (idempotent: same job ids), as the steps
    are when this operation is recorded. A declaration schedules them in provision's own transaction."""
    incident_id = incident.id
    assert incident_id is not None

    async def apply(session: AsyncSession) -> None:
        await schedule_open_steps(env, session, incident_id)

    return Outcome(apply=apply)


async def post_step_reminder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """One reminder in the channel, to the owner role's holder (the commander if the role is empty)."""
    assert incident.id is not None
    channel = need_channel(incident)
    async with env.sessions() as session:
        step = await session.get(Step, op.args["step_id"])
    if step is None or step.done_at is not None:
        return Outcome()
    if await already_posted(env, channel, op):
        return Outcome()
    holders = await current_holders(env, incident.id)
    who = holders.get(step.owner_role) or holders.get(Role.COMMANDER)
    lang = incident.language
    text = t("ops.steps.overdue", lang, number=step.number, title=clip(escape(step.title), 2000),
             owner=role_name(step.owner_role, lang), who=mention(who) or t("ops.steps.unassigned", lang))
    await env.client.chat_postMessage(channel=channel, text=text, metadata=op_metadata(op))
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "post_checklist": post_checklist,
    "refresh_checklist": refresh_checklist,
    "schedule_reminders": schedule_reminders,
    "post_step_reminder": post_step_reminder,
}
