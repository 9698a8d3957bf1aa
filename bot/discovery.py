"""When the problem was discovered (发现或获知): the moment the law's reporting clocks count from.

A person gives it when declaring (the form's date-time picker) or later (`/incident discovered <when>`). It may not
be later than the declaration, nor more than LOOKBACK before it. Free of Slack: parsing, bounds, the change.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import outbox, timeline
from bot.models import Incident, TimelineEvent
from bot.times import when

LOOKBACK = timedelta(days=30)
EVENT = "discovered_set"
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATED = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})$")
_RELATIVE = re.compile(r"^-\s*(\d{1,6})\s*([mh])$", re.IGNORECASE)


class Problem(StrEnum):
    """Why a discovery time is refused (each has its words in the catalogs, `discovery.problem.<name>`)."""

    LATER = "later"  # after the declaration (or, in the declare form, after now)
    TOO_EARLY = "too_early"  # more than LOOKBACK before the declaration


def parse(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """`HH:MM` (today in `tz`), `YYYY-MM-DD HH:MM` (in `tz`), or `-90m` / `-3h` (before `now`), as an aware UTC
    moment; None when it is none of these or names no real time."""
    given = " ".join(unicodedata.normalize("NFKC", text).split())  # a Chinese input method's full-width : - and digits
    relative = _RELATIVE.match(given)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - (timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount))
    try:
        clock = _CLOCK.match(given)
        if clock:
            today = now.astimezone(tz).date()
            local = datetime.combine(today, time(int(clock.group(1)), int(clock.group(2))), tzinfo=tz)
            return local.astimezone(UTC)
        dated = _DATED.match(given)
        if dated:
            year, month, day, hour, minute = (int(part) for part in dated.groups())
            return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):  # 25:00, 2026-02-30, 0001-01-01 00:00 in a zone east of UTC
        return None
    return None


def problem(moment: datetime, declared_at: datetime) -> Problem | None:
    """Why `moment` cannot be the discovery of an incident declared at `declared_at`, or None when it can."""
    if moment > declared_at:
        return Problem.LATER
    if moment < declared_at - LOOKBACK:
        return Problem.TOO_EARLY
    return None


def start(incident: Incident) -> datetime:
    """Where the law's clocks and our time-to figures count from: discovery when known, else the declaration."""
    return incident.discovered_at or incident.declared_at


def latest(events: list[TimelineEvent]) -> datetime | None:
    """The discovery time the timeline last recorded (a correction replaces what came before), if any."""
    for event in reversed(events):
        if event.kind == EVENT and event.data.get("to"):
            return datetime.fromisoformat(str(event.data["to"]))
    return None


async def change(session: AsyncSession, incident: Incident, moment: datetime, *, by: str, tz: tzinfo) -> bool:
    """Record that the problem was discovered at `moment` (checked by the caller, the incident locked): the timeline
    event first, then the incident, then the timers re-planned and the header redrawn. False when already so."""
    assert incident.id is not None
    previous = incident.discovered_at
    if previous == moment:
        return False
    shown = when(moment, tz) if previous is None else f"{when(previous, tz)} → {when(moment, tz)}"
    timeline.record(session, incident.id, EVENT, actor=by, text=shown,
                    data={"from": previous.isoformat() if previous else None, "to": moment.isoformat()})
    incident.discovered_at = moment
    session.add(incident)
    await outbox.enqueue_once(session, incident.id, "sync_timers", wave=1)
    await outbox.enqueue_once(session, incident.id, "update_header", wave=1)
    return True
