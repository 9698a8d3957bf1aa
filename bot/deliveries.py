"""Once-only handling of requests that Slack may send twice (retries, double submits, events)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Delivery

# Slack stops retrying within the hour and refuses a request signed more than five minutes ago, so a week
# of delivery keys stops every repeat. An alert's claim is not a repeat guard: it holds its key's incident open.
KEEP = timedelta(days=7)
ALERT_CLAIM = "alert-open:"


async def seen(session: AsyncSession, key: str) -> Delivery | None:
    """The earlier delivery with this key, if the request was already acted on."""
    return await session.get(Delivery, key)


async def claim(session: AsyncSession, key: str, result: str = "") -> bool:
    """Mark `key` as handled inside the caller's transaction; False if another got there first."""
    try:
        async with session.begin_nested():
            session.add(Delivery(key=key, result=result))
    except IntegrityError:
        return False
    return True


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop the keys of requests handled before `cutoff` (alert claims stay); returns how many (uncommitted)."""
    result = await session.exec(
        delete(Delivery).where(col(Delivery.at) < cutoff, col(Delivery.key).not_like(f"{ALERT_CLAIM}%"))
    )
    return int(result.rowcount or 0)
