"""Alert batches stored: one incident per key while it is open, however many processes and requests race,
and one timeline event per alert instance and status."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, incidents, outbox, timeline
from bot.alerts.payloads import MAX_TEXT, AlertBatch, AlertItem, clip
from bot.db import utcnow
from bot.incidents import Declared, DeclareRequest, DuplicateRequest, Workspace
from bot.models import Incident, SlackOp, TimelineEvent
from bot.playbooks import Playbook
from bot.vocabulary import ACTIVE

log = logging.getLogger(__name__)

SUGGEST_OP = "suggest_resolve"
REFIRE_OP = "tell_refire"
REFIRE_QUIET = timedelta(minutes=5)  # a storm of re-fires is one message per five minutes in the channel
SUGGEST_WAVE = 5          # after the declaration's provisioning waves, so the channel exists
ATTEMPTS = 8              # re-reads after losing a race to another writer
CHUNK = 250               # alerts per transaction: a few milliseconds of the one writer's time each

class AlertHost(Protocol):
    """What ingest needs of the running bot (Runtime has all of it)."""

    playbooks: dict[str, Playbook]

    @property
    def language(self) -> str:
        """The language new incidents are declared in."""

    def workspace(self) -> Workspace:
        """The choices that shape a declaration."""

    def default_holders(self, playbook: str) -> dict[str, str]:
        """Role holders configured for this playbook."""

    async def writes_waiting(self) -> None:
        """Return once the writes acks wait for have gone (at most a moment): alerts write after them."""


@dataclass(frozen=True)
class IngestResult:
    """What one webhook call changed; `ignored` says why nothing was."""

    incident_id: int | None = None
    incident_key: str | None = None
    opened: bool = False
    added: int = 0
    resolved: int = 0
    suggested: bool = False
    ignored: str | None = None

    @property
    def touched(self) -> bool:
        """Whether anything was written, so the incident's Slack work should be started."""
        return self.opened or self.added > 0 or self.resolved > 0


def claim_key(key: str) -> str:
    """The delivery row that makes `key` open at most one incident at a time, across processes."""
    return f"{deliveries.ALERT_CLAIM}{key}"


def source_key(incident_id: int, key: str, item: AlertItem) -> str:
    """The timeline's unique key for one alert instance and status in one incident: repeats record it once."""
    status = "firing" if item.firing else "resolved"
    raw = f"{incident_id}\x00{key}\x00{item.fingerprint}\x00{item.occurrence}\x00{status}"
    return f"alert:{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:48]}"


async def open_incident(session: AsyncSession, key: str) -> Incident | None:
    """The active incident this key opened; a claim left by a finished incident is released (uncommitted)."""
    claimed = await deliveries.seen(session, claim_key(key))
    if claimed is not None:
        incident = await incidents.by_key(session, claimed.result) if claimed.result else None
        if incident is not None and incident.status in ACTIVE:
            return incident
        await session.delete(claimed)
        await session.flush()
        return None
    # No claim but an active incident with this key (a claim row lost by hand): adopt it again.
    result = await session.exec(
        select(Incident)
        .where(Incident.alert_key == key, col(Incident.status).in_(ACTIVE))
        .order_by(col(Incident.id).desc())
    )
    incident = result.first()
    if incident is not None and not await deliveries.claim(session, claim_key(key), incident.key or ""):
        raise DuplicateRequest(claim_key(key))
    return incident


def _event_text(item: AlertItem, note: str) -> str:
    """What the timeline shows for one alert: its title, where to look, and any mapping fallback."""
    parts = [item.title]
    if item.url:
        parts.append(item.url)
    if note:
        parts.append(f"({note})")
    return clip(" · ".join(parts), MAX_TEXT)


def _rows(incident_id: int, batch: AlertBatch, items: list[tuple[str, AlertItem]], *, opened: bool) -> list[dict[str, Any]]:
    """One timeline row per alert instance and status, keyed so a repeat is recognised by the database."""
    now = utcnow()
    return [{
        "incident_id": incident_id, "at": now, "actor": timeline.BOT_ACTOR,
        "kind": "alert_firing" if item.firing else "alert_resolved",
        "text": _event_text(item, batch.note if opened and item.firing else ""),
        "data": {
            "alert_key": batch.key, "fingerprint": item.fingerprint, "starts_at": item.starts_at.isoformat(),
            "ends_at": item.ends_at.isoformat() if item.ends_at else None, "labels": item.labels,
            "source": batch.source, **({"note": batch.note} if opened and batch.note else {}),
        },
        "source_key": key,
    } for key, item in items]


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """INSERT the rows whose source key is not yet taken (by anyone, even a writer racing this one);
    returns how many firing and resolved rows went in."""
    if not rows:
        return 0, 0
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "sqlite":
        # An executemany of one statement compiled once (SQLAlchemy caches it): compiling a 500-row VALUES list
        # with RETURNING took tens of milliseconds of the event loop per chunk, while the acks waited.
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["source_key"])
        counts = []
        for kind in ("alert_firing", "alert_resolved"):
            some = [row for row in rows if row["kind"] == kind]
            result = await session.exec(statement, params=some) if some else None
            counts.append(int(result.rowcount) if result is not None else 0)
        return counts[0], counts[1]
    returning = (postgresql_insert(table).values(rows).on_conflict_do_nothing(index_elements=["source_key"])
                 .returning(table.c.kind))
    kinds = [row[0] for row in (await session.exec(returning)).all()]
    return kinds.count("alert_firing"), kinds.count("alert_resolved")


def _wanted(incident_id: int, batch: AlertBatch) -> list[tuple[str, AlertItem]]:
    """Each alert instance and status once, by its source key."""
    wanted: dict[str, AlertItem] = {}
    for item in batch.items:
        wanted.setdefault(source_key(incident_id, batch.key, item), item)
    return list(wanted.items())


def _chunks(items: list[tuple[str, AlertItem]]) -> list[list[tuple[str, AlertItem]]]:
    return [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)] or [[]]


async def _ingest_once(sessions: async_sessionmaker[AsyncSession], host: AlertHost, batch: AlertBatch) -> IngestResult:
    """One attempt: find or open the key's incident with the first chunk of alerts, then the rest of them
    in short transactions of CHUNK each, so no ack waits behind thousands of alerts."""
    async with sessions() as session:
        incident = await open_incident(session, batch.key)
        found = Declared.of(incident, created=False) if incident is not None else None
        if found is None:
            if not any(item.firing for item in batch.items):
                await session.rollback()
                return IngestResult(ignored="resolved alert with no open incident for this key")
            request = DeclareRequest(
                title=batch.title,
                playbook=batch.playbook,
                severity=batch.severity,
                declared_by=timeline.BOT_ACTOR,
                summary=batch.summary,
                private=host.playbooks[batch.playbook].private,  # a breach stays private however it was opened
                language=host.language,
                default_holders=host.default_holders(batch.playbook),
                impact_started_at=batch.impact_started_at,
                alert_key=batch.key,
                # The claim: declare writes Delivery(alert-open:<key>, result=INC-n) in its own transaction.
                dedup_key=claim_key(batch.key),
            )
            found = await incidents.declare(session, request, host.workspace(), host.playbooks[batch.playbook])
        # A retry of this request (or any repeat) finds the claim above and lands here: idempotent.
        chunks = _chunks(_wanted(found.id, batch))
        firing, resolved = await _insert_new(session, _rows(found.id, batch, chunks[0], opened=found.created))
        await session.commit()
    for chunk in chunks[1:]:
        await asyncio.sleep(0)  # requests waiting for the connection go first
        await host.writes_waiting()  # and on SQLite, the commands and declarations waiting for its one writer
        async with sessions() as session:
            added = await _insert_new(session, _rows(found.id, batch, chunk, opened=found.created))
            await session.commit()
        firing, resolved = firing + added[0], resolved + added[1]
    suggested = bool(resolved and not batch.firing)
    refired = bool(firing and not found.created)
    if suggested or refired:
        async with sessions() as session:
            if suggested:
                outbox.enqueue(session, found.id, SUGGEST_OP, wave=SUGGEST_WAVE, title=batch.title)
            if refired and await _may_tell_refire(session, found.id):
                outbox.enqueue(session, found.id, REFIRE_OP, wave=SUGGEST_WAVE, title=batch.title, count=firing)
            await session.commit()
    return IngestResult(
        incident_id=found.id, incident_key=found.key, opened=found.created,
        added=firing, resolved=resolved, suggested=suggested,
    )


async def _may_tell_refire(session: AsyncSession, incident_id: int) -> bool:
    """Say that alerts fire again at most once per REFIRE_QUIET, and always after a "resolved" suggestion,
    so the channel's last word is never a stale all-clear."""
    async def latest(kind: str) -> datetime | None:
        found = await session.exec(select(SlackOp.created_at).where(SlackOp.incident_id == incident_id, SlackOp.kind == kind)
                                   .order_by(col(SlackOp.created_at).desc()).limit(1))
        return found.first()

    told, suggested = await latest(REFIRE_OP), await latest(SUGGEST_OP)
    return told is None or utcnow() - told >= REFIRE_QUIET or (suggested is not None and suggested > told)


async def ingest(sessions: async_sessionmaker[AsyncSession], host: AlertHost, batch: AlertBatch) -> IngestResult:
    """Store a batch: one incident per key while it is open, however many processes and requests race."""
    for attempt in range(ATTEMPTS):
        try:
            return await _ingest_once(sessions, host, batch)
        except (DuplicateRequest, IntegrityError) as exc:
            # Another writer claimed the key first (possible on PostgreSQL, where writers overlap):
            # everything of this attempt was rolled back; read again and join its incident.
            log.info("alert %s: lost a race (%s), re-reading (attempt %s)", batch.key, type(exc).__name__, attempt + 1)
    raise RuntimeError(f"alert {batch.key}: could not settle after {ATTEMPTS} attempts")
