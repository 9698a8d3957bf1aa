"""Once-only handling of requests that Slack may send twice (retries, double submits, events)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Delivery


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
