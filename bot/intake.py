"""Slash commands stored before their ack and answered after it, so a storm of them is acknowledged at once
and none acknowledged is lost: those stored together share one transaction (see GroupCommit), and whatever a
crash left unanswered is answered at the next start."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Table, delete, update
from sqlalchemy.engine import Dialect
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.bulk import insert_rows, prepare
from bot.db import utcnow
from bot.models import Intake

TABLE: Table = Intake.__table__  # type: ignore[attr-defined]


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


async def store_many(session: AsyncSession, commands: Sequence[Command]) -> list[bool]:
    """Store commands in one transaction and commit; for each, True if it is new (a retry of one stored is not)."""
    keys = list({command.key for command in commands})
    stored = set((await session.exec(select(Intake.key).where(col(Intake.key).in_(keys)))).all())
    new, fresh = _firsts(commands, stored)
    if fresh:
        await insert_rows(await session.connection(), TABLE, _rows(fresh, utcnow()))
    await session.commit()
    return new


def store_many_sqlite(db: sqlite3.Connection, commands: Sequence[Command], dialect: Dialect) -> list[bool]:
    """store_many on SQLite's own connection, as one synchronous call (see bot/loopwrite.py)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        keys = list({command.key for command in commands})
        found = db.execute(f"SELECT key FROM intake WHERE key IN ({', '.join('?' * len(keys))})", keys)
        new, fresh = _firsts(commands, {key for (key,) in found})
        if fresh:
            db.executemany(*prepare(TABLE, _rows(fresh, utcnow()), dialect))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return new


async def unanswered(session: AsyncSession) -> list[Command]:
    """Commands stored but never answered (the process stopped between the ack and the answer), oldest first."""
    rows = await session.exec(select(Intake).where(col(Intake.answered_at).is_(None)).order_by(col(Intake.received_at)))
    return [Command.of(row) for row in rows.all()]


async def answered(session: AsyncSession, keys: Sequence[str]) -> None:
    """Mark commands answered (uncommitted)."""
    await session.exec(  # type: ignore[call-overload]
        update(Intake).where(col(Intake.key).in_(keys)).values(answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop answered commands received before `cutoff`; returns how many (uncommitted)."""
    result = await session.exec(  # type: ignore[call-overload]
        delete(Intake).where(col(Intake.received_at) < cutoff, col(Intake.answered_at).is_not(None))
    )
    return int(result.rowcount or 0)
