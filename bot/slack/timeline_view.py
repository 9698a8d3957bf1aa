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

from bot.i18n import has, t
from bot.models import Incident, TimelineEvent
from bot.slack.text import Said, clip, when
from bot.timeline import repeats

SECTION_LIMIT = 2900
ENTRIES_PER_PAGE = 40  # with at most one section an entry, a page stays under Slack's 50 blocks
PAGE_ACTION = "timeline_page"


def kind_label(kind: str, lang: str) -> str:
    """A timeline kind as people read it."""
    return t(f"event.{kind}", lang) if has(f"event.{kind}") else kind


def actor_text(actor: str) -> str:
    """The bot by name, people as mentions."""
    return "yingji" if actor == "yingji" else f"<@{actor}>"


def entry_text(event: TimelineEvent, tz: ZoneInfo, lang: str) -> str:
    """One entry in full (never shortened): when, who, what, and for a message its link, files and edits."""
    parts = [f"`{when(event.at, tz, seconds=True)}`", actor_text(event.actor), f"*{kind_label(event.kind, lang)}*"]
    if event.kind == "message" and event.data.get("deleted"):
        parts.append(t("timeline.deleted", lang))
    elif event.text:
        parts.append(str(Said(event.text)))
    if repeats(event) > 1:
        parts.append(f"(×{repeats(event)})")
    if event.kind == "message":
        if event.data.get("history") and not event.data.get("deleted"):
            parts.append(t("timeline.edited", lang))
        if event.data.get("permalink"):
            parts.append(f"<{event.data['permalink']}|{t('timeline.message_link', lang)}>")
        for file in event.data.get("files") or []:
            name = Said(str(file.get("name") or file.get("title") or file.get("id")))
            parts.append(f":paperclip: <{file['permalink']}|{name}>" if file.get("permalink") else f":paperclip: {name}")
    return " ".join(parts)


def _fit(line: str, lang: str) -> str:
    """An entry longer than a section is shortened with a visible note saying where the whole text is."""
    if len(line) <= SECTION_LIMIT:
        return line
    more = len(line) - (SECTION_LIMIT - 80)
    return f"{line[: SECTION_LIMIT - 80]} {t('timeline.shortened', lang, more=more)}"


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
    heading = t("timeline.heading", lang, key=incident.key)
    blocks: list[Block] = [
        HeaderBlock(text=clip(heading, 150)),
        ContextBlock(elements=[MarkdownTextObject(
            text=t("timeline.page", lang, page=number + 1, pages=total, entries=entries))]),
    ]
    blocks += [SectionBlock(text=MarkdownTextObject(text=text)) for text in page]
    buttons = []
    if number > 0:
        buttons.append(ButtonElement(text=t("timeline.previous", lang), action_id=f"{PAGE_ACTION}_prev",
                                     value=f"{incident.id}:{number - 1}"))
    if number + 1 < total:
        buttons.append(ButtonElement(text=t("timeline.next", lang), action_id=f"{PAGE_ACTION}_next",
                                     value=f"{incident.id}:{number + 1}"))
    if buttons:
        blocks.append(ActionsBlock(block_id="timeline-pages", elements=buttons))
    return blocks
