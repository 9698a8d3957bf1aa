"""Block Kit and HTML as plain text, so the demo can show in a terminal what a person sees in Slack and on the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

MENTION = re.compile(r"<([@#])([A-Z0-9]+)(?:\|([^>]*))?>")


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def humanize(text: str, names: dict[str, str]) -> str:
    """Replace <@U…> and <#C…> with the names a person would see."""

    def name(match: re.Match[str]) -> str:
        sigil, ident, label = match.groups()
        return f"{sigil}{label or names.get(ident, ident)}"

    return MENTION.sub(name, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def blocks_as_text(blocks: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    """One or more lines per block, indented like a message in a client."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"█ {_text(block.get('text'))}")
        elif kind == "section":
            if block.get("text"):
                lines.extend(_text(block["text"]).splitlines())
            for item in block.get("fields") or []:
                lines.append("  " + " ".join(_text(item).splitlines()))
        elif kind == "context":
            lines.append("  " + " · ".join(_text(e) for e in block.get("elements", [])))
        elif kind == "actions":
            lines.append("  " + " ".join(f"[{_text(e.get('text'))}]" for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("  ────")
    return [humanize(line, names) for line in lines]


def message_as_text(message: dict[str, Any], names: dict[str, str]) -> list[str]:
    """A stored Slack message: its blocks when it has them, else its text."""
    if message.get("blocks"):
        return blocks_as_text(message["blocks"], names)
    return [humanize(line, names) for line in str(message.get("text", "")).splitlines()]


UNREAD = frozenset({"style", "script", "head", "title"})  # elements whose text no reader sees


class _PageText(HTMLParser):
    """The words of an HTML page as a reader sees them: no styles or scripts, one line per block of text."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skipping += tag in UNREAD

    def handle_endtag(self, tag: str) -> None:
        self._skipping -= tag in UNREAD and self._skipping > 0

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.lines.append(" ".join(data.split()))


def html_text(page: str) -> list[str]:
    """What a person reads on an HTML page, line by line (for the demo's terminal)."""
    parser = _PageText()
    parser.feed(page)
    return parser.lines
