"""The outbox: Slack work written in the same transaction as the change that needs it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import utcnow
from bot.models import SlackOp
from bot.vocabulary import OpStatus

LEASE = timedelta(seconds=30)  # a Slack call times out after 10 s; a crashed claim is free after this


def enqueue(
    session: AsyncSession, incident_id: int | None, kind: str, *, wave: int = 0, **args: Any
) -> SlackOp:
    """Add a Slack operation to the caller's transaction; it runs only once that commits."""
    op = SlackOp(incident_id=incident_id, kind=kind, wave=wave, args=args)
    session.add(op)
    return op


async def enqueue_once(
    session: AsyncSession, incident_id: int | None, kind: str, *, wave: int = 0, **args: Any
) -> SlackOp | None:
    """Enqueue unless the same operation is already waiting (a redraw needs doing once, not per change)."""
    result = await session.exec(
        select(SlackOp).where(
            SlackOp.incident_id == incident_id, SlackOp.kind == kind, SlackOp.status == OpStatus.PENDING
        )
    )
    if any(op.args == args for op in result.all()):
        return None
    return enqueue(session, incident_id, kind, wave=wave, **args)


def _open_ops_query(for_workspace: bool) -> Any:
    incident = col(SlackOp.incident_id).is_(None) if for_workspace else SlackOp.incident_id == bindparam("incident_id")
    return (
        select(SlackOp)
        .where(incident, col(SlackOp.status).in_((OpStatus.PENDING, OpStatus.RUNNING)))
        .order_by(col(SlackOp.wave), col(SlackOp.id))
    )


# Built once: the runner asks this after every wave of every incident, and building the query
# each time cost more than running it during a storm of declarations (seen with py-spy).
_OPEN_OPS = _open_ops_query(False)
_OPEN_WORKSPACE_OPS = _open_ops_query(True)


async def open_ops(session: AsyncSession, incident_id: int | None) -> list[SlackOp]:
    """The incident's operations not yet done or given up, in the order they must run."""
    if incident_id is None:
        result = await session.exec(_OPEN_WORKSPACE_OPS)
    else:
        result = await session.exec(_OPEN_OPS, params={"incident_id": incident_id})
    return list(result.all())


async def incidents_with_open_ops(session: AsyncSession) -> list[int | None]:
    """Incidents whose Slack side is unfinished (to resume after a restart)."""
    result = await session.exec(
        select(SlackOp.incident_id)
        .where(col(SlackOp.status).in_((OpStatus.PENDING, OpStatus.RUNNING)))
        .distinct()
    )
    return list(result.all())


def _claimable(now: datetime) -> Any:
    """Waiting, or held by a process whose lease has lapsed (it died, or lost its turn)."""
    return or_(col(SlackOp.status) == OpStatus.PENDING, (col(SlackOp.status) == OpStatus.RUNNING) & (col(SlackOp.lease_until) < now))


async def claim_many(session: AsyncSession, op_ids: Sequence[int], lease: timedelta = LEASE) -> list[SlackOp]:
    """Take operations for this process in one conditional update, so two replicas never both run one; returns
    those taken as they are now (their attempts counted)."""
    if not op_ids:
        return []
    now = utcnow()
    taken = await session.exec(
        update(SlackOp)
        .where(col(SlackOp.id).in_(op_ids), _claimable(now))
        .values(status=OpStatus.RUNNING, lease_until=now + lease, attempts=SlackOp.attempts + 1)
        .returning(SlackOp)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(taken.scalars(), key=lambda op: op.id or 0)


async def renew(session: AsyncSession, op: SlackOp, lease: timedelta = LEASE) -> bool:
    """Extend this process's claim before running the operation; False if another process took it meanwhile."""
    result = await session.exec(
        update(SlackOp)
        .where(col(SlackOp.id) == op.id, col(SlackOp.status) == OpStatus.RUNNING, col(SlackOp.attempts) == op.attempts)
        .values(lease_until=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def release(session: AsyncSession, op: SlackOp, error: str) -> None:
    """Give a failed attempt back to the queue, keeping its error for the next try and for people."""
    op.status, op.lease_until, op.error = OpStatus.PENDING, None, error
    session.add(op)


async def fail(session: AsyncSession, op: SlackOp, error: str) -> bool:
    """Stop trying: the operation waits for `/incident repair`; False (nothing changed) if this process no longer
    holds the claim it ran under (its lease lapsed and another process took the operation over)."""
    result = await session.exec(
        update(SlackOp)
        .where(col(SlackOp.id) == op.id, col(SlackOp.status) == OpStatus.RUNNING, col(SlackOp.attempts) == op.attempts)
        .values(status=OpStatus.FAILED, lease_until=None, error=error)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def finish(session: AsyncSession, op: SlackOp) -> bool:
    """Mark the operation done, in the transaction that records its result, if this process still holds the claim
    it ran under; False if its lease lapsed and another process took it over (that one records it)."""
    result = await session.exec(
        update(SlackOp)
        .where(col(SlackOp.id) == op.id, col(SlackOp.status) == OpStatus.RUNNING, col(SlackOp.attempts) == op.attempts)
        .values(status=OpStatus.DONE, lease_until=None, done_at=utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def retry_failed(session: AsyncSession, incident_id: int) -> int:
    """Put the incident's given-up operations back in the queue; returns how many."""
    result = await session.exec(
        update(SlackOp)
        .where(col(SlackOp.incident_id) == incident_id, col(SlackOp.status) == OpStatus.FAILED)
        .values(status=OpStatus.PENDING, attempts=0, lease_until=None)
    )
    return int(result.rowcount)
