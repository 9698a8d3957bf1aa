"""The timeline: the one record every other view of an incident is derived from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import utcnow
from bot.models import TimelineEvent

BOT_ACTOR = "yingji"


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
