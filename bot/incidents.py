"""Declaring incidents and reading them back: the heart of the domain, free of Slack."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import lifecycle, outbox, roles, steps, timeline
from bot.bulk import insert_rows, prepare
from bot.db import utcnow
from bot.metrics import INCIDENTS_DECLARED
from bot.models import Delivery, Incident, Membership, RoleAssignment, SlackOp, TimelineEvent
from bot.naming import channel_name
from bot.playbooks import Playbook
from bot.severity import ACTIVE_STATUSES

MAX_TITLE = 10_000
MAX_SUMMARY = 20_000
DECLARE_LOCK = 0x79696E67  # PostgreSQL advisory lock key held while declaring ("ying")
HIGHEST_ID = "SELECT coalesce(max(id), 0) FROM incident"  # SQLite: under the write lock, new ids follow it


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
    announce: bool
    regulatory: list[str] = field(default_factory=list)


async def declare(
    session: AsyncSession, request: DeclareRequest, where: Workspace, playbook: Playbook
) -> Declared:
    """Record one declaration (see declare_many) and commit."""
    return (await declare_many(session, [request], where, {playbook.slug: playbook}))[0]


async def declare_many(
    session: AsyncSession, requests: Sequence[DeclareRequest], where: Workspace, playbooks: Mapping[str, Playbook]
) -> list[Declared]:
    """Record declarations in one short transaction before their acks, in a few bulk statements.

    Only what must be durable at once is written (see _rows); steps, clocks, default roles and the
    Slack work follow from the queued `provision` operation a moment later. A request repeated (earlier
    or within the batch) returns the first incident. Declaring transactions take turns, so the repeats
    read stay true until commit; should a dedup key be stored anyway, everything rolls back with
    DuplicateRequest and the caller answers as for a repeat.
    """
    connection = await session.connection()
    await _serialize_declarations(connection)
    earlier = await _earlier(session, [r.dedup_key for r in requests if r.dedup_key])
    fresh, first_of = _fresh(requests, earlier)
    now = utcnow()
    created = _name(fresh, await _reserve_ids(connection, len(fresh)), where, now)
    for table, rows in _rows(fresh, created, first_of, where, now):
        try:
            await insert_rows(connection, table, rows)
        except IntegrityError as exc:
            await session.rollback()
            if table is Delivery.__table__:  # type: ignore[attr-defined]
                raise DuplicateRequest(str(exc.params)) from None
            raise
    await session.commit()
    _count(fresh)
    return _answers(requests, fresh, created, earlier, first_of)


def declare_many_sqlite(db: sqlite3.Connection, requests: Sequence[DeclareRequest], where: Workspace,
                        dialect: Dialect) -> list[Declared]:
    """declare_many on SQLite's own connection, as one synchronous call (see bot/loopwrite.py)."""
    db.execute("BEGIN IMMEDIATE")  # the one write lock: declaring transactions take turns
    try:
        keys = [r.dedup_key for r in requests if r.dedup_key]
        earlier = _earlier_sqlite(db, keys) if keys else {}
        fresh, first_of = _fresh(requests, earlier)
        now = utcnow()
        highest = db.execute(HIGHEST_ID).fetchone()[0]
        created = _name(fresh, list(range(highest + 1, highest + len(fresh) + 1)), where, now)
        for table, rows in _rows(fresh, created, first_of, where, now):
            try:
                db.executemany(*prepare(table, rows, dialect))
            except sqlite3.IntegrityError as exc:
                if table is Delivery.__table__:  # type: ignore[attr-defined]
                    raise DuplicateRequest(str(exc)) from None
                raise
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    _count(fresh)
    return _answers(requests, fresh, created, earlier, first_of)


def _earlier_sqlite(db: sqlite3.Connection, dedup_keys: list[str]) -> dict[str, Declared]:
    """_earlier, read with SQLite's own connection."""
    found = db.execute(
        "SELECT d.key, i.id, i.key, i.title, i.channel_name, i.channel_id FROM delivery d JOIN incident i "
        f"ON i.key = d.result WHERE d.key IN ({', '.join('?' * len(dedup_keys))})", dedup_keys)
    return {key: Declared(id, incident_key, title, name or "", channel, created=False)
            for key, id, incident_key, title, name, channel in found}


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
            "status": "investigating", "private": r.private, "drill": r.drill, "language": r.language,
            "declared_by": r.declared_by, "declared_at": now, "resolution": "", "origin_channel_id": r.origin_channel_id,
            "response_url": r.response_url, "impact_started_at": r.impact_started_at, "alert_key": r.alert_key,
        } for r, i in pairs]),
        (TimelineEvent.__table__, [  # type: ignore[attr-defined]
            *({"incident_id": i.id, "kind": "declared", "actor": r.declared_by, "text": i.title, "at": now,
               "data": {"severity": r.severity, "playbook": r.playbook, "private": r.private,
                        "summary": r.summary[:MAX_SUMMARY]}} for r, i in pairs),
            *({"incident_id": i.id, "kind": "role_assigned", "actor": r.declared_by, "at": now,
               "text": roles.handover_text("commander", None, r.declared_by),
               "data": {"role": "commander", "user": r.declared_by, "previous": None}} for r, i in commanders),
        ]),
        (Membership.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "user_id": r.declared_by, "since": now}
            for r, i in pairs if r.declared_by != timeline.BOT_ACTOR]),
        (RoleAssignment.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "role": "commander", "user_id": r.declared_by, "assigned_by": r.declared_by,
             "assigned_at": now} for r, i in commanders]),
        (SlackOp.__table__, [  # type: ignore[attr-defined]
            {"incident_id": i.id, "kind": "provision", "wave": 0, "status": outbox.PENDING, "attempts": 0,
             "created_at": now, "args": {"default_holders": r.default_holders, "announce": where.announce,
                                         "regulatory": where.regulatory}}
            for r, i in pairs]),
    ]
    return [(table, rows) for table, rows in tables if rows]


def _count(fresh: list[DeclareRequest]) -> None:
    """The declared-incidents metric, once they are committed (drills are not incidents)."""
    for request in fresh:
        if not request.drill:
            INCIDENTS_DECLARED.labels(request.severity).inc()


def _answers(requests: Sequence[DeclareRequest], fresh: list[DeclareRequest], created: list[Declared],
             earlier: Mapping[str, Declared], first_of: Mapping[str, DeclareRequest]) -> list[Declared]:
    """One answer per request, in order: its new incident, or the one it repeats."""
    by_request = {id(request): incident for request, incident in zip(fresh, created, strict=True)}
    answers: list[Declared] = []
    for request in requests:
        if id(request) in by_request:
            answers.append(by_request[id(request)])
        elif request.dedup_key in earlier:
            answers.append(earlier[request.dedup_key])
        else:
            answers.append(replace(by_request[id(first_of[request.dedup_key or ""])], created=False))
    return answers


async def _earlier(session: AsyncSession, dedup_keys: list[str]) -> dict[str, Declared]:
    """Incidents already declared by these requests (Slack retries, double submits), by dedup key."""
    if not dedup_keys:
        return {}
    seen = (await session.exec(select(Delivery).where(col(Delivery.key).in_(dedup_keys)))).all()
    if not seen:
        return {}
    found = await session.exec(select(Incident).where(col(Incident.key).in_([d.result for d in seen])))
    by_key = {incident.key: incident for incident in found.all()}
    return {d.key: Declared.of(by_key[d.result], created=False) for d in seen if d.result in by_key}


async def _serialize_declarations(connection: AsyncConnection) -> None:
    """One declaring transaction at a time across replicas, so the dedup keys read stay true until commit.

    SQLite's BEGIN IMMEDIATE already holds the database's one write lock; PostgreSQL takes an advisory lock
    until the transaction ends.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": DECLARE_LOCK})


async def _reserve_ids(connection: AsyncConnection, n: int) -> list[int]:
    """The next n incident ids, known before the insert, so each row is written once with its key INC-n."""
    if n == 0:
        return []
    if connection.dialect.name == "postgresql":
        drawn = await connection.execute(
            text("SELECT nextval(pg_get_serial_sequence('incident', 'id')) FROM generate_series(1, :n)"), {"n": n})
        return sorted(row[0] for row in drawn)
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), and a rowid table allocates max + 1.
    highest = (await connection.execute(text(HIGHEST_ID))).scalar_one()
    return list(range(highest + 1, highest + n + 1))


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
    default_holders: dict[str, str], announce: bool, regulatory: list[str],
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
