"""The outbox: Slack work written in the same transaction as the change that needs it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import utcnow
from bot.models import SlackOp

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
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
            SlackOp.incident_id == incident_id, SlackOp.kind == kind, SlackOp.status == PENDING
        )
    )
    if any(op.args == args for op in result.all()):
        return None
    return enqueue(session, incident_id, kind, wave=wave, **args)


def _open_ops_query(for_workspace: bool) -> Any:
    incident = col(SlackOp.incident_id).is_(None) if for_workspace else SlackOp.incident_id == bindparam("incident_id")
    return (
        select(SlackOp)
        .where(incident, col(SlackOp.status).in_((PENDING, RUNNING)))
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
        .where(col(SlackOp.status).in_((PENDING, RUNNING)))
        .distinct()
    )
    return list(result.all())


async def claim(session: AsyncSession, op_id: int, lease: timedelta = LEASE) -> bool:
    """Take an operation for this process: a conditional update, so two replicas never both run it."""
    now = utcnow()
    result = await session.exec(  # type: ignore[call-overload]
        update(SlackOp)
        .where(
            col(SlackOp.id) == op_id,
            or_(
                col(SlackOp.status) == PENDING,
                (col(SlackOp.status) == RUNNING) & (col(SlackOp.lease_until) < now),
            ),
        )
        .values(status=RUNNING, lease_until=now + lease, attempts=SlackOp.attempts + 1)
    )
    return result.rowcount == 1


async def release(session: AsyncSession, op: SlackOp, error: str) -> None:
    """Give a failed attempt back to the queue, keeping its error for the next try and for people."""
    op.status, op.lease_until, op.error = PENDING, None, error
    session.add(op)


async def fail(session: AsyncSession, op: SlackOp, error: str) -> None:
    """Stop trying: the operation waits for `/incident repair`."""
    op.status, op.lease_until, op.error = FAILED, None, error
    session.add(op)


async def finish(session: AsyncSession, op: SlackOp) -> None:
    """Mark the operation done; called in the transaction that records its result."""
    op.status, op.lease_until, op.done_at, op.error = DONE, None, utcnow(), None
    session.add(op)


async def retry_failed(session: AsyncSession, incident_id: int) -> int:
    """Put the incident's given-up operations back in the queue; returns how many."""
    result = await session.exec(  # type: ignore[call-overload]
        update(SlackOp)
        .where(col(SlackOp.incident_id) == incident_id, col(SlackOp.status) == FAILED)
        .values(status=PENDING, attempts=0, lease_until=None)
    )
    return int(result.rowcount)
