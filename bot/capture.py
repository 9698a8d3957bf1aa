"""Putting things on the timeline: notes, and Slack messages imported by shortcut, pin or reaction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.db import utcnow
from bot.models import TimelineEvent

# A note that starts with one of these is an action item for the review: `action: add a callback alert`.
ACTION = re.compile(r"^\s*(?:action|todo|行动项|待办)\s*[:：]\s*", re.IGNORECASE)
MAX_TEXT = 40_000


def is_action(text: str) -> bool:
    """Whether a note is marked as an action item."""
    return bool(ACTION.match(text))


def add_note(session: AsyncSession, incident_id: int, text: str, *, by: str) -> TimelineEvent:
    """A person's line on the timeline; `action:` marks it as an action item for the review."""
    action = is_action(text)
    body = ACTION.sub("", text, count=1) if action else text
    return timeline.record(
        session, incident_id, "action_item" if action else "note", actor=by, text=body[:MAX_TEXT],
        data={"action": action},
    )


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message as the timeline keeps it: who, when, what, where, and its files by reference."""

    channel: str
    ts: str
    user: str
    text: str
    permalink: str = ""
    thread_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        """The message's own time (Slack's ts is seconds since the epoch)."""
        return datetime.fromtimestamp(float(self.ts), tz=UTC)

    @classmethod
    def from_slack(cls, channel: str, message: dict[str, Any], permalink: str = "") -> SlackMessage:
        """From a message object as Slack sends it in events, shortcuts and history."""
        given = message.get("files")
        files = [
            {key: f.get(key) for key in ("id", "name", "title", "mimetype", "permalink") if f.get(key)}
            for f in (given if isinstance(given, list) else []) if isinstance(f, dict)
        ]
        thread_ts = message.get("thread_ts")
        return cls(
            channel=channel,
            ts=str(message.get("ts", "")),
            user=str(message.get("user") or message.get("bot_id") or "unknown"),
            text=str(message.get("text") or ""),
            permalink=permalink,
            thread_ts=thread_ts if isinstance(thread_ts, str) else None,
            files=files,
        )


def source_key(channel: str, ts: str) -> str:
    """One entry per Slack message, however many ways it was imported."""
    return f"msg:{channel}:{ts}"


async def _entry(session: AsyncSession, channel: str, ts: str) -> TimelineEvent | None:
    result = await session.exec(select(TimelineEvent).where(TimelineEvent.source_key == source_key(channel, ts)))
    return result.first()


async def import_message(
    session: AsyncSession, incident_id: int, message: SlackMessage, *, via: str, by: str
) -> tuple[TimelineEvent, bool]:
    """Add the message at its own time under its author; a second import only notes the new way in."""
    existing = await _entry(session, message.channel, message.ts)
    if existing is not None:
        ways = list(existing.data.get("via", []))
        if via not in ways:
            existing.data = {**existing.data, "via": [*ways, via]}
            session.add(existing)
        return existing, False
    event = timeline.record(
        session,
        incident_id,
        "message",
        actor=message.user,
        text=message.text[:MAX_TEXT],
        at=message.at,
        data={
            "channel": message.channel,
            "ts": message.ts,
            "permalink": message.permalink,
            "files": message.files,
            "thread_ts": message.thread_ts,
            "via": [via],
            "imported_by": by,
            "imported_at": utcnow().isoformat(),
            "history": [],
        },
    )
    event.source_key = source_key(message.channel, message.ts)
    return event, True


async def message_changed(
    session: AsyncSession, channel: str, ts: str, *, text: str | None, deleted: bool = False
) -> TimelineEvent | None:
    """Follow an edit or deletion of an imported message; the previous text goes to the audit trail."""
    entry = await _entry(session, channel, ts)
    if entry is None:
        return None
    if not deleted and text == entry.text:
        return entry
    history = [*entry.data.get("history", []), {"text": entry.text, "until": utcnow().isoformat()}]
    entry.data = {**entry.data, "history": history, "deleted": deleted}
    entry.text = "" if deleted else (text or "")[:MAX_TEXT]
    session.add(entry)
    return entry
