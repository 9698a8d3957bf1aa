"""Status, resolution, closing, severity and snoozing the update reminder."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import lifecycle, outbox, timeline, timers
from bot.db import utcnow
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import t
from bot.policy import Action
from bot.severity import severity_label, status_label
from bot.slack.text import when
from bot.vocabulary import SETTABLE, Status

SNOOZE_MINUTES = 15
SAME_SNOOZE = timedelta(minutes=1)  # two presses within a minute are one snooze (a double click, two people at once)


def _action(status: str) -> Action:
    actions: dict[str, Action] = {Status.RESOLVED: Action.RESOLVE, Status.CLOSED: Action.CLOSE}
    return actions.get(status, Action.SET_STATUS)


async def set_status(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, status: str, note: str = "") -> Result:
    """Move the incident to `status`: resolving and closing are the commander's (or a manager's), the rest
    anyone inside may do; closing needs a resolved incident."""
    if status not in (*SETTABLE, Status.CLOSED):
        raise ValueError(f"not a status: {status!r}")
    entry = await enter(session, ctx, actor, ref, _action(status))
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    if status == Status.CLOSED and incident.status != Status.RESOLVED:
        return Result(Outcome.INVALID, t("flow.lifecycle.close_unresolved", lang), entry.id)
    label = status_label(status, lang)
    if not await lifecycle.change_status(session, incident, status, by=actor.user, note=note):
        return Result(Outcome.UNCHANGED, t("flow.lifecycle.status_unchanged", lang, key=incident.key, status=label),
                      entry.id)
    text = t("flow.lifecycle.status_set", lang, key=incident.key, status=label)
    return await settle(session, Result(Outcome.DONE, text, entry.id))


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
        return Result(Outcome.INVALID, t("flow.lifecycle.lower_needs_reason", lang), entry.id)
    started = {c.clock for c in timers.clocks(await timeline.events(session, entry.id))}
    change = await lifecycle.change_severity(session, incident, severity, by=actor.user, reason=reason,
                                             playbook=ctx.playbooks.get(incident.playbook),
                                             tags=ctx.file.regulatory, started_clocks=started)
    if change is None:
        return Result(Outcome.UNCHANGED, t("flow.lifecycle.severity_unchanged", lang, key=incident.key, severity=label),
                      entry.id)
    text = t("flow.lifecycle.severity_set", lang, key=incident.key, severity=label)
    return await settle(session, Result(Outcome.DONE, text, entry.id))


async def snooze(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref) -> Result:
    """Push the next update reminder back by SNOOZE_MINUTES; presses within a minute of a snooze are that snooze."""
    entry = await enter(session, ctx, actor, ref, Action.SNOOZE)
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    cadence = ctx.cadence(incident.severity, incident.playbook)
    if cadence is None:
        return Result(Outcome.INVALID, t("flow.lifecycle.no_reminder", lang), entry.id)
    earlier = await timeline.events(session, entry.id, kinds=["cadence_snoozed"])
    if earlier and utcnow() - earlier[-1].at < SAME_SNOOZE:
        until = datetime.fromisoformat(str(earlier[-1].data["until"]))
        return Result(Outcome.UNCHANGED, t("flow.lifecycle.already_snoozed", lang, until=when(until, ctx.tz)), entry.id)
    lifecycle.snooze(session, incident, by=actor.user, minutes=SNOOZE_MINUTES, cadence=cadence)
    await outbox.enqueue_once(session, entry.id, "sync_timers")
    text = t("flow.lifecycle.snoozed", lang, minutes=SNOOZE_MINUTES)
    return await settle(session, Result(Outcome.DONE, text, entry.id))
