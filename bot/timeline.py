"""The timeline: the one record every other view of an incident is derived from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func
from sqlalchemy import select as core_select  # columns of a Table: sqlmodel's select types at most four
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.bulk import insert_rows
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


@dataclass(frozen=True)
class NewEvent:
    """One event for append_many, with record's defaults (`at` None: the batch's one instant)."""

    kind: str
    actor: str = BOT_ACTOR
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    source_key: str | None = None


async def append_many(session: AsyncSession, incident_id: int, events: Sequence[NewEvent]) -> None:
    """Write many events of one incident in the caller's transaction with one executemany, for bulk writers (alerts,
    imports): some thirty times the rate of `record` one by one (bench/timeline.py). Times must be timezone-aware; a
    source key already taken raises IntegrityError. What is pending in the session is written first: ids follow calls."""
    if not events:
        return
    await session.flush()
    now = utcnow()
    rows = [{"incident_id": incident_id, "kind": e.kind, "actor": e.actor, "text": e.text, "data": e.data,
             "at": e.at or now, "source_key": e.source_key} for e in events]
    await insert_rows(await session.connection(), TimelineEvent.__table__, rows)  # type: ignore[attr-defined]


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


EXPORT_SLICE = 2_000  # rows converted per turn of the event loop while an export reads the whole timeline
EventRow = Row[int, datetime, str, str, str, dict[str, Any]]  # id, at, actor, kind, text, data


async def rows(session: AsyncSession, incident_id: int) -> list[EventRow]:
    """Every event of an incident in order as plain rows (id, at, actor, kind, text, data: read like TimelineEvent),
    for the review and the exports: a third of the ORM's cost at 50,000 events, and read a slice per loop turn."""
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    result = await session.stream(
        core_select(table.c.id, table.c.at, table.c.actor, table.c.kind, table.c.text, table.c.data)
        .where(table.c.incident_id == incident_id)
        .order_by(table.c.at, table.c.id)
    )
    return [row async for part in result.partitions(EXPORT_SLICE) for row in part]
