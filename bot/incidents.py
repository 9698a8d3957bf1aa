"""Declaring incidents and reading them back: the heart of the domain, free of Slack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import lifecycle, outbox, roles, steps, timeline
from bot.batchwrite import Executor, OnSession
from bot.db import utcnow
from bot.metrics import INCIDENTS_DECLARED
from bot.models import Delivery, Incident, Membership, RoleAssignment, SlackOp, TimelineEvent
from bot.naming import channel_name
from bot.playbooks import Playbook
from bot.vocabulary import ACTIVE, Language, OpStatus, Role, Status

MAX_TITLE = 10_000
MAX_SUMMARY = 20_000
DECLARE_LOCK = 0x79696E67  # PostgreSQL advisory lock key held while declaring ("ying")
EARLIER = ("SELECT d.key, i.id, i.key, i.title, i.channel_name, i.channel_id FROM delivery d "
           "JOIN incident i ON i.key = d.result WHERE d.key IN :keys")


@dataclass(frozen=True)
class DeclareRequest:
    """What a person asked for, already parsed and validated by the command layer."""

    title: str
    playbook: str
    severity: str
    declared_by: str
    summary: str = ""
    private: bool = False
    language: str = Language.ZH
    declarer_is_commander: bool = False
    default_holders: dict[str, str] = field(default_factory=dict)
    origin_channel_id: str | None = None
    response_url: str | None = None
    dedup_key: str | None = None
    impact_started_at: datetime | None = None
    alert_key: str | None = None
    drill: bool = False
    discovered_at: datetime | None = None  # when the problem was discovered, if the declarer said (not after now)


@dataclass(frozen=True)
class Declared:
    """What a declaration recorded, as plain values, and whether this request created it (False: a repeat)."""

    id: int
    key: str
    title: str
    channel_name: str
    channel_id: str | None
    created: bool

    @classmethod
    def of(cls, incident: Incident, *, created: bool) -> Declared:
        return cls(incident.id or 0, incident.key or "", incident.title, incident.channel_name or "",
                   incident.channel_id, created)


class DuplicateRequest(Exception):
    """Another process recorded the same request a moment ago; the caller answers as for a repeat."""


@dataclass(frozen=True)
class Workspace:
    """The deployment's choices that shape a declaration."""

    channel_prefix: str
    tz: ZoneInfo
    announce_channel_id: str | None  # decided here, once: the declaration records where it is announced
    regulatory: list[str] = field(default_factory=list)


async def declare(
    session: AsyncSession, request: DeclareRequest, where: Workspace, playbook: Playbook
) -> Declared:
    """Record one declaration (see declare_many) in the session's transaction, and commit."""
    try:
        (declared,) = await declare_many(OnSession(session), [request], where)
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    count_declared([request], [declared])
    return declared


async def declare_many(executor: Executor, requests: Sequence[DeclareRequest], where: Workspace) -> list[Declared]:
    """Record declarations in the executor's transaction (the caller commits), in a few bulk statements.

    Only what must be durable before the acks is written (see _rows); steps, clocks, default roles and the
    Slack work follow from the queued `provision` operation a moment later. A request repeated (earlier
    or within the batch) returns the first incident. Declaring transactions take turns, so the repeats
    read stay true until commit; should a dedup key be stored anyway, DuplicateRequest is raised (the
    caller rolls back and answers as for a repeat).
    """
    await executor.take_turns(DECLARE_LOCK)
    earlier = await _earlier(executor, [r.dedup_key for r in requests if r.dedup_key])
    fresh, first_of = _fresh(requests, earlier)
    now = utcnow()
    created = _name(fresh, await executor.next_ids("incident", len(fresh)), where, now)
    for table, rows in _rows(fresh, created, first_of, where, now):
        try:
            await executor.insert(table, rows)
        except IntegrityError as exc:
            if table is Delivery.__table__:  # type: ignore[attr-defined]
                raise DuplicateRequest(str(exc.orig)) from None
            raise
    return _answers(requests, fresh, created, earlier, first_of)


async def _earlier(executor: Executor, dedup_keys: list[str]) -> dict[str, Declared]:
    """Incidents already declared by these requests (Slack retries, double submits), by dedup key."""
    if not dedup_keys:
        return {}
    return {key: Declared(id, incident_key, title, name or "", channel, created=False)
            for key, id, incident_key, title, name, channel in await executor.select(EARLIER, dedup_keys)}


def count_declared(requests: Sequence[DeclareRequest], answers: Sequence[Declared]) -> None:
    """The declared-incidents metric, once they are committed (drills are not incidents, repeats count once)."""
    for request, declared in zip(requests, answers, strict=True):
        if declared.created and not request.drill:
            INCIDENTS_DECLARED.labels(request.severity).inc()


def _fresh(requests: Sequence[DeclareRequest], earlier: Mapping[str, Declared]
           ) -> tuple[list[DeclareRequest], dict[str, DeclareRequest]]:
    """The requests that declare something new, and the first request of each dedup key among them."""
    fresh: list[DeclareRequest] = []
    first_of: dict[str, DeclareRequest] = {}
    for request in requests:
        if request.dedup_key and (request.dedup_key in earlier or request.dedup_key in first_of):
            continue
        if request.dedup_key:
            first_of[request.dedup_key] = request
        fresh.append(request)
    return fresh, first_of


def _rows(fresh: list[DeclareRequest], created: list[Declared], first_of: Mapping[str, DeclareRequest],
          where: Workspace, now: datetime) -> list[tuple[Table, list[dict[str, Any]]]]:
    """Every row new declarations write, table by table: the dedup claims first (a taken key fails
    before anything else is written), the incident with its key, its first timeline events, the
    declarer as the channel's first member, the commander if the declarer took command, and one
    queued `provision` operation."""
    by_request = {id(request): incident for request, incident in zip(fresh, created, strict=True)}
    pairs = list(zip(fresh, created, strict=True))
    commanders = [(r, i) for r, i in pairs if r.declarer_is_commander]
    tables: list[tuple[Table, list[dict[str, Any]]]] = [
        (Delivery.__table__, [  # type: ignore[attr-defined]
            {"key": key, "at": now, "result": by_request[id(r)].key} for key, r in first_of.items()]),
        (Incident.__table__, [{  # type: ignore[attr-defined]
            "id": i.id, "key": i.key, "channel_name": i.channel_name, "title": i.title,
            "summary": r.summary[:MAX_SUMMARY], "playbook": r.playbook, "severity": r.severity,
            "status": Status.INVESTIGATING, "private": r.private, "drill": r.drill, "language": r.language,
            "declared_by": r.declared_by, "declared_at": now, "resolution": "", "origin_channel_id": r.origin_channel_id,
            "response_url": r.response_url, "impact_started_at": r.impact_started_at, "alert_key": r.alert_key,
            "discovered_at": min(r.discovered_at, now) if r.discovered_at else None,
        } for r, i in pairs]),
        (TimelineEvent.__table__, [  # type: ignore[attr-defined]
            *({"incident_id": i.id, "kind": "declared", "actor": r.declared_by, "text": i.title, "at": now,
               "data": {"severity": r.severity, "playbook": r.playbook, "private": r.private,
                        "summary": r.summary[:MAX_SUMMARY],
                        **({"discovered": min(r.discovered_at, now).isoformat()} if r.discovered_at else {})}}
              for r, i in pairs),
            *({"incident_id": i.id, "kind": "role_assigned", "actor": r.declared_by, "at": now,
               "text": roles.handover_text(Role.COMMANDER, None, r.declared_by),
               "data": {"role": Role.COMMANDER, "user": r.declared_by, "previous": None}} for r, i in commanders),
        ]),
        (Membership.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "user_id": r.declared_by, "since": now}
            for r, i in pairs if r.declared_by != timeline.BOT_ACTOR]),
        (RoleAssignment.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "role": Role.COMMANDER, "user_id": r.declared_by, "assigned_by": r.declared_by,
             "assigned_at": now} for r, i in commanders]),
        (SlackOp.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "kind": "provision", "wave": 0, "status": OpStatus.PENDING, "attempts": 0,
             "created_at": now, "args": {"default_holders": r.default_holders, "announce_channel": where.announce_channel_id,
                                         "regulatory": where.regulatory}}
            for r, i in pairs]),
    ]
    return [(table, rows) for table, rows in tables if rows]


def _answers(requests: Sequence[DeclareRequest], fresh: list[DeclareRequest], created: list[Declared],
             earlier: Mapping[str, Declared], first_of: Mapping[str, DeclareRequest]) -> list[Declared]:
    """One answer per request, in order: its new incident, or the one it repeats."""
    by_request = {id(request): incident for request, incident in zip(fresh, created, strict=True)}
    answers: list[Declared] = []
    for request in requests:
        if id(request) in by_request:
            answers.append(by_request[id(request)])
        elif request.dedup_key is not None and request.dedup_key in earlier:
            answers.append(earlier[request.dedup_key])
        else:
            answers.append(replace(by_request[id(first_of[request.dedup_key or ""])], created=False))
    return answers


def _name(requests: list[DeclareRequest], ids: list[int], where: Workspace, now: datetime) -> list[Declared]:
    """Each new incident's key and channel name, from its id."""
    declared = []
    for request, incident_id in zip(requests, ids, strict=True):
        title = request.title[:MAX_TITLE]
        prefix = f"{where.channel_prefix}-drill" if request.drill else where.channel_prefix
        name = channel_name(prefix, incident_id, title, now, where.tz, private=request.private)
        declared.append(Declared(incident_id, f"INC-{incident_id}", title, name, None, created=True))
    return declared


async def provision(
    session: AsyncSession, incident: Incident, playbook: Playbook, *,
    default_holders: dict[str, str], announce_channel: str | None, regulatory: list[str],
) -> None:
    """The rest of a declaration: default roles, the checklist, the clocks, and the Slack work in waves (the caller
    schedules the steps' reminders and the timers in the same transaction).

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
    outbox.enqueue(session, incident.id, "set_topic", wave=2)
    outbox.enqueue(session, incident.id, "set_purpose", wave=2)
    outbox.enqueue(session, incident.id, "invite", wave=2, users=invitees)
    outbox.enqueue(session, incident.id, "post_header", wave=2)
    if announce_channel:
        outbox.enqueue(session, incident.id, "announce", wave=2, channel=announce_channel)
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
        .where(col(Incident.status).in_(ACTIVE))
        .order_by(col(Incident.declared_at).desc(), col(Incident.id).desc())
    )
    return list(result.all())
