"""Text helpers for Slack: escaping, clipping to Block Kit limits, dates in the team's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of slash-command text, so stored text is what the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis; the full text stays in the database."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(moment: datetime, tz: ZoneInfo, *, seconds: bool = False) -> str:
    """A date and time in the team's timezone, always with the date: incidents cross midnight."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def mention(user_id: str | None) -> str:
    """A user mention, or an empty string."""
    return f"<@{user_id}>" if user_id else ""


def channel_link(channel_id: str | None, name: str | None = None) -> str:
    """A channel link when the channel exists, else its planned name."""
    return f"<#{channel_id}>" if channel_id else f"#{name or '?'}"
