"""Moments as people read them: wall-clock time in the team's zone with its UTC offset, never a zone abbreviation
(`CST` is China to some readers and US Central to others)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

CLOCK = "%Y-%m-%d %H:%M"
CLOCK_SECONDS = "%Y-%m-%d %H:%M:%S"


def utc_offset(moment: datetime, tz: tzinfo) -> str:
    """`UTC+8`, `UTC+5:30`, `UTC-5` or `UTC`: the offset in force at `moment`, which one reading can't mistake."""
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes > 0 else "-"
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def when(moment: datetime, tz: tzinfo, *, seconds: bool = False) -> str:
    """`2026-12-03 15:39 (UTC+8)`: always with the date, because incidents cross midnight, and with the offset."""
    local = moment.astimezone(tz)
    return f"{local.strftime(CLOCK_SECONDS if seconds else CLOCK)} ({utc_offset(local, tz)})"
