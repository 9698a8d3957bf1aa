"""Times derived from the timeline (never typed in): time to acknowledge, and later to mitigate and resolve."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import TimelineEvent


def acknowledged_at(events: list[TimelineEvent]) -> datetime | None:
    """When the incident first had a commander: the first commander assignment after declaration."""
    for event in events:
        if event.kind == "role_assigned" and event.data.get("role") == "commander":
            return event.at
    return None


def time_to_acknowledge(declared_at: datetime, events: list[TimelineEvent]) -> timedelta | None:
    """From declaration to the first commander; None while nobody has taken command."""
    at = acknowledged_at(events)
    return None if at is None else max(at - declared_at, timedelta(0))


def duration(delta: timedelta, language: str) -> str:
    """A short human duration: 45s, 12 min, 3 h 05 min, 2 d 4 h."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s" if language == "en" else f"{seconds} 秒"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min" if language == "en" else f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if language == "en" else f"{hours} 小时 {minutes:02d} 分"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if language == "en" else f"{days} 天 {hours} 小时"
