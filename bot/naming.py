"""Incident channel names that Slack accepts: lowercase ASCII, at most 80 characters."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

MAX_CHANNEL_NAME = 80


def title_slug(title: str) -> str:
    """Lowercase ASCII words of a title joined by hyphens; empty when the title has none."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def channel_name(
    prefix: str,
    number: int,
    title: str,
    declared_at: datetime,
    tz: ZoneInfo,
    *,
    private: bool = False,
    attempt: int = 1,
) -> str:
    """`<prefix>-<n>-<slug>`; the date replaces the slug when the title has no ASCII or must stay hidden."""
    slug = "" if private else title_slug(title)
    if not slug:
        slug = declared_at.astimezone(tz).strftime("%Y%m%d")
    head = f"{prefix}-{number}-"
    tail = f"-{attempt}" if attempt > 1 else ""
    room = MAX_CHANNEL_NAME - len(head) - len(tail)
    if len(slug) > room:
        cut = slug[:room]
        # Drop a word cut in half, unless it is the only word.
        slug = cut.rsplit("-", 1)[0] if slug[room] != "-" and "-" in cut else cut
    return f"{head}{slug.strip('-')}{tail}"
