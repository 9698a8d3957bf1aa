"""The timeline: the one record every other view of an incident is derived from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import lock_row, utcnow
from bot.models import Incident, TimelineEvent

BOT_ACTOR = "yingji"
REFUSED = "refused"


def record(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    *,
    actor: str = BOT_ACTOR,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Add one event to the session; it is written with the change it describes."""
    event = TimelineEvent(
        incident_id=incident_id,
        kind=kind,
        actor=actor,
        text=text,
        data=data or {},
        at=at or utcnow(),
    )
    session.add(event)
    return event


def repeats(event: TimelineEvent) -> int:
    """How many occurrences one row stands for: a refusal repeated within its minute is one row with a count."""
    count = event.data.get("count") if event.kind == REFUSED else None
    return count if isinstance(count, int) and count > 1 else 1


def times_suffix(event: TimelineEvent) -> str:
    """` (×N)` after a refusal that stands for N > 1, else nothing: how every view shows the count."""
    n = repeats(event)
    return f" (×{n})" if n > 1 else ""


async def refusal(
    session: AsyncSession,
    incident_id: int,
    *,
    actor: str,
    action: str,
    text: str,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Record a refusal once per actor, action and UTC minute, counting repeats, so a storm cannot flood the timeline."""
    # Concurrent refusals take turns on the incident row (PostgreSQL; SQLite's write transactions already
    # do), so the later one finds the earlier's row and counts on it instead of adding a second one.
    await lock_row(session, Incident, incident_id)
    now = utcnow()
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    result = await session.exec(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind == REFUSED,
            TimelineEvent.actor == actor,
            col(TimelineEvent.at) >= minute,
            col(TimelineEvent.at) < minute + timedelta(minutes=1),
        )
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        .execution_options(populate_existing=True)  # the count as committed, not as this session last saw it
    )
    for event in result.all():
        if event.data.get("action") == action:
            # A new dict: the JSON column does not track changes made inside the old one.
            event.data = {**event.data, "action": action, "count": repeats(event) + 1}
            session.add(event)
            return event
    return record(session, incident_id, REFUSED, actor=actor, text=text,
                  data={**(data or {}), "action": action, "count": 1}, at=now)


async def events(
    session: AsyncSession, incident_id: int, *, kinds: Sequence[str] | None = None
) -> list[TimelineEvent]:
    """Every event of an incident (or those of some kinds) in the order it happened."""
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if kinds is not None:
        query = query.where(col(TimelineEvent.kind).in_(kinds))
    result = await session.exec(query.order_by(col(TimelineEvent.at), col(TimelineEvent.id)))
    return list(result.all())


async def count(session: AsyncSession, incident_id: int) -> int:
    """How many events an incident has."""
    result = await session.exec(select(func.count()).select_from(TimelineEvent).where(TimelineEvent.incident_id == incident_id))
    return int(result.one())


async def window(session: AsyncSession, incident_id: int, offset: int, limit: int) -> list[TimelineEvent]:
    """One slice of the timeline in order, read with the index (a page costs the same on any timeline)."""
    result = await session.exec(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        .offset(offset)
        .limit(limit)
    )
    return list(result.all())
