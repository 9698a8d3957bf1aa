"""The status page's reads: the versions ever published to it and the approved maintenance windows (once per rebuild),
and a cheap figure that changes whenever either does (every few seconds, so another replica's change shows here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Incident, Maintenance, MaintenanceEvent, Statement, TimelineEvent
from bot.statements.facts import components_of
from bot.statements.render import headline_of
from bot.status_page.state import HISTORY_DAYS, PageVersion, Window
from bot.vocabulary import MaintenanceStatus, Outlet

PUBLISHED, WITHDRAWN = "statement_published", "statement_withdrawn"
Span = tuple[datetime, datetime | None]


async def generation(session: AsyncSession) -> tuple[Any, ...]:
    """A figure that changes when anything the page shows may have: a publication or withdrawal (their times only
    grow), a maintenance window added or changed. One query on small tables, never on the timeline."""
    figures: list[Any] = [func.max(Statement.published_at), func.max(Statement.withdrawn_at), func.count(col(Statement.published_at)),
               func.max(Maintenance.id), func.max(Maintenance.approved_at), func.max(Maintenance.cancelled_at),
               func.max(MaintenanceEvent.id)]
    connection = await session.connection()
    return tuple((await connection.execute(core_select(*(core_select(f).scalar_subquery() for f in figures)))).one())


async def read(session: AsyncSession, now: datetime) -> tuple[list[PageVersion], list[Window]]:
    """Every version published to the status page, with when it was there, and the approved windows that
    have not ended more than HISTORY_DAYS ago."""
    rows = (await session.exec(select(Statement).where(col(Statement.published_at).is_not(None),
                                                       col(Statement.approved_at).is_not(None)))).all()
    statements = [s for s in rows if Outlet.STATUS_PAGE in (s.published_to or [])]
    incident_ids = sorted({s.incident_id for s in statements})
    drills = dict((await session.exec(select(Incident.id, Incident.drill).where(col(Incident.id).in_(incident_ids)))).all())
    spans = await _spans_on_page(session, incident_ids)
    versions = [_version(s, bool(drills.get(s.incident_id)), spans.get(s.id or 0, [])) for s in statements]
    horizon = now - timedelta(days=HISTORY_DAYS + 1)
    maintenance = (await session.exec(select(Maintenance).where(Maintenance.status == MaintenanceStatus.APPROVED,
                                                                col(Maintenance.ends_at) >= horizon))).all()
    windows = [Window(maintenance_id=m.id or 0, text=dict(m.text or {}), components=tuple(m.components or ()),
                      starts_at=m.starts_at, ends_at=m.ends_at, approved_at=m.approved_at) for m in maintenance]
    return versions, windows


async def _spans_on_page(session: AsyncSession, incident_ids: Sequence[int]) -> dict[int, list[Span]]:
    """Each version's stays on the status page, from the timeline: from a publication there to the next withdrawal
    (its row keeps only the last publication, to any outlet, and the last withdrawal)."""
    if not incident_ids:
        return {}
    events = await session.exec(select(TimelineEvent).where(col(TimelineEvent.kind).in_((PUBLISHED, WITHDRAWN)),
                                                            col(TimelineEvent.incident_id).in_(incident_ids))
                                .order_by(col(TimelineEvent.at), col(TimelineEvent.id)))
    spans: dict[int, list[Span]] = {}
    for event in events.all():
        statement_id = event.data.get("statement")
        if not isinstance(statement_id, int):
            continue
        own = spans.setdefault(statement_id, [])
        is_open = bool(own) and own[-1][1] is None
        if event.kind == PUBLISHED and Outlet.STATUS_PAGE in (event.data.get("outlets") or []) and not is_open:
            own.append((event.at, None))
        elif event.kind == WITHDRAWN and event.data.get("outlet") == Outlet.STATUS_PAGE and is_open:
            own[-1] = (own[-1][0], event.at)
    return spans


def _version(statement: Statement, drill: bool, spans: Sequence[Span]) -> PageVersion:
    """A version as the page reads it: its headline, its outlets' texts, the components and states it names, and
    when it was on the page."""
    outlets = statement.outlets or {}

    def part(outlet: str, name: str) -> str:
        value = outlets.get(outlet)
        parts = value.get("parts") if isinstance(value, dict) else None
        return str(parts.get(name) or "") if isinstance(parts, dict) else ""

    published = spans[0][0] if spans else statement.published_at
    assert published is not None
    return PageVersion(
        statement_id=statement.id or 0, incident_id=statement.incident_id, drill=drill, stage=statement.stage,
        language=statement.language, headline=headline_of(statement.facts or {}),
        text=part(Outlet.STATUS_PAGE, "text") or statement.text, banner=part(Outlet.BANNER, "text"),
        push_title=part(Outlet.PUSH, "title"), push_body=part(Outlet.PUSH, "body"),
        components=components_of(statement.facts or {}), published_at=published, withdrawn_at=statement.withdrawn_at,
        spans=tuple(spans))
