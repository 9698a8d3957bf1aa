"""Declaring (an incident or a drill): written with every declaration arriving at the same moment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import deliveries, incidents
from bot.incidents import Declared, DeclareRequest, DuplicateRequest


async def declare(submit: Callable[[DeclareRequest], Awaitable[Declared]],
                  sessions: async_sessionmaker[AsyncSession], request: DeclareRequest) -> Declared:
    """Anyone may declare. Store the declaration through the group commit (`submit`); a repeat of the same
    request (its dedup key) answers with the first incident, created=False, and creates nothing.

    Unlike the other flows it takes no session: declarations arriving together share one transaction.
    """
    try:
        return await submit(request)
    except DuplicateRequest:
        async with sessions() as session:
            earlier = await deliveries.seen(session, request.dedup_key or "")
            incident = await incidents.by_key(session, earlier.result) if earlier else None
        if incident is None:
            raise
        return Declared.of(incident, created=False)
