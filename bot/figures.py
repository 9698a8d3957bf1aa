"""Team figures over a period: counts by severity and playbook, median times; drills never count."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.milestones import milestones
from bot.models import Incident, TimelineEvent


@dataclass(frozen=True)
class Figures:
    """What `yingji report` prints and /metrics exposes."""

    since: datetime
    incidents: int
    by_severity: dict[str, int] = field(default_factory=dict)
    by_playbook: dict[str, int] = field(default_factory=dict)
    median_time_to_acknowledge: float | None = None
    median_time_to_resolve: float | None = None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


async def figures(session: AsyncSession, since: datetime) -> Figures:
    """Incidents declared since `since` (drills excluded), with median times from their timelines."""
    found = await session.exec(
        select(Incident).where(col(Incident.declared_at) >= since, col(Incident.drill).is_(False))
    )
    incidents = list(found.all())
    ids = [i.id for i in incidents if i.id is not None]
    events: dict[int, list[TimelineEvent]] = {i: [] for i in ids}
    if ids:
        rows = await session.exec(
            select(TimelineEvent)
            .where(col(TimelineEvent.incident_id).in_(ids), col(TimelineEvent.kind).in_(("role_assigned", "status_changed")))
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        )
        for event in rows.all():
            events[event.incident_id].append(event)
    acknowledge, resolve = [], []
    for incident in incidents:
        ms = milestones(incident, events.get(incident.id or 0, []))
        if ms.time_to_acknowledge is not None:
            acknowledge.append(ms.time_to_acknowledge.total_seconds())
        if ms.time_to_resolve is not None:
            resolve.append(ms.time_to_resolve.total_seconds())
    return Figures(
        since=since,
        incidents=len(incidents),
        by_severity=dict(sorted(Counter(i.severity for i in incidents).items())),
        by_playbook=dict(sorted(Counter(i.playbook for i in incidents).items())),
        median_time_to_acknowledge=_median(acknowledge),
        median_time_to_resolve=_median(resolve),
    )
