"""Declaring incidents and reading them back: the heart of the domain, free of Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, lifecycle, outbox, roles, steps, timeline
from bot.db import utcnow
from bot.metrics import INCIDENTS_DECLARED
from bot.models import Incident, RoleAssignment, TimelineEvent
from bot.naming import channel_name
from bot.playbooks import Playbook
from bot.severity import ACTIVE_STATUSES

MAX_TITLE = 10_000
MAX_SUMMARY = 20_000


@dataclass(frozen=True)
class DeclareRequest:
    """What a person asked for, already parsed and validated by the command layer."""

    title: str
    playbook: str
    severity: str
    declared_by: str
    summary: str = ""
    private: bool = False
    language: str = "zh"
    declarer_is_commander: bool = False
    default_holders: dict[str, str] = field(default_factory=dict)
    origin_channel_id: str | None = None
    response_url: str | None = None
    dedup_key: str | None = None
    impact_started_at: datetime | None = None
    alert_key: str | None = None
    drill: bool = False


@dataclass(frozen=True)
class Declared:
    """The incident, and whether this request created it (False: a repeat of an earlier request)."""

    incident: Incident
    created: bool


class DuplicateRequest(Exception):
    """Another process recorded the same request a moment ago; the caller answers as for a repeat."""


@dataclass(frozen=True)
class Workspace:
    """The deployment's choices that shape a declaration."""

    channel_prefix: str
    tz: ZoneInfo
    announce: bool
    regulatory: list[str] = field(default_factory=list)


async def declare(
    session: AsyncSession, request: DeclareRequest, where: Workspace, playbook: Playbook
) -> Declared:
    """Record the incident, its declaration and the work it needs, in one short transaction before the ack.

    Only what must be durable at once is written here (the incident, its key, the declaration, the
    commander if the declarer took command, and one queued `provision` operation); steps, clocks,
    default roles and the Slack work follow from that operation a moment later.
    """
    if request.dedup_key:
        earlier = await deliveries.seen(session, request.dedup_key)
        if earlier is not None:
            existing = await by_key(session, earlier.result)
            if existing is not None:
                return Declared(existing, created=False)
    now = utcnow()
    incident = Incident(
        title=request.title[:MAX_TITLE],
        summary=request.summary[:MAX_SUMMARY],
        playbook=request.playbook,
        severity=request.severity,
        private=request.private,
        language=request.language,
        declared_by=request.declared_by,
        declared_at=now,
        origin_channel_id=request.origin_channel_id,
        response_url=request.response_url,
        impact_started_at=request.impact_started_at,
        alert_key=request.alert_key,
        drill=request.drill,
    )
    session.add(incident)
    await session.flush()
    assert incident.id is not None
    incident.key = f"INC-{incident.id}"
    prefix = f"{where.channel_prefix}-drill" if incident.drill else where.channel_prefix
    incident.channel_name = channel_name(prefix, incident.id, incident.title, now, where.tz, private=incident.private)
    if request.dedup_key and not await deliveries.claim(session, request.dedup_key, incident.key):
        raise DuplicateRequest(request.dedup_key)
    timeline.record(
        session,
        incident.id,
        "declared",
        actor=request.declared_by,
        text=incident.title,
        data={
            "severity": incident.severity,
            "playbook": incident.playbook,
            "private": incident.private,
            "summary": incident.summary,
        },
        at=now,
    )
    if request.declarer_is_commander:
        await roles.assign(session, incident.id, "commander", request.declared_by, by=request.declared_by)
    outbox.enqueue(session, incident.id, "provision", wave=0, default_holders=request.default_holders,
                   announce=where.announce, regulatory=where.regulatory)
    await session.commit()
    if not incident.drill:
        INCIDENTS_DECLARED.labels(incident.severity).inc()
    return Declared(incident, created=True)


async def provision(
    session: AsyncSession, incident: Incident, playbook: Playbook, *,
    default_holders: dict[str, str], announce: bool, regulatory: list[str],
) -> None:
    """The rest of a declaration: default roles, the checklist, the clocks, and the Slack work in waves.

    Each wave needs the one before it: the channel; then topic, purpose, invites, header and
    announcement side by side; then the pin, the checklist and the ready notice.
    """
    assert incident.id is not None
    for role, user in default_holders.items():
        await roles.assign(session, incident.id, role, user, by=timeline.BOT_ACTOR)
    holders = await roles.holders(session, incident.id)
    steps.copy_from_playbook(session, incident, playbook)
    lifecycle.start_clocks(session, incident, playbook, regulatory)
    invitees = [u for u in dict.fromkeys([incident.declared_by, *holders.values()]) if u != timeline.BOT_ACTOR]
    outbox.enqueue(session, incident.id, "create_channel", wave=1)
    outbox.enqueue(session, incident.id, "schedule_reminders", wave=1)
    outbox.enqueue(session, incident.id, "sync_timers", wave=1)
    outbox.enqueue(session, incident.id, "set_topic", wave=2)
    outbox.enqueue(session, incident.id, "set_purpose", wave=2)
    outbox.enqueue(session, incident.id, "invite", wave=2, users=invitees)
    outbox.enqueue(session, incident.id, "post_header", wave=2)
    if announce:
        outbox.enqueue(session, incident.id, "announce", wave=2)
    outbox.enqueue(session, incident.id, "post_checklist", wave=3)
    outbox.enqueue(session, incident.id, "pin_header", wave=3)
    outbox.enqueue(session, incident.id, "tell_declarer_ready", wave=3)


async def by_key(session: AsyncSession, key: str) -> Incident | None:
    """An incident by its key, INC-n (any case)."""
    result = await session.exec(select(Incident).where(Incident.key == key.upper()))
    return result.first()


async def by_channel(session: AsyncSession, channel_id: str) -> Incident | None:
    """The incident whose channel this is, if any."""
    result = await session.exec(select(Incident).where(Incident.channel_id == channel_id))
    return result.first()


async def active(session: AsyncSession) -> list[Incident]:
    """Open incidents, newest first."""
    result = await session.exec(
        select(Incident)
        .where(col(Incident.status).in_(ACTIVE_STATUSES))
        .order_by(col(Incident.declared_at).desc(), col(Incident.id).desc())
    )
    return list(result.all())


async def insiders(session: AsyncSession, incident_ids: list[int]) -> dict[int, set[str]]:
    """Who is inside each incident: the declarer, everyone who held a role, and everyone the bot invited."""
    inside: dict[int, set[str]] = {i: set() for i in incident_ids}
    if not incident_ids:
        return inside
    declared = await session.exec(select(Incident).where(col(Incident.id).in_(incident_ids)))
    for incident in declared.all():
        inside[incident.id or 0].add(incident.declared_by)
    assigned = await session.exec(select(RoleAssignment).where(col(RoleAssignment.incident_id).in_(incident_ids)))
    for row in assigned.all():
        inside[row.incident_id].add(row.user_id)
    invites = await session.exec(
        select(TimelineEvent).where(
            col(TimelineEvent.incident_id).in_(incident_ids), TimelineEvent.kind == "members_invited"
        )
    )
    for event in invites.all():
        inside[event.incident_id].update(event.data.get("invited", []))
    return inside
