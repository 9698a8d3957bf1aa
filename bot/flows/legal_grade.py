"""Legal grading the incident under the CAC 分级指南: by command or by the choice on the grading step."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import legal_grade
from bot.flows.base import Actor, Context, Outcome, Ref, Result, enter, settle
from bot.i18n import t
from bot.policy import Action
from bot.vocabulary import LegalGrade


async def set_grade(session: AsyncSession, ctx: Context, actor: Actor, ref: Ref, grade: LegalGrade) -> Result:
    """Set the legal grade: the legal holder, a configured legal approver or the commander may; the CN reporting
    clocks start (at 较大 or above, from discovery) or stop (below) with it."""
    entry = await enter(session, ctx, actor, ref, Action.SET_LEGAL_GRADE)
    if isinstance(entry, Result):
        return entry
    incident, lang = entry.incident, entry.language
    name = legal_grade.grade_name(grade, lang)
    change = await legal_grade.change_grade(session, incident, grade, by=actor.user,
                                            playbook=ctx.playbooks.get(incident.playbook), tags=ctx.file.regulatory)
    if change is None:
        return Result(Outcome.UNCHANGED, t("legal_grade.unchanged", lang, key=incident.key, grade=name), entry.id)
    lines = [t("legal_grade.set", lang, key=incident.key, grade=name)]
    if change.started:
        lines.append(t("legal_grade.clocks_started", lang, count=len(change.started)))
    if change.stopped:
        lines.append(t("legal_grade.clocks_stopped", lang, count=len(change.stopped)))
    return await settle(session, Result(Outcome.DONE, "\n".join(lines), entry.id))
