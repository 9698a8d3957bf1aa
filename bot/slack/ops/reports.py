"""The Slack side of reporting: the chart to a manager, the review draft at resolve, quiet reminders after."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot import drills, review, roles, summary
from bot import steps as step_service
from bot.chart import ChartData, Mark, render_timeline
from bot.db import utcnow
from bot.i18n import t
from bot.incidents import active
from bot.milestones import duration
from bot.models import Incident, SlackOp
from bot.severity import severity_label, status_label
from bot.slack.ops.base import Operation, Outcome, SlackEnv, already_posted, need_channel, op_metadata
from bot.slack.text import Said, channel_link, clip, escape, when
from bot.vocabulary import Language, Status


def chart_data(facts: summary.Facts, env: SlackEnv, names: dict[str, str], now: datetime) -> ChartData:
    """What the chart shows, read off the timeline."""
    incident, events = facts.incident, facts.events
    statuses = [Mark(incident.declared_at, Status.INVESTIGATING)] + [
        Mark(e.at, str(e.data.get("to"))) for e in events if e.kind == "status_changed"]
    severities = [Mark(incident.declared_at, str(events[0].data.get("severity", incident.severity)) if events else incident.severity)]
    severities += [Mark(e.at, str(e.data.get("to"))) for e in events if e.kind == "severity_changed"]
    handovers = [Mark(e.at, f"{e.data.get('role')}: {names.get(str(e.data.get('user')), str(e.data.get('user')))}")
                 for e in events if e.kind == "role_assigned"]
    done = [Mark(e.at, f"#{e.data.get('step')}") for e in events if e.kind == "step_done"]
    approved = [Mark(e.at, f"v{e.data.get('version')}") for e in events if e.kind == "statement_approved"]
    end = incident.closed_at or incident.resolved_at or now
    return ChartData(key=incident.key or "", title=incident.title, start=incident.declared_at, end=max(end, incident.declared_at),
                     tz=env.tz, statuses=statuses, severities=severities, handovers=handovers, steps_done=done,
                     statements=approved, drill=incident.drill)


async def _facts(env: SlackEnv, incident: Incident) -> summary.Facts:
    async with env.sessions() as session:
        return await summary.gather(session, incident)


async def _review_facts(env: SlackEnv, incident: Incident) -> summary.Facts:
    """The whole timeline too, as plain rows (see review.gather)."""
    async with env.sessions() as session:
        return await review.gather(session, incident)


async def _names(env: SlackEnv, facts: summary.Facts) -> dict[str, str]:
    """Display names of the people in the timeline, for files read outside Slack."""
    people = {e.actor for e in facts.events if e.actor != "yingji"} | set(facts.holders.values())
    names: dict[str, str] = {}
    for user in sorted(people)[:50]:
        try:
            info = (await env.client.users_info(user=user))["user"]
        except SlackApiError:
            continue
        profile = info.get("profile") or {}
        names[user] = str(profile.get("display_name") or info.get("real_name") or info.get("name") or user)
    return names


async def _chart_png(facts: summary.Facts, env: SlackEnv, names: dict[str, str]) -> bytes:
    return await asyncio.to_thread(render_timeline, chart_data(facts, env, names, utcnow()))


async def _uploaded(env: SlackEnv, channel: str, filename: str, op: SlackOp) -> bool:
    """Whether an earlier attempt of this op already shared `filename` here."""
    if op.attempts <= 1:
        return False
    history = await env.client.conversations_history(channel=channel, limit=50)
    return any(f.get("name") == filename for m in history.get("messages") or [] for f in m.get("files") or [])


async def send_chart(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """The timeline chart, by direct message to the manager who asked for the summary."""
    user = op.args["user"]
    im = str((await env.client.conversations_open(users=user))["channel"]["id"])
    filename = f"{incident.key}-summary.png"
    if await _uploaded(env, im, filename, op):
        return Outcome()
    facts = await _facts(env, incident)
    names = await _names(env, facts)
    png = await _chart_png(facts, env, names)
    await env.client.files_upload_v2(
        channel=im, content=png, filename=filename, title=t("reports.chart_title", incident.language, key=incident.key),
        initial_comment=f"{incident.key} · {status_label(incident.status, incident.language)}",
    )
    return Outcome()


async def post_review(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """At resolve: the review draft as a file, with the chart, and its headline in the channel."""
    channel = need_channel(incident)
    filename = f"{incident.key}-review.md"
    if await _uploaded(env, channel, filename, op):
        return Outcome(event="review_posted", text=filename)
    facts = await _review_facts(env, incident)
    names = await _names(env, facts)
    # Off the event loop: a long timeline is half a second of rendering, and acks must not wait for it.
    document = await asyncio.to_thread(review.markdown, facts, env.tz, names=names,
                                       playbook_name=env.playbook_name(incident.playbook, incident.language),
                                       roles=env.roles_of(incident.playbook, facts.holders))
    png = await _chart_png(facts, env, names)
    lang = incident.language
    figures = review.metrics(facts)
    items = review.action_items(facts)
    minutes = {k: duration(timedelta(seconds=v) if v is not None else None, lang) for k, v in figures.items()}
    comment = t("reports.review_comment", lang, key=incident.key, acknowledge=minutes["time_to_acknowledge"],
                mitigate=minutes["time_to_mitigate"], resolve=minutes["time_to_resolve"], items=len(items))
    for item in items[:10]:
        comment += f"\n• {Said(item.text):200}"
    await env.client.files_upload_v2(
        channel=channel,
        initial_comment=comment,
        file_uploads=[
            {"content": document.encode("utf-8"), "filename": filename,
             "title": t("reports.review_title", lang, key=incident.key)},
            {"content": png, "filename": f"{incident.key}-timeline.png",
             "title": t("reports.chart_title", lang, key=incident.key)},
        ],
    )
    return Outcome(event="review_posted", text=filename, data={"metrics_seconds": figures, "action_items": len(items)})


async def post_scorecard(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """At a drill's close: how fast the roles assembled, each step against its limit, time to a statement."""
    channel = need_channel(incident)
    facts = await _facts(env, incident)
    card = drills.score(facts, env.playbooks.get(incident.playbook))
    lang = incident.language

    def minutes(value: float | None) -> str:
        return "—" if value is None else t("reports.minutes", lang, minutes=value)

    lines = [t("reports.scorecard", lang, key=incident.key, score=card.score)]
    lines.append(t("reports.roles_assembled", lang,
                   roles=" · ".join(f"{roles.role_name(r, lang)} {minutes(m)}" for r, m in card.roles.items())))
    on_time = sum(s.on_time for s in card.steps)
    lines.append(t("reports.steps_on_time", lang, on_time=on_time, total=len(card.steps)))
    for step in card.steps:
        mark = ":white_check_mark:" if step.on_time else (":x:" if step.took_minutes is None else ":warning:")
        lines.append(f"{mark} #{step.number} {clip(escape(step.title), 80)} — {minutes(step.took_minutes)} / {minutes(step.due_minutes)}")
    lines.append(t("reports.statement_approved", lang, minutes=minutes(card.statement_minutes)))
    if not await already_posted(env, channel, op):
        await env.client.chat_postMessage(channel=channel, text=clip("\n".join(lines), 39000), metadata=op_metadata(op))
    return Outcome(event="drill_scored", text=f"{card.score}/100", data=card.as_dict())


async def cancel_reminders(env: SlackEnv, incident: Incident, op: SlackOp) -> Outcome:
    """After resolve no step reminder fires."""
    assert incident.id is not None
    async with env.sessions() as session:
        steps = await step_service.all_steps(session, incident.id)
    for step in steps:
        await env.unschedule(f"step:{step.id}")
    return Outcome()


async def post_digest(env: SlackEnv, incident: Incident | None, op: SlackOp) -> Outcome:
    """The daily digest: every active incident in one message; a private one shows key and severity only."""
    channel = op.args.get("channel")
    if not channel:
        return Outcome()
    async with env.sessions() as session:
        current = await active(session)
    lang = Language.ZH if not current else current[0].language
    lines = [t("reports.digest_heading", lang, time=when(utcnow(), env.tz))]
    for item in current:
        label = severity_label(item.severity, item.language)
        if item.private:
            lines.append(f"• {item.key} · {label} · :lock:")
        else:
            lines.append(f"• {item.key} · {label} · {status_label(item.status, item.language)} · "
                         f"{Said(item.title):120} · {channel_link(item.channel_id, item.channel_name)}")
    if not current:
        lines.append(t("reports.digest_empty", lang))
    await env.client.chat_postMessage(channel=channel, text=clip("\n".join(lines), 39000))
    return Outcome()


OPERATIONS: dict[str, Operation] = {
    "send_chart": send_chart,
    "post_review": post_review,
    "cancel_reminders": cancel_reminders,
    "post_scorecard": post_scorecard,
    "post_digest": post_digest,
}
