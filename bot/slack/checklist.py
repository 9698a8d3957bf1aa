"""The checklist messages: steps grouped by phase, each with its owner, due time and a Done button."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.i18n import t
from bot.legal_grade import grade_name
from bot.models import Incident, Step
from bot.roles import role_name
from bot.slack.text import Said, clip, escape, mention, when
from bot.steps import is_overdue, phase_name
from bot.vocabulary import LegalGrade

MAX_BLOCKS = 50
DONE_ACTION = "step_done"
GRADE_ACTION = "legal_grade_pick"  # the choice on a step that asks for the legal grade
STEP_BLOCK = "step-"


def parts(steps: list[Step], per_message: int = MAX_BLOCKS - 2) -> list[list[Step]]:
    """Split the steps into messages under Slack's block limit, never splitting a phase needlessly."""
    chunks: list[list[Step]] = [[]]
    used = 0
    phase = None
    for step in steps:
        cost = 1 + (step.phase != phase)
        if used + cost > per_message:
            chunks.append([])
            used, phase = 0, None
            cost = 2
        chunks[-1].append(step)
        used += cost
        phase = step.phase
    return [chunk for chunk in chunks if chunk]


def _grade_choice(incident: Incident, lang: str) -> StaticSelectElement:
    """The legal grades to pick from, the current one shown."""
    options = [Option(value=grade, text=grade_name(grade, lang)) for grade in LegalGrade]
    current = next((o for o in options if o.value == incident.legal_grade), None)
    return StaticSelectElement(action_id=GRADE_ACTION, placeholder=t("legal_grade.pick", lang), options=options,
                               initial_option=current)


def _step_block(step: Step, holders: dict[str, str], lang: str, tz: ZoneInfo, incident: Incident,
                grading: bool) -> SectionBlock:
    owner = role_name(step.owner_role, lang)
    holder = mention(holders.get(step.owner_role)) or t("checklist.unassigned", lang)
    title = clip(escape(step.title), 2500)
    block_id = f"{STEP_BLOCK}{step.id}"
    choice = _grade_choice(incident, lang) if grading else None
    if step.done_at is not None:
        done = t("checklist.done_by", lang, person=mention(step.done_by), time=when(step.done_at, tz))
        text = f":white_check_mark: ~{step.number}. {title}~\n_{owner}_ · {done}"
        if step.note:
            text += f"\n> {Said(step.note):300}"
        return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=text), accessory=choice)
    late = f" :warning: {t('checklist.overdue', lang)}" if is_overdue(step) else ""
    due = t("checklist.due", lang, time=when(step.due_at, tz)) if step.due_at else ""
    text = f":white_large_square: *{step.number}.* {title}\n_{owner}_ {holder} · {due}{late}"
    if grading and incident.legal_grade is None:
        text += "\n" + t("legal_grade.pending", lang)
    return SectionBlock(
        block_id=block_id,
        text=MarkdownTextObject(text=text),
        accessory=choice or ButtonElement(text=t("checklist.done_button", lang), action_id=DONE_ACTION,
                                          value=str(step.id), style="primary"),
    )


def checklist_blocks(
    incident: Incident, steps: list[Step], holders: dict[str, str], tz: ZoneInfo, *, part: int, total: int,
    grading: frozenset[str] = frozenset(),
) -> list[Block]:
    """One checklist message: a title, then each phase's steps (those in `grading` offer the legal grades)."""
    lang = incident.language
    heading = t("checklist.heading", lang, key=incident.key)
    if total > 1:
        heading += f" ({part + 1}/{total})"
    blocks: list[Block] = [HeaderBlock(text=clip(heading, 150))]
    phase = None
    for step in steps:
        if step.phase != phase:
            phase = step.phase
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"*{phase_name(phase, lang)}*")]))
        blocks.append(_step_block(step, holders, lang, tz, incident, step.step_key in grading))
    return blocks


def checklist_text(incident: Incident, steps: list[Step]) -> str:
    """Notification fallback: how many steps are open."""
    open_count = sum(1 for s in steps if s.done_at is None)
    return t("checklist.open_count", incident.language, key=incident.key, open=open_count, total=len(steps))
