"""The checklist messages: steps grouped by phase, each with its owner, due time and a Done button."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import Incident, Step
from bot.roles import role_name
from bot.slack.text import Said, clip, escape, mention, when
from bot.steps import PHASE_NAMES, is_overdue

MAX_BLOCKS = 50
DONE_ACTION = "step_done"


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


def _step_block(step: Step, holders: dict[str, str], lang: str, tz: ZoneInfo) -> SectionBlock:
    owner = role_name(step.owner_role, lang)
    holder = mention(holders.get(step.owner_role)) or ("待指定" if lang == "zh" else "unassigned")
    title = clip(escape(step.title), 2500)
    if step.done_at is not None:
        done = "完成" if lang == "zh" else "done"
        text = f":white_check_mark: ~{step.number}. {title}~\n_{owner}_ · {done} {mention(step.done_by)} {when(step.done_at, tz)}"
        if step.note:
            text += f"\n> {Said(step.note):300}"
        return SectionBlock(block_id=f"step-{step.id}", text=MarkdownTextObject(text=text))
    due_label = "截止" if lang == "zh" else "due"
    late = (" :warning: " + ("已超时" if lang == "zh" else "overdue")) if is_overdue(step) else ""
    due = f"{due_label} {when(step.due_at, tz)}" if step.due_at else ""
    text = f":white_large_square: *{step.number}.* {title}\n_{owner}_ {holder} · {due}{late}"
    return SectionBlock(
        block_id=f"step-{step.id}",
        text=MarkdownTextObject(text=text),
        accessory=ButtonElement(text="完成" if lang == "zh" else "Done", action_id=DONE_ACTION,
                                value=str(step.id), style="primary"),
    )


def checklist_blocks(
    incident: Incident, steps: list[Step], holders: dict[str, str], tz: ZoneInfo, *, part: int, total: int
) -> list[Block]:
    """One checklist message: a title, then each phase's steps."""
    lang = incident.language
    heading = f"{incident.key} · {'处置清单' if lang == 'zh' else 'Checklist'}"
    if total > 1:
        heading += f" ({part + 1}/{total})"
    blocks: list[Block] = [HeaderBlock(text=clip(heading, 150))]
    phase = None
    for step in steps:
        if step.phase != phase:
            phase = step.phase
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"*{PHASE_NAMES[phase][lang]}*")]))
        blocks.append(_step_block(step, holders, lang, tz))
    return blocks


def checklist_text(incident: Incident, steps: list[Step]) -> str:
    """Notification fallback: how many steps are open."""
    open_count = sum(1 for s in steps if s.done_at is None)
    if incident.language == "zh":
        return f"{incident.key} 处置清单：{open_count}/{len(steps)} 项待完成"
    return f"{incident.key} checklist: {open_count} of {len(steps)} steps open"
