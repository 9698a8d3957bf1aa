"""Status, resolution, closing, severity and snoozing the update reminder."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import lifecycle, outbox, timeline, timers
from bot.db import utcnow
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import pick
from bot.policy import Action
from bot.severity import severity_label, status_label
from bot.slack.text import when

STATUSES = (*lifecycle.SETTABLE, "closed")
SNOOZE_MINUTES = 15
SAME_SNOOZE = timedelta(minutes=1)  # two presses within a minute are one snooze (a double click, two people at once)


def _action(status: str) -> Action:
    return {"resolved": Action.RESOLVE, "closed": Action.CLOSE}.get(status, Action.SET_STATUS)


async def set_status(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, status: str, note: str = "") -> Result:
    """Move the incident to `status`: resolving and closing are the commander's (or a manager's), the rest
    anyone inside may do; closing needs a resolved incident."""
    if status not in STATUSES:
        raise ValueError(f"not a status: {status!r}")
    entry = await enter(session, ctx, actor, ref, _action(status))
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    if status == "closed" and incident.status != "resolved":
        return Result(Outcome.INVALID, pick(lang, "请先解决并完成复盘，再关闭。",
                                            "Resolve it first and hold the review, then close it."), entry.id)
    label = status_label(status, lang)
    if not await lifecycle.change_status(session, incident, status, by=actor.user, note=note):
        return Result(Outcome.UNCHANGED, pick(lang, f"{incident.key} 已经是「{label}」，未做更改。",
                                              f"{incident.key} is already {label}; nothing changed."), entry.id)
    return await settle(session, Result(Outcome.DONE, pick(lang, f"{incident.key} 状态：{label}",
                                                             f"{incident.key} status: {label}"), entry.id))


async def set_severity(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, severity: str, reason: str = "") -> Result:
    """Raise (anyone inside: if unsure, pick the higher) or lower (the commander or a manager, with a reason)."""
    probe = await enter(session, ctx, Actor(actor.user, actor.channel), ref, Action.VIEW)
    if isinstance(probe, Result):
        return probe
    lowering = lifecycle.LEVELS.index(severity) > lifecycle.LEVELS.index(probe.incident.severity)
    entry = await enter(session, ctx, actor, ref, Action.LOWER_SEVERITY if lowering else Action.RAISE_SEVERITY)
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    label = severity_label(severity, lang)
    if lowering and not reason:
        return Result(Outcome.INVALID, pick(lang, "降级请写明原因。", "Give the reason for lowering."), entry.id)
    started = {c.clock for c in timers.clocks(await timeline.events(session, entry.id))}
    change = await lifecycle.change_severity(session, incident, severity, by=actor.user, reason=reason,
                                             playbook=ctx.playbooks.get(incident.playbook),
                                             tags=ctx.file.regulatory, started_clocks=started)
    if change is None:
        return Result(Outcome.UNCHANGED, pick(lang, f"{incident.key} 已经是 {label}，未做更改。",
                                              f"{incident.key} is already {label}; nothing changed."), entry.id)
    return await settle(session, Result(Outcome.DONE, pick(lang, f"{incident.key} 级别：{label}",
                                                             f"{incident.key} severity: {label}"), entry.id))


async def snooze(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """Push the next update reminder back by SNOOZE_MINUTES; presses within a minute of a snooze are that snooze."""
    entry = await enter(session, ctx, actor, ref, Action.SNOOZE)
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    cadence = ctx.cadence(incident.severity)
    if cadence is None:
        return Result(Outcome.INVALID, pick(lang, "这个级别没有更新提醒。", "This severity has no update reminder."), entry.id)
    earlier = await timeline.events(session, entry.id, kinds=["cadence_snoozed"])
    if earlier and utcnow() - earlier[-1].at < SAME_SNOOZE:
        until = datetime.fromisoformat(str(earlier[-1].data["until"]))
        return Result(Outcome.UNCHANGED, pick(lang, f"提醒已推迟到 {when(until, ctx.tz)}。",
                                              f"The reminder is already snoozed until {when(until, ctx.tz)}."), entry.id)
    lifecycle.snooze(session, incident, by=actor.user, minutes=SNOOZE_MINUTES, cadence=cadence)
    await outbox.enqueue_once(session, entry.id, "sync_timers")
    return await settle(session, Result(Outcome.DONE, pick(lang, f"好的，{SNOOZE_MINUTES} 分钟后再提醒。",
                                                             f"OK, the next reminder comes in {SNOOZE_MINUTES} min."), entry.id))
