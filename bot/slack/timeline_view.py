"""The timeline as Slack blocks: every entry with its date, time, actor and what happened, page by page."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import Incident, TimelineEvent
from bot.slack.text import Said, clip, when
from bot.timeline import repeats

SECTION_LIMIT = 2900
ENTRIES_PER_PAGE = 40  # with at most one section an entry, a page stays under Slack's 50 blocks
PAGE_ACTION = "timeline_page"

KINDS = {
    "declared": ("宣布事件", "Declared"),
    "role_assigned": ("角色", "Role"),
    "refused": ("已拒绝", "Refused"),
    "channel_created": ("创建频道", "Channel created"),
    "topic_set": ("频道主题", "Topic set"),
    "purpose_set": ("频道说明", "Purpose set"),
    "members_invited": ("邀请成员", "Invited"),
    "header_posted": ("发布概要", "Header posted"),
    "header_pinned": ("置顶概要", "Header pinned"),
    "announced": ("公告", "Announced"),
    "checklist_posted": ("发布清单", "Checklist posted"),
    "step_done": ("完成步骤", "Step done"),
    "step_overdue": ("步骤超时", "Step overdue"),
    "note": ("记录", "Note"),
    "action_item": ("行动项", "Action item"),
    "message": ("消息", "Message"),
    "status_changed": ("状态", "Status"),
    "severity_changed": ("级别", "Severity"),
    "resolved": ("已解决", "Resolved"),
    "review_posted": ("发布复盘", "Review posted"),
    "alert_firing": ("告警触发", "Alert firing"),
    "alert_resolved": ("告警恢复", "Alert resolved"),
    "clock_started": ("监管时限开始", "Clock started"),
    "clock_reminder": ("监管时限提醒", "Clock reminder"),
    "escalated": ("升级通知", "Escalated"),
    "update_overdue": ("更新逾期", "Update overdue"),
    "cadence_snoozed": ("推迟提醒", "Reminder snoozed"),
    "leadership_notified": ("通知领导", "Leadership told"),
    "channel_archived": ("频道归档", "Channel archived"),
    "drill_scored": ("演练评分", "Drill scored"),
    "statement_drafted": ("起草口径", "Statement drafted"),
    "statement_approval": ("口径审批", "Statement approval"),
    "statement_approved": ("口径批准", "Statement approved"),
    "statement_changes_requested": ("要求修改口径", "Changes requested"),
    "statement_published": ("口径发布", "Statement published"),
    "statement_delivered": ("口径推送", "Statement delivered"),
    "statement_delivery_failed": ("口径推送失败", "Delivery failed"),
    "update_due": ("应发布更新", "Update due"),
}


def kind_label(kind: str, lang: str) -> str:
    """A timeline kind as people read it."""
    zh, en = KINDS.get(kind, (kind, kind))
    return zh if lang == "zh" else en


def actor_text(actor: str) -> str:
    """The bot by name, people as mentions."""
    return "yingji" if actor == "yingji" else f"<@{actor}>"


def entry_text(event: TimelineEvent, tz: ZoneInfo, lang: str) -> str:
    """One entry in full (never shortened): when, who, what, and for a message its link, files and edits."""
    parts = [f"`{when(event.at, tz, seconds=True)}`", actor_text(event.actor), f"*{kind_label(event.kind, lang)}*"]
    if event.kind == "message" and event.data.get("deleted"):
        parts.append("_(已删除)_" if lang == "zh" else "_(deleted)_")
    elif event.text:
        parts.append(str(Said(event.text)))
    if repeats(event) > 1:
        parts.append(f"(×{repeats(event)})")
    if event.kind == "message":
        if event.data.get("history") and not event.data.get("deleted"):
            parts.append("_(已编辑)_" if lang == "zh" else "_(edited)_")
        if event.data.get("permalink"):
            parts.append(f"<{event.data['permalink']}|{'原消息' if lang == 'zh' else 'message'}>")
        for file in event.data.get("files") or []:
            name = Said(str(file.get("name") or file.get("title") or file.get("id")))
            parts.append(f":paperclip: <{file['permalink']}|{name}>" if file.get("permalink") else f":paperclip: {name}")
    return " ".join(parts)


def _fit(line: str, lang: str) -> str:
    """An entry longer than a section is shortened with a visible note saying where the whole text is."""
    if len(line) <= SECTION_LIMIT:
        return line
    more = len(line) - (SECTION_LIMIT - 80)
    note = f" …（另有 {more} 字，全文见 `yingji export`）" if lang == "zh" else f" … ({more} more characters; the whole text is in `yingji export`)"
    return line[: SECTION_LIMIT - 80] + note


def sections(events: list[TimelineEvent], tz: ZoneInfo, lang: str) -> list[str]:
    """Entries packed into section-sized texts, at most one section each."""
    packed: list[str] = []
    current = ""
    for event in events:
        line = _fit(entry_text(event, tz, lang), lang)
        if current and len(current) + 1 + len(line) > SECTION_LIMIT:
            packed.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        packed.append(current)
    return packed


def pages(entries: int) -> int:
    """How many pages a timeline of `entries` takes."""
    return max(1, -(-entries // ENTRIES_PER_PAGE))


def page_blocks(incident: Incident, page: list[str], number: int, total: int, entries: int) -> list[Block]:
    """One page: title, the entries' sections, and buttons to the neighbouring pages."""
    lang = incident.language
    heading = f"{incident.key} · {'时间线' if lang == 'zh' else 'Timeline'}"
    blocks: list[Block] = [
        HeaderBlock(text=clip(heading, 150)),
        ContextBlock(elements=[MarkdownTextObject(text=(
            f"第 {number + 1}/{total} 页 · 共 {entries} 条" if lang == "zh" else f"Page {number + 1} of {total} · {entries} entries"
        ))]),
    ]
    blocks += [SectionBlock(text=MarkdownTextObject(text=text)) for text in page]
    buttons = []
    if number > 0:
        buttons.append(ButtonElement(text="上一页" if lang == "zh" else "Previous", action_id=f"{PAGE_ACTION}_prev",
                                     value=f"{incident.id}:{number - 1}"))
    if number + 1 < total:
        buttons.append(ButtonElement(text="下一页" if lang == "zh" else "Next", action_id=f"{PAGE_ACTION}_next",
                                     value=f"{incident.id}:{number + 1}"))
    if buttons:
        blocks.append(ActionsBlock(block_id="timeline-pages", elements=buttons))
    return blocks
