"""Text helpers for Slack: escaping (`Said`, for what people wrote), clipping to Block Kit limits, dates in the team's zone
(formatted by `bot.times.when`)."""

from __future__ import annotations

from bot.times import when as when  # re-exported: Slack code takes its text helpers from here


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of slash-command text, so stored text is what the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


ESCAPES = ("&amp;", "&lt;", "&gt;")


def _untorn(text: str) -> str:
    """`text` without a trailing piece of an escape (`&l`), which Slack would show as stray characters."""
    start = text.rfind("&", -4)
    torn = start != -1 and any(e.startswith(text[start:]) and e != text[start:] for e in ESCAPES)
    return text[:start] if torn else text


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis, never through an escape; the full text stays in the database."""
    return text if len(text) <= limit else _untorn(text[: limit - 1]) + "…"


class Said:
    """Text a person wrote: wherever it goes out it goes out escaped, so it can never mention, link or @channel."""

    __slots__ = ("raw",)
    raw: str

    def __init__(self, raw: str | None) -> None:
        self.raw = raw or ""

    def __str__(self) -> str:
        """Escaped: there is no way to get the raw text out by accident."""
        return escape(self.raw)

    def __format__(self, spec: str) -> str:
        """`f"{Said(x)}"` escaped; `f"{Said(x):200}"` escaped and clipped to 200 characters."""
        return self.clip(int(spec)) if spec else str(self)

    def clip(self, limit: int) -> str:
        """Escaped, then shortened to `limit` characters (Slack's limits count the escapes)."""
        return clip(str(self), limit)


def mention(user_id: str | None) -> str:
    """A user mention, or an empty string."""
    return f"<@{user_id}>" if user_id else ""


def channel_link(channel_id: str | None, name: str | None = None) -> str:
    """A channel link when the channel exists, else its planned name."""
    return f"<#{channel_id}>" if channel_id else f"#{name or '?'}"
