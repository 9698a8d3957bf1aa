"""Slash commands stored before their ack and answered after it, so a storm of them is acknowledged at once
and none acknowledged is lost: those stored together share one transaction (see GroupCommit), and whatever a
crash left unanswered is answered at the next start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Table, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.batchwrite import Executor
from bot.db import utcnow
from bot.models import Intake

TABLE: Table = Intake.__table__  # type: ignore[attr-defined]
STORED = "SELECT key FROM intake WHERE key IN :keys"


@dataclass(frozen=True)
class Command:
    """One `/incident …` as Slack sent it; `key` (slash:<trigger_id>) is the same for Slack's retries of it."""

    key: str
    user_id: str
    channel_id: str
    text: str
    response_url: str | None
    trigger_id: str | None

    @classmethod
    def of(cls, row: Intake) -> Command:
        """A stored command as it arrived."""
        return cls(row.key, row.user_id, row.channel_id, row.text, row.response_url, row.trigger_id)


def _firsts(commands: Sequence[Command], stored: set[str]) -> tuple[list[bool], list[Command]]:
    """Which commands are new (not stored before, first of their key in the batch), and those to store."""
    seen = set(stored)
    new: list[bool] = []
    fresh: list[Command] = []
    for command in commands:
        new.append(command.key not in seen)
        if command.key not in seen:
            seen.add(command.key)
            fresh.append(command)
    return new, fresh


def _rows(commands: list[Command], now: datetime) -> list[dict[str, object]]:
    return [{**asdict(command), "received_at": now, "answered_at": None} for command in commands]


async def store_many(executor: Executor, commands: Sequence[Command]) -> list[bool]:
    """Store commands in the executor's transaction (the caller commits); for each, True if it is new (a retry
    of one stored is not)."""
    stored = {key for (key,) in await executor.select(STORED, list({command.key for command in commands}))}
    new, fresh = _firsts(commands, stored)
    if fresh:
        await executor.insert(TABLE, _rows(fresh, utcnow()))
    return new


async def settle(executor: Executor, keys: Sequence[str]) -> None:
    """Mark commands answered in the transaction of the change they asked for (a declaration: the incident row is
    the durable answer, and the declarer is told again when the channel is ready), saving one transaction."""
    if keys:
        await executor.update(TABLE, keys, {"answered_at": utcnow()})


async def unanswered(session: AsyncSession) -> list[Command]:
    """Commands stored but never answered (the process stopped between the ack and the answer), oldest first."""
    rows = await session.exec(select(Intake).where(col(Intake.answered_at).is_(None)).order_by(col(Intake.received_at)))
    return [Command.of(row) for row in rows.all()]


async def answered(session: AsyncSession, keys: Sequence[str]) -> None:
    """Mark commands answered (uncommitted)."""
    await session.exec(
        update(Intake).where(col(Intake.key).in_(keys)).values(answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop answered commands received before `cutoff`; returns how many (uncommitted)."""
    result = await session.exec(
        delete(Intake).where(col(Intake.received_at) < cutoff, col(Intake.answered_at).is_not(None))
    )
    return int(result.rowcount or 0)
