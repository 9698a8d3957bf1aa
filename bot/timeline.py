"""The timeline: the one record every other view of an incident is derived from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


async def events(session: AsyncSession, incident_id: int) -> list[TimelineEvent]:
    """Every event of an incident in the order it happened."""
    result = await session.exec(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return list(result.all())
