"""The Slack side of the lifecycle: timers, update reminders, escalation, clocks, leadership, archive."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot import roles, timeline, timers
from bot.db import utcnow
from bot.i18n import t
from bot.milestones import duration
from bot.models import Incident, SlackOp
from bot.severity import severity_label
from bot.slack.errors import slack_error
from bot.slack.ops.base import Operation, Outcome, SlackEnv, already_posted, dm, need_channel, op_metadata
from bot.slack.text import Said, channel_link, clip, escape, mention, when
from bot.vocabulary import Role

SNOOZE_ACTION = "cadence_snooze"


async def _events(env: SlackEnv, incident: Incident) -> list:
    async with env.sessions() as session:
        return await timeline.events(session, incident.id or 0)


async def _holders(env: SlackEnv, incident: Incident) -> dict[str, str]:
    async with env.sessions() as session:
        return await roles.holders(session, incident.id or 0)


async def sync_timers(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Make the scheduler hold exactly the timers the timeline calls for (idempotent)."""
    assert incident.id is not None
    events = await _events(env, incident)
    want = timers.wanted(incident, events, cadence_minutes=env.cadence_of(incident.severity, incident.playbook),
                         escalate_after_minutes=env.escalate_of(incident.severity),
                         archive_after_days=env.archive_after_days)
    for timer in want:
        await env.schedule(timer.job_id, timer.at, timer.kind, *timer.args)
    for job_id in timers.possible_ids(incident.id, events) - {timer.job_id for timer in want}:
        await env.unschedule(job_id)
    return Outcome()


async def _post(env: SlackEnv, channel: str, op: SlackOp, text: str, blocks: list | None = None) -> None:
    if await already_posted(env, channel, op):
        return
    await env.client.chat_postMessage(channel=channel, text=text, blocks=blocks, metadata=op_metadata(op))


async def post_cadence_reminder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """No update within the cadence: remind the commander and comms, with a Snooze 15 min button."""
    channel = need_channel(incident)
    holders, lang = await _holders(env, incident), incident.language
    who = " ".join(filter(None, (mention(holders.get(Role.COMMANDER)), mention(holders.get(Role.COMMS))))) or t(
        "ops.lifecycle.no_commander_or_comms", lang)
    minutes = float(op.args.get("cadence", 0))
    text = t("ops.lifecycle.cadence_reminder", lang, who=who, minutes=minutes)
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))),
        ActionsBlock(elements=[ButtonElement(text=t("ops.lifecycle.snooze", lang),
                                             action_id=SNOOZE_ACTION, value=str(incident.id))]),
    ]
    await _post(env, channel, op, text, [b.to_dict() for b in blocks])
    return Outcome()


def _private_safe(incident: Incident) -> str:
    """How the leadership channel names an incident: a private one by key and severity only."""
    label = severity_label(incident.severity, incident.language)
    if incident.private:
        return f"{incident.key} · {label} · :lock:"
    return f"{incident.key} · {label} · {Said(incident.title):200} · {channel_link(incident.channel_id, incident.channel_name)}"


async def notify_leadership(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """A raise to sev1/sev2 is announced to leadership (a private incident: key and severity only)."""
    if not env.leadership_channel_id:
        return Outcome()
    lang = incident.language
    text = t("ops.lifecycle.raised_drill" if incident.drill else "ops.lifecycle.raised", lang,
             incident=_private_safe(incident))
    await _post(env, env.leadership_channel_id, op, text)
    return Outcome(event="leadership_notified", text=incident.severity, data={"channel": env.leadership_channel_id})


async def post_escalation(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """No commander in time: DM the escalation people and tell the leadership channel."""
    lang = incident.language
    minutes = op.args.get("minutes")
    text = t("ops.lifecycle.no_commander", lang, incident=_private_safe(incident), minutes=minutes) if minutes else ""
    for user in env.escalation:
        await dm(env, user, text, op)
    if env.leadership_channel_id:
        await _post(env, env.leadership_channel_id, op, text)
    return Outcome()


async def post_clock_reminder(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Remind legal of a regulatory clock at 50 %, 90 % and at its deadline."""
    channel = need_channel(incident)
    clocks = timers.clocks(await _events(env, incident))
    index, percent = int(op.args["index"]), int(op.args["percent"])
    if index >= len(clocks) or clocks[index].stopped is not None:
        return Outcome()
    clock, lang, tz = clocks[index], incident.language, env.tz
    holders = await _holders(env, incident)
    who = mention(holders.get(Role.LEGAL)) or " ".join(mention(u) for u in env.legal_approvers) or mention(holders.get(Role.COMMANDER))
    left = clock.deadline - utcnow()
    clock_words = {"who": who, "name": escape(clock.name), "basis": escape(clock.basis), "due": when(clock.deadline, tz)}
    if percent >= 100:
        text = t("ops.lifecycle.clock_due", lang, **clock_words)
    else:
        text = t("ops.lifecycle.clock_passed", lang, percent=percent, left=duration(left, lang), **clock_words)
    await _post(env, channel, op, text)
    return Outcome()


async def archive_channel(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Archive the closed incident's channel after its waiting time."""
    channel = need_channel(incident)
    try:
        await env.client.conversations_archive(channel=channel)
    except SlackApiError as exc:
        if slack_error(exc) != "already_archived":
            raise
    return Outcome(event="channel_archived", data={"channel": channel})


async def cancel_timer(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """Drop one timer that is no longer owed (a step done before its reminder)."""
    await env.unschedule(op.args["job"])
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "sync_timers": sync_timers,
    "cancel_timer": cancel_timer,
    "post_cadence_reminder": post_cadence_reminder,
    "notify_leadership": notify_leadership,
    "post_escalation": post_escalation,
    "post_clock_reminder": post_clock_reminder,
    "archive_channel": archive_channel,
}
