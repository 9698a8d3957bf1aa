"""`/incident steps`, `/incident done <n> [note]`, and the checklist's Done buttons."""

from __future__ import annotations

from typing import Any

from bot import roles
from bot import steps as step_service
from bot.flows import reads
from bot.flows import steps as step_flows
from bot.i18n import t
from bot.roles import role_name
from bot.runtime import Runtime
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape, mention, when
from commands import payload, target
from commands.context import Invocation, Reply, run, start_work

DONE_FORM = "`/incident done <n> [note]`"
MAX_LINES = 60


async def steps_(inv: Invocation, args: str) -> Reply:
    """The checklist, open steps first (soonest due first), each with owner and deadline."""
    lang = inv.language
    ref, _ = target.ref_of(inv, args)
    async with inv.rt.reads() as session:
        seen = await reads.see(session, inv.rt.context, inv.actor, ref)
        if not seen.done:
            return target.reply(inv, ref, seen, "`/incident steps INC-n`")
        incident = seen.value
        steps = await step_service.all_steps(session, incident.id)
        holders = await roles.holders(session, incident.id)
    tz = inv.rt.settings.tz
    open_count = sum(1 for s in steps if s.done_at is None)
    lines = [t("command.steps.heading", lang, key=incident.key, open=open_count, total=len(steps))]
    for step in step_service.open_first(steps)[:MAX_LINES]:
        title = clip(escape(step.title), 200)
        if step.done_at is not None:
            lines.append(f":white_check_mark: ~{step.number}. {title}~ · {mention(step.done_by)} {when(step.done_at, tz)}")
            continue
        late = " :warning: " + t("command.steps.overdue", lang) if step_service.is_overdue(step) else ""
        owner = f"{role_name(step.owner_role, lang)} {mention(holders.get(step.owner_role))}".strip()
        due = when(step.due_at, tz) if step.due_at else ""
        lines.append(t("command.steps.open_step", lang, number=step.number, title=title, owner=owner, due=due, late=late))
    if len(steps) > MAX_LINES:
        lines.append(t("command.steps.more", lang, count=len(steps) - MAX_LINES))
    return Reply(text="\n".join(lines))


async def done(inv: Invocation, args: str) -> Reply:
    """Complete step n, with an optional note for the timeline."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    words = rest.split(maxsplit=1)
    if not words or not (words[0].isascii() and words[0].isdigit()) or len(words[0]) > 6:  # not ² or ٣
        if not words:
            return Reply(text=t("command.done.missing", lang, form=DONE_FORM))
        return Reply(text=t("command.done.not_number", lang, given=escape(clip(words[0], 20)), form=DONE_FORM))
    note = words[1].strip() if len(words) > 1 else ""
    result = await run(inv.rt, step_flows.complete, inv.actor, ref, int(words[0]), note)
    return target.reply(inv, ref, result, "`/incident done INC-n <n> [note]`")


async def done_button(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """The checklist's Done button: complete that step; anything but success is told privately."""
    user = payload.user_of(body)
    async with rt.sessions() as session:
        ref, number = await step_flows.step_ref(session, payload.row_id(payload.action_value(body)))
    result = await run(rt, step_flows.complete, payload.button_actor(body), ref, number)
    if result.done:
        return Reply(text="", after=start_work(rt, result.incident_id))

    async def tell() -> None:
        await tell_person(rt.client, user, result.text, response_url=body.get("response_url"))

    return Reply(text="", after=[tell])
