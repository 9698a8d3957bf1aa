"""`/incident steps`, `/incident done <n> [note]`, and the checklist's Done buttons."""

from __future__ import annotations

from typing import Any

from bot import outbox, roles
from bot import steps as step_service
from bot.i18n import pick
from bot.models import Incident, Step
from bot.roles import role_name
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape, mention, when
from commands import payload, target
from commands.context import Invocation, Reply

DONE_FORM = "`/incident done <n> [note]`"
MAX_LINES = 60



async def steps_(inv: Invocation, args: str) -> Reply:
    """The checklist, open steps first (soonest due first), each with owner and deadline."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident steps INC-n`")
    if isinstance(found, Reply):
        return found
    incident = found.incident
    assert incident.id is not None
    async with inv.rt.sessions() as session:
        steps = await step_service.all_steps(session, incident.id)
        holders = await roles.holders(session, incident.id)
    tz = inv.rt.settings.tz
    open_count = sum(1 for s in steps if s.done_at is None)
    lines = [pick(lang, f"*{incident.key} 处置清单* · {open_count}/{len(steps)} 项待完成",
                  f"*{incident.key} checklist* · {open_count} of {len(steps)} open")]
    for step in step_service.open_first(steps)[:MAX_LINES]:
        title = clip(escape(step.title), 200)
        if step.done_at is not None:
            lines.append(f":white_check_mark: ~{step.number}. {title}~ · {mention(step.done_by)} {when(step.done_at, tz)}")
            continue
        late = " :warning: " + pick(lang, "已超时", "overdue") if step_service.is_overdue(step) else ""
        owner = f"{role_name(step.owner_role, lang)} {mention(holders.get(step.owner_role))}".strip()
        due = when(step.due_at, tz) if step.due_at else ""
        lines.append(f":white_large_square: *{step.number}.* {title} · {owner} · {pick(lang, '截止', 'due')} {due}{late}")
    if len(steps) > MAX_LINES:
        lines.append(pick(lang, f"…另有 {len(steps) - MAX_LINES} 项", f"…and {len(steps) - MAX_LINES} more"))
    return Reply(text="\n".join(lines))


async def complete_step(
    rt: Runtime, incident: Incident, number: int, *, by: str, note: str
) -> tuple[str, Step | None]:
    """Complete a step and queue the checklist redraw; returns the reply and the step if this completed it."""
    lang = incident.language
    assert incident.id is not None
    async with rt.sessions() as session:
        result = await step_service.complete(session, incident.id, number, by=by, note=note)
        if result.completed and result.step is not None and result.step.message_ts:
            await outbox.enqueue_once(session, incident.id, "refresh_checklist", ts=result.step.message_ts)
        if result.completed and result.step is not None and result.step.clock:
            await outbox.enqueue_once(session, incident.id, "sync_timers")  # its regulatory clock stops
        await session.commit()
        total = len(await step_service.all_steps(session, incident.id)) if result.step is None else 0
    step = result.step
    if step is None:
        return pick(lang, f"没有第 {number} 项；本事件的步骤是 1–{total}。",
                    f"There is no step {number}; this incident's steps are 1–{total}."), None
    if not result.completed:
        assert step.done_at is not None
        return pick(lang, f"第 {number} 项已由 {mention(step.done_by)} 于 {when(step.done_at, rt.settings.tz)} 完成，未做更改。",
                    f"Step {number} was already completed by {mention(step.done_by)} at {when(step.done_at, rt.settings.tz)}; nothing changed."), None
    return pick(lang, f":white_check_mark: 第 {number} 项完成：{clip(escape(step.title), 300)}",
                f":white_check_mark: Step {number} done: {clip(escape(step.title), 300)}"), step


def _after_completion(rt: Runtime, step: Step, text: str) -> Reply:
    """Redraw the checklist and drop the step's reminder, after the ack."""

    async def start() -> None:
        rt.runner.kick(step.incident_id)
        await rt.scheduler.cancel(f"step:{step.id}")

    return Reply(text=text, after=[start])


async def done(inv: Invocation, args: str) -> Reply:
    """Complete step n, with an optional note for the timeline."""
    lang = inv.language
    found = await target.find(inv, args, "`/incident done INC-n <n> [note]`")
    if isinstance(found, Reply):
        return found
    incident, words = found.incident, found.args.split(maxsplit=1)
    if not words or not (words[0].isascii() and words[0].isdigit()) or len(words[0]) > 6:  # not ² or ٣
        shown = f"`{escape(clip(words[0], 20))}` " if words else ""
        return Reply(text=pick(lang, f"{shown}不是步骤编号。正确格式：{DONE_FORM}（编号见 `/incident steps`）",
                               f"{shown}is not a step number. Right form: {DONE_FORM} (numbers in `/incident steps`)"))
    if not found.inside:
        return Reply(text=pick(lang, "只有事件频道里的人可以完成步骤。", "Only people in the incident channel can complete steps."))
    text, step = await complete_step(inv.rt, incident, int(words[0]), by=inv.user_id,
                                     note=words[1].strip() if len(words) > 1 else "")
    return Reply(text=text) if step is None else _after_completion(inv.rt, step, text)


async def done_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The checklist's Done button: complete that step; problems are told privately."""
    user = payload.user_of(body)
    step_id = payload.row_id(payload.action_value(body))
    async with rt.sessions() as session:
        step = await session.get(Step, step_id) if step_id else None
        incident = await session.get(Incident, step.incident_id) if step else None
    if step is None or incident is None:
        return None
    text, completed = await complete_step(rt, incident, step.number, by=user, note="")
    if completed is None:

        async def tell() -> None:
            await tell_person(rt.client, user, text, response_url=body.get("response_url"))

        return Reply(text="", after=[tell])
    return _after_completion(rt, completed, "")
