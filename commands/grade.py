"""`/incident grade <grade>` and the grading step's choice: legal's grade under the CAC 分级指南."""

from __future__ import annotations

from typing import Any

from bot.flows import legal_grade as grade_flows
from bot.flows import steps as step_flows
from bot.i18n import t
from bot.legal_grade import grade_name, parse_grade
from bot.runtime import Runtime
from bot.slack.checklist import STEP_BLOCK
from bot.slack.notify import tell_person
from bot.slack.text import clip, escape
from bot.vocabulary import LegalGrade
from commands import payload, target
from commands.context import Invocation, Job, Reply, run, start_work

GRADE_FORM = "`/incident grade especially-major|major|relatively-major|general|not-reportable`"


def grades(language: str) -> str:
    """Every grade as it may be typed: its code and its name."""
    return ", ".join(f"`{grade}` {grade_name(grade, language)}" for grade in LegalGrade)


async def grade(inv: Invocation, args: str) -> Reply:
    """Set the legal grade (the legal holder, a legal approver or the commander)."""
    lang = inv.language
    ref, rest = target.ref_of(inv, args)
    wanted = parse_grade(rest)
    if wanted is None:
        if not rest:
            return Reply(text=t("legal_grade.missing", lang, form=GRADE_FORM, grades=grades(lang)))
        return Reply(text=t("legal_grade.not_grade", lang, given=escape(clip(rest, 40)), form=GRADE_FORM,
                            grades=grades(lang)))
    result = await run(inv.rt, grade_flows.set_grade, inv.actor, ref, wanted)
    return target.reply(inv, ref, result, "`/incident grade INC-n <grade>`")


def _picked(body: dict[str, Any]) -> tuple[int, str]:
    """The step whose line offered the choice (from its block id) and the grade picked."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    block = payload.text(first.get("block_id"))
    option = first.get("selected_option")
    value = payload.text(option.get("value")) if isinstance(option, dict) else ""
    return payload.row_id(block.removeprefix(STEP_BLOCK)) if block.startswith(STEP_BLOCK) else 0, value


async def grade_picked(rt: Runtime, body: dict[str, Any]) -> Reply | None:
    """A grade picked on the checklist's grading step; anything but success is told privately."""
    user = payload.user_of(body)
    step_id, value = _picked(body)
    async with rt.sessions() as session:
        ref, _ = await step_flows.step_ref(session, step_id)
    work: list[Job] = []
    if not LegalGrade.known(value):
        text = t("legal_grade.not_grade", rt.language, given=escape(clip(value, 40)), form=GRADE_FORM,
                 grades=grades(rt.language))
    else:
        result = await run(rt, grade_flows.set_grade, payload.button_actor(body), ref, LegalGrade(value))
        text = result.text
        work = start_work(rt, result.incident_id) if result.done else []

    async def tell() -> None:
        await tell_person(rt.client, user, text, response_url=body.get("response_url"))

    return Reply(text="", after=[*work, tell])
