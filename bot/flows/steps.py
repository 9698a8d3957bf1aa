"""Completing a checklist step."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox
from bot import steps as step_service
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import t
from bot.models import Step
from bot.policy import Action
from bot.slack.text import clip, escape, mention, when


async def step_ref(session: AsyncSession, step_id: int) -> tuple[Ref, int]:
    """A Done button names a step by id: its incident and its number (an unknown id names nothing)."""
    step = await session.get(Step, step_id) if step_id else None
    return (Ref(id=step.incident_id), step.number) if step else (Ref(id=0), 0)


async def complete(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, number: int, note: str = "") -> Result:
    """Complete step `number` once, by anyone inside the incident; the checklist and timers follow."""
    entry = await enter(session, ctx, actor, ref, Action.COMPLETE_STEP)
    if isinstance(entry, Result):
        return entry
    lang, tz = entry.language, ctx.tz
    playbook = ctx.playbooks.get(entry.incident.playbook)
    asking = await step_service.by_number(session, entry.id, number)
    if (asking is not None and asking.done_at is None and entry.incident.legal_grade is None and playbook is not None
            and asking.step_key in playbook.grading_steps()):
        return Result(Outcome.INVALID, t("legal_grade.done_needs_grade", lang, number=number), entry.id)
    done = await step_service.complete(session, entry.id, number, by=actor.user, note=note)
    step = done.step
    if step is None:
        total = len(await step_service.all_steps(session, entry.id))
        return Result(Outcome.INVALID, t("flow.steps.no_such_step", lang, number=number, total=total), entry.id)
    if not done.completed:
        assert step.done_at is not None
        text = t("flow.steps.already_done", lang, number=number, user=mention(step.done_by), at=when(step.done_at, tz))
        return Result(Outcome.UNCHANGED, text, entry.id)
    if step.message_ts:
        await outbox.enqueue_once(session, entry.id, "refresh_checklist", ts=step.message_ts)
    if step.clock:
        await outbox.enqueue_once(session, entry.id, "sync_timers")  # its regulatory clock stops
    outbox.enqueue(session, entry.id, "cancel_timer", job=f"step:{step.id}")
    text = t("flow.steps.done", lang, number=number, title=clip(escape(step.title), 300))
    return await settle(session, Result(Outcome.DONE, text, entry.id, step))
